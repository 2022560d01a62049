import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactSign } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importGatewayReceipts, parseGatewayKeys, sealBundle, verifyBundle, type GatewayKeys } from '../../src/bundle/index.js';
import { bundleImportGatewayCommand } from '../../src/cli/bundle.js';
import { buildBundle, copyBundle, makeEnv, type BuiltBundle, type Env } from './fixture.js';
import { captureIo } from '../helpers/cli.js';

interface GatewayKey {
  kid: string;
  privateKey: KeyObject;
  jwks: { keys: unknown[] };
}

function gatewayKey(kid: string): GatewayKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  return { kid, privateKey, jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, use: 'sig', alg: 'EdDSA' }, { kty: 'RSA', n: 'AQAB', e: 'AQAB', kid: 'other' }] } };
}

/** A model-call receipt as clawproxy describes one (hash-only), carried as a compact JWS. */
async function receipt(key: GatewayKey, i: number): Promise<string> {
  const payload = {
    version: '1.0',
    provider: 'anthropic',
    model: 'claude-sonnet-4',
    requestHash: `sha256:${String(i).padStart(64, '0')}`,
    responseHash: `sha256:${String(i + 1).padStart(64, '0')}`,
    timestamp: `2025-03-01T10:0${i}:30.000Z`,
    latencyMs: 812,
    binding: { runId: 'job-gw', policyHash: 'sha256:abc' },
  };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
}

let env: Env;
let built: BuiltBundle;
let gw: GatewayKey;
let keys: GatewayKeys;
let source: string;

beforeAll(async () => {
  env = await makeEnv();
  built = await buildBundle(env, 'job-gw');
  gw = gatewayKey('gw-2025-q1');
  keys = await parseGatewayKeys(gw.jwks);
  source = join(env.root, 'model-calls.jsonl');
  writeFileSync(source, `${(await Promise.all([1, 2, 3].map((i) => receipt(gw, i)))).join('\n')}\n`);
  writeFileSync(join(env.root, 'gw.jwks.json'), JSON.stringify(gw.jwks));
});
afterAll(() => env.cleanup());

