import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, hashAddress } from '../../src/util/canonical.js';
import { generateSigningKey, signingKeyFromJwk } from '../../src/keys/ed25519.js';
import { parseWpcJson, wpcDocument, wpcDocumentFromBytes } from '../../src/wpc/document.js';
import { WpcSchema } from '../../src/wpc/schema.js';
import { addressHex, LocalRegistryBackend, WpcRegistry } from '../../src/wpc/registry.js';
import { signWpcHash, verifyWpcSignature } from '../../src/wpc/signature.js';
import { makeEnv, type CoreEnv } from './helpers/env.js';
import { SEED_WPC_FILE, SEED_WPC_TEXT, seedWpc, seedWpcText } from './helpers/seed.js';

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The same JSON value with every object's keys in reverse order. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)]));
}

let env: CoreEnv;
beforeAll(async () => {
  env = await makeEnv();
});
afterAll(() => env.cleanup());

describe('RFC 8785 canonical form', () => {
  it('reproduces the example of RFC 8785 section 3.2.3', () => {
    const input = String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`;
    expect(canonicalJson(JSON.parse(input))).toBe(
      String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
    );
  });
});

describe('WPC v1 schema', () => {
  it('accepts the seed example exactly as written, keeping what was written as the signed source', () => {
    const value = parseWpcJson(seedWpcText());
    const document = wpcDocument(value);
    expect(document.source).toEqual(value);
    expect(document.policy.allow.operations).toEqual(['issue.search', 'issue.get', 'issue.create', 'issue.comment.create']);
    expect(document.policy.deny.fields_write_denylist).toEqual(['security', 'assignee', 'reporter', 'duedate']);
    expect(document.policy.runtime).toEqual({ require_cst: true, cst_policy_hash_pin: true, max_ttl_seconds: 1800 });
    // Defaults fill the policy, never the signed bytes.
    expect(document.policy.deny.projects).toEqual([]);
    expect(new TextDecoder().decode(document.bytes)).not.toContain('"fields_read"');
  });

  it('ships the seed example unchanged, and every shipped example is a valid WPC', () => {
    const dir = resolve(process.cwd(), 'wpc-examples');
    if (existsSync(SEED_WPC_FILE)) expect(JSON.parse(readFileSync(SEED_WPC_FILE, 'utf8'))).toEqual(JSON.parse(SEED_WPC_TEXT));
    const examples = existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.json')) : [];
    for (const name of examples) {
      expect(() => wpcDocument(parseWpcJson(readFileSync(join(dir, name), 'utf8'))), name).not.toThrow();
    }
  });

  it('addresses the WPC by sha256 of its RFC 8785 bytes, whatever the key order or spacing of the input', () => {
    const document = wpcDocument(seedWpc());
    const canonical = canonicalJson(seedWpc());
    expect(new TextDecoder().decode(document.bytes)).toBe(canonical);
    expect(document.hash).toBe(`sha256:${createHash('sha256').update(canonical).digest('hex')}`);
    expect(document.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    const reordered = JSON.parse(JSON.stringify(reverseKeys(seedWpc()), null, 2)) as unknown;
    expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(seedWpc()));
    expect(wpcDocument(reordered).hash).toBe(document.hash);
    // A list order change is a different policy text, hence a different address.
    const swapped = seedWpc();
    swapped.allow = { ...swapped.allow, projects: ['SEC', 'ENG'] };
    expect(wpcDocument(swapped).hash).not.toBe(document.hash);
  });

  const typos: Array<[string, (wpc: Record<string, unknown>) => void, string]> = [
    ['top level', (w) => (w.alow = {}), '$'],
    ['allow', (w) => ((w.allow as Record<string, unknown>).fields_write_alowlist = ['summary']), '$.allow'],
    ['deny', (w) => ((w.deny as Record<string, unknown>).field_write_denylist = ['security']), '$.deny'],
    ['runtime', (w) => ((w.runtime as Record<string, unknown>).max_ttl = 60), '$.runtime'],
    ['approval', (w) => (w.approval = { operations: ['issue.delete'], ttl: 60 }), '$.approval'],
    ['budgets', (w) => (w.budgets = { max_create: 1 }), '$.budgets'],
    ['review', (w) => (w.review = { max_denial: 1 }), '$.review'],
  ];
  it.each(typos)('rejects an unknown key in %s, naming where', (_name, mutate, path) => {
    const wpc = seedWpc() as unknown as Record<string, unknown>;
    mutate(wpc);
    let error: unknown;
    try {
      wpcDocument(wpc);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'WPC_INVALID' });
    const problems = (error as { details: { problems: Array<{ path: string; message: string }> } }).details.problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe(path);
    expect(problems[0]?.message).toMatch(/Unrecognized key/);
  });

  it('rejects unknown operations, bad project keys, wrong versions and wrong types', () => {
    const cases: unknown[] = [
      { ...seedWpc(), wpc_version: 'v2' },
      { ...seedWpc(), tool: 'confluence' },
      { ...seedWpc(), allow: { operations: ['issue.destroy'] } },
      { ...seedWpc(), allow: { projects: ['eng'] } },
      { ...seedWpc(), allow: { fields_write_allowlist: ['two words'] } },
      { ...seedWpc(), runtime: { max_ttl_seconds: 0 } },
      { ...seedWpc(), runtime: { require_cst: 'yes' } },
      { ...seedWpc(), connection_mode: ['browser'] },
      [seedWpc()],
      null,
    ];
    for (const value of cases) expect(() => wpcDocument(value)).toThrow(expect.objectContaining({ code: 'WPC_INVALID' }));
    expect(() => parseWpcJson('{"wpc_version":')).toThrow(expect.objectContaining({ code: 'WPC_INVALID' }));
  });

  it('fills the safe defaults for a minimal policy: nothing allowed, CST required and pinned', () => {
    const policy = WpcSchema.parse({ wpc_version: 'v1', tool: 'jira' });
    expect(policy.allow).toEqual({ projects: [], operations: [], fields_write_allowlist: [] });
    expect(policy.runtime).toEqual({ require_cst: true, cst_policy_hash_pin: true, max_ttl_seconds: 900 });
  });
});

describe('stored WPC bytes', () => {
  it('must hash to the address and be canonical', () => {
    const document = wpcDocument(seedWpc());
    expect(wpcDocumentFromBytes(document.bytes, document.hash).hash).toBe(document.hash);
    const pretty = new TextEncoder().encode(JSON.stringify(seedWpc(), null, 2));
    expect(() => wpcDocumentFromBytes(pretty, document.hash)).toThrow(expect.objectContaining({ code: 'WPC_HASH_MISMATCH' }));
    expect(() => wpcDocumentFromBytes(pretty, hashAddress(pretty))).toThrow(expect.objectContaining({ code: 'WPC_NOT_CANONICAL' }));
    const invalidUtf8 = new Uint8Array([...document.bytes.slice(0, -1), 0xff]);
    expect(() => wpcDocumentFromBytes(invalidUtf8, hashAddress(invalidUtf8))).toThrow();
  });
});

describe('WPC signature', () => {
  it('binds the hash and the policy key id', async () => {
    const signature = await signWpcHash(env.seed.hash, env.keys.policy);
    const payload = await verifyWpcSignature(signature, env.seed.hash, env.trust);
    expect(payload).toMatchObject({ wpc_hash: env.seed.hash, kid: env.keys.policy.kid });
    const other = wpcDocument({ ...seedWpc(), description: 'another policy' });
    await expect(verifyWpcSignature(signature, other.hash, env.trust)).rejects.toMatchObject({ code: 'WPC_SIGNATURE_INVALID' });
  });

  it('refuses a signature by a key trusted for another role, or by an unknown key', async () => {
    for (const role of ['receipt', 'issuer', 'approver'] as const) {
      const signature = await signWpcHash(env.seed.hash, env.keys[role]);
      await expect(verifyWpcSignature(signature, env.seed.hash, env.trust)).rejects.toMatchObject({ code: 'WPC_UNTRUSTED_SIGNER' });
    }
    const stranger = await signingKeyFromJwk((await generateSigningKey()).privateJwk);
    await expect(verifyWpcSignature(await signWpcHash(env.seed.hash, stranger), env.seed.hash, env.trust)).rejects.toMatchObject({
      code: 'WPC_UNTRUSTED_SIGNER',
    });
    // The policy key's id on a signature made by another key.
    const impostor = { ...env.keys.receipt, kid: env.keys.policy.kid };
    await expect(verifyWpcSignature(await signWpcHash(env.seed.hash, impostor), env.seed.hash, env.trust)).rejects.toMatchObject({
      code: 'WPC_SIGNATURE_INVALID',
    });
  });

  it('refuses every single-character change anywhere in the compact JWS (header, payload, signature)', async () => {
    const signature = await signWpcHash(env.seed.hash, env.keys.policy);
    const [header = '', payload = ''] = signature.split('.');
    const classes = new Set<string>();
    let tried = 0;
    for (let i = 0; i < signature.length; i++) {
      const original = signature[i];
      // Every other base64url character and the separators: this includes the changes that only touch the unused
      // low bits of a final base64url character, which lenient decoders map to the same bytes.
      for (const c of `${B64URL}.=`) {
        if (c === original) continue;
        const tampered = signature.slice(0, i) + c + signature.slice(i + 1);
        tried++;
        const error = await verifyWpcSignature(tampered, env.seed.hash, env.trust).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, `position ${i}: ${original} -> ${c}`).toMatchObject({
          code: expect.stringMatching(/^WPC_(SIGNATURE_INVALID|UNTRUSTED_SIGNER)$/),
        });
        classes.add(i < header.length ? 'header' : i <= header.length + payload.length ? 'payload' : 'signature');
      }
    }
    expect([...classes].sort()).toEqual(['header', 'payload', 'signature']);
    expect(tried).toBeGreaterThan(signature.length * 60);
  });
});

describe('WPC registry (local folder)', () => {
  const bodyFile = (hash: string) => join(env.home.registryDir, `${addressHex(hash)}.json`);
  const sigFile = (hash: string) => join(env.home.registryDir, `${addressHex(hash)}.sig`);

  it('returns a verified WPC with its signer, and stores it as canonical bytes under its address', async () => {
    const verified = await new WpcRegistry(env.backend, env.trust).get(env.seed.hash);
    expect(verified.signer.kid).toBe(env.keys.policy.kid);
    expect(verified.policy.allow.projects).toEqual(['ENG', 'SEC']);
    expect(readFileSync(bodyFile(env.seed.hash), 'utf8')).toBe(canonicalJson(seedWpc()));
  });

  it('refuses a stored WPC with any one byte of its body changed', async () => {
    const policy = await env.publish({ ...seedWpc(), description: 'body tamper' });
    const original = readFileSync(bodyFile(policy.hash));
    try {
      for (let i = 0; i < original.length; i++) {
        const tampered = Buffer.from(original);
        tampered[i] = (tampered[i] ?? 0) ^ 0x01;
        writeFileSync(bodyFile(policy.hash), tampered);
        await expect(new WpcRegistry(env.backend, env.trust).get(policy.hash), `byte ${i}`).rejects.toMatchObject({
          code: 'WPC_HASH_MISMATCH',
        });
      }
      // Appending or truncating changes the bytes too.
      writeFileSync(bodyFile(policy.hash), Buffer.concat([original, Buffer.from('\n')]));
      await expect(new WpcRegistry(env.backend, env.trust).get(policy.hash)).rejects.toMatchObject({ code: 'WPC_HASH_MISMATCH' });
    } finally {
      writeFileSync(bodyFile(policy.hash), original);
    }
    await expect(new WpcRegistry(env.backend, env.trust).get(policy.hash)).resolves.toMatchObject({ hash: policy.hash });
  });

  it('refuses a stored WPC whose signature file has one character changed in its header, payload or signature', async () => {
    const policy = await env.publish({ ...seedWpc(), description: 'signature tamper' });
    const original = readFileSync(sigFile(policy.hash), 'utf8');
    const jws = original.trim();
    const [header = '', payload = ''] = jws.split('.');
    const positions = [0, Math.floor(header.length / 2), header.length - 1, header.length + 1, header.length + 1 + Math.floor(payload.length / 2),
      header.length + payload.length, header.length + payload.length + 2, jws.length - 2, jws.length - 1];
    try {
      for (const i of positions) {
        const c = jws[i] === 'A' ? 'B' : 'A';
        writeFileSync(sigFile(policy.hash), `${jws.slice(0, i)}${c}${jws.slice(i + 1)}\n`);
        await expect(new WpcRegistry(env.backend, env.trust).get(policy.hash), `position ${i}`).rejects.toMatchObject({
          code: expect.stringMatching(/^WPC_(SIGNATURE_INVALID|UNTRUSTED_SIGNER)$/),
        });
      }
    } finally {
      writeFileSync(sigFile(policy.hash), original);
    }
    await expect(new WpcRegistry(env.backend, env.trust).get(policy.hash)).resolves.toMatchObject({ hash: policy.hash });
  });

  it('refuses a WPC signed with the receipt key, a swapped signature, a missing signature, and a missing WPC', async () => {
    const byReceiptKey = await env.publish({ ...seedWpc(), description: 'signed by the receipt key' }, env.keys.receipt).catch((e: unknown) => e);
    expect(byReceiptKey).toMatchObject({ code: 'WPC_UNTRUSTED_SIGNER' });

    const a = await env.publish({ ...seedWpc(), description: 'a' });
    const b = await env.publish({ ...seedWpc(), description: 'b' });
    writeFileSync(sigFile(a.hash), readFileSync(sigFile(b.hash)));
    await expect(new WpcRegistry(env.backend, env.trust).get(a.hash)).rejects.toMatchObject({ code: 'WPC_SIGNATURE_INVALID' });
    rmSync(sigFile(a.hash));
    await expect(new WpcRegistry(env.backend, env.trust).get(a.hash)).rejects.toMatchObject({ code: 'WPC_SIGNATURE_INVALID' });

    await expect(env.registry.get(`sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ code: 'WPC_NOT_FOUND' });
    await expect(env.registry.get('sha256:../../etc/passwd')).rejects.toMatchObject({ code: 'WPC_NOT_FOUND' });
    await expect(env.registry.get(a.hash.toUpperCase())).rejects.toMatchObject({ code: 'WPC_NOT_FOUND' });
  });

  it('refuses canonical, correctly addressed and signed bytes that are not a valid WPC', async () => {
    const bogus = { ...seedWpc(), allow: { ...seedWpc().allow, fields_write_alowlist: ['security'] } };
    const bytes = new TextEncoder().encode(canonicalJson(bogus));
    const hash = hashAddress(bytes);
    writeFileSync(bodyFile(hash), bytes);
    writeFileSync(sigFile(hash), await signWpcHash(hash, env.keys.policy));
    await expect(new WpcRegistry(env.backend, env.trust).get(hash)).rejects.toMatchObject({ code: 'WPC_INVALID' });
  });

  it('caches what verified: later changes on disk do not reach a registry that already verified the WPC', async () => {
    const policy = await env.publish({ ...seedWpc(), description: 'cache' });
    const registry = new WpcRegistry(new LocalRegistryBackend(env.home.registryDir), env.trust);
    const first = await registry.get(policy.hash);
    rmSync(bodyFile(policy.hash));
    expect(await registry.get(policy.hash)).toBe(first);
    await expect(new WpcRegistry(env.backend, env.trust).get(policy.hash)).rejects.toMatchObject({ code: 'WPC_NOT_FOUND' });
  });
});