describe('bundle import-gateway', () => {
  it('refuses a line with a bad signature, naming it, and imports nothing', async () => {
    const bad = join(env.root, 'bad.jsonl');
    const lines = readFileSync(source, 'utf8').split('\n');
    const [h, p, s] = (lines[1] as string).split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    lines[1] = [h, Buffer.from(JSON.stringify({ ...payload, model: 'gpt-cheap' })).toString('base64url'), s].join('.');
    writeFileSync(bad, lines.join('\n'));
    expect(() => importGatewayReceipts(built.dir, bad, { keys })).toThrow(/bad\.jsonl:2: GATEWAY_BAD_SIGNATURE/);
    expect(existsSync(join(built.dir, 'gateway', 'bad.jsonl'))).toBe(false);

    const io = captureIo({ CLAW_HOME: env.home.root }, env.root);
    expect(await bundleImportGatewayCommand.run([built.dir, bad, '--trust', join(env.root, 'gw.jwks.json')], io)).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/^claw-jira bundle import-gateway: GATEWAY_INVALID: bad\.jsonl:2: GATEWAY_BAD_SIGNATURE/);
  });

  it('refuses receipts signed by a key not in the JWKS', async () => {
    const stranger = gatewayKey('gw-2025-q1');
    const file = join(env.root, 'stranger.jsonl');
    writeFileSync(file, `${await receipt(gw, 1)}\n${await receipt({ ...stranger, kid: 'gw-rogue' }, 2)}\n`);
    expect(() => importGatewayReceipts(built.dir, file, { keys })).toThrow(/stranger\.jsonl:2: GATEWAY_UNKNOWN_KEY/);
    // Same kid, other key: the signature fails.
    writeFileSync(file, `${await receipt(stranger, 1)}\n`);
    expect(() => importGatewayReceipts(built.dir, file, { keys })).toThrow(/stranger\.jsonl:1: GATEWAY_BAD_SIGNATURE/);
  });

  it('imports good receipts, seals them in, and verify covers them', async () => {
    const io = captureIo({ CLAW_HOME: env.home.root }, env.root);
    expect(await bundleImportGatewayCommand.run([built.dir, source, '--trust', join(env.root, 'gw.jwks.json'), '--name', 'clawproxy'], io)).toBe(0);
    expect(io.text()).toBe('imported 3 gateway receipt(s) into gateway/clawproxy.jsonl (keys: gateway/clawproxy.jwks.json)');
    expect(readFileSync(join(built.dir, 'gateway', 'clawproxy.jsonl'), 'utf8')).toBe(readFileSync(source, 'utf8'));
    const sealed = await sealBundle(built.dir, { key: env.keys.receipt });
    expect(sealed.manifest.gateway).toEqual([expect.objectContaining({ path: 'gateway/clawproxy.jsonl', count: 3, kids: ['gw-2025-q1'] })]);
    expect(sealed.manifest.keys.gateway).toEqual(['gw-2025-q1']);

    // The JWKS copied into the bundle is informative only: without the auditor's own gateway keys, no verdict.
    const selfChecked = await verifyBundle(built.dir, { trust: env.trust });
    expect(selfChecked.ok).toBe(false);
    expect(selfChecked.problems).toEqual([expect.objectContaining({ step: 'gateway', code: 'GATEWAY_TRUST_MISSING', file: 'gateway/clawproxy.jsonl' })]);
    const independent = await verifyBundle(built.dir, { trust: env.trust, gatewayTrust: keys });
    expect(independent.ok).toBe(true);
    expect(independent.warnings.some((w) => w.includes('--gateway-trust'))).toBe(false);

    expect(() => importGatewayReceipts(built.dir, source, { keys, name: 'again' })).toThrow(expect.objectContaining({ code: 'BUNDLE_ALREADY_SEALED' }));
  });

  it('verify names a gateway receipt changed after sealing, and one the auditor does not trust', async () => {
    const dir = copyBundle(env, built.dir, 'gw-tampered');
    const file = join(dir, 'gateway', 'clawproxy.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    // One character in the middle of the signature, replaced by a different one.
    const line = lines[2] as string;
    const at = line.length - 20;
    lines[2] = `${line.slice(0, at)}${line[at] === 'A' ? 'B' : 'A'}${line.slice(at + 1)}`;
    writeFileSync(file, lines.join('\n'));
    const result = await verifyBundle(dir, { trust: env.trust, gatewayTrust: keys });
    expect(result.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ step: 'gateway', code: 'GATEWAY_CHANGED', file: 'gateway/clawproxy.jsonl' }),
        expect.objectContaining({ step: 'gateway', code: 'GATEWAY_BAD_SIGNATURE', file: 'gateway/clawproxy.jsonl', line: 3 }),
      ]),
    );
    const otherGateway = await parseGatewayKeys(gatewayKey('gw-other').jwks);
    const untrusted = await verifyBundle(built.dir, { trust: env.trust, gatewayTrust: otherGateway });
    expect(untrusted.problems.filter((p) => p.code === 'GATEWAY_UNKNOWN_KEY').map((p) => p.line)).toEqual([1, 2, 3]);
  });

  it('verify names gateway receipts removed, added or re-keyed after sealing', async () => {
    const named = async (dir: string) => (await verifyBundle(dir, { trust: env.trust, gatewayTrust: keys })).problems.map((p) => `${p.step}:${p.code}:${p.file}`);
    const removed = copyBundle(env, built.dir, 'gw-removed');
    rmSync(join(removed, 'gateway', 'clawproxy.jsonl'));
    expect(await named(removed)).toContain('gateway:GATEWAY_MISSING:gateway/clawproxy.jsonl');
    const added = copyBundle(env, built.dir, 'gw-added');
    copyFileSync(join(added, 'gateway', 'clawproxy.jsonl'), join(added, 'gateway', 'extra.jsonl'));
    copyFileSync(join(added, 'gateway', 'clawproxy.jwks.json'), join(added, 'gateway', 'extra.jwks.json'));
    expect(await named(added)).toContain('gateway:GATEWAY_ADDED:gateway/extra.jsonl');
    const rekeyed = copyBundle(env, built.dir, 'gw-rekeyed');
    writeFileSync(join(rekeyed, 'gateway', 'clawproxy.jwks.json'), JSON.stringify(gatewayKey('gw-swapped').jwks));
    expect(await named(rekeyed)).toEqual(['gateway:GATEWAY_KEYS_CHANGED:gateway/clawproxy.jwks.json']);
  });
});
