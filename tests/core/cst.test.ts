import { createHmac, sign as nodeSign } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashAddress, hashOfJson } from '../../src/util/canonical.js';
import { generateSigningKey, signingKeyFromJwk, type SigningKey } from '../../src/keys/ed25519.js';
import type { CstClaims } from '../../src/cst/claims.js';
import { CST_ERROR_CODES, type CstErrorCode } from '../../src/cst/errors.js';
import { issueCst, wpcScope } from '../../src/cst/issue.js';
import { ReplayStore } from '../../src/cst/replay-store.js';
import { FileRevocationSource, revokeInFile, signRevocationList } from '../../src/cst/revocation.js';
import { CstVerifier, type CstVerifierOptions } from '../../src/cst/verify.js';
import type { VerifiedWpc } from '../../src/wpc/registry.js';
import { makeEnv, type CoreEnv } from './helpers/env.js';
import { seedWpc } from './helpers/seed.js';

const JOB = 'job-2031-ENG-42';
/** A fixed clock: every boundary below is exact to the second. */
const T0 = new Date('2031-03-01T12:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

let env: CoreEnv;
let seed: VerifiedWpc;
let otherWpc: VerifiedWpc;
let unpinned: VerifiedWpc;
let stranger: SigningKey;

beforeAll(async () => {
  env = await makeEnv();
  seed = env.seed;
  otherWpc = await env.publish({ ...seedWpc(), description: 'another policy with the same rules' });
  unpinned = await env.publish({ ...seedWpc(), runtime: { require_cst: true, cst_policy_hash_pin: false, max_ttl_seconds: 1800 } });
  stranger = await signingKeyFromJwk((await generateSigningKey()).privateJwk);
});
afterAll(() => env.cleanup());

/** Codes this file has seen a real token refused with; the last test checks every code was reached. */
const seen = new Set<string>();

function freshDir(): string {
  return mkdtempSync(join(env.root, 'state-'));
}

interface VerifierSetup extends Partial<CstVerifierOptions> {
  dir?: string;
}
function makeVerifier(setup: VerifierSetup = {}): { verifier: CstVerifier; replayDir: string; revocationFile: string } {
  const dir = setup.dir ?? freshDir();
  const replayDir = join(dir, 'jti');
  const revocationFile = join(dir, 'revocations.jws');
  const verifier = new CstVerifier({
    trust: env.trust,
    job: JOB,
    replay: new ReplayStore(replayDir),
    revocation: new FileRevocationSource(revocationFile, env.trust),
    now: () => T0,
    ...setup,
  });
  return { verifier, replayDir, revocationFile };
}

async function issue(options: Partial<Parameters<typeof issueCst>[1]> = {}) {
  return issueCst(env.keys.issuer, { wpc: seed, job: JOB, subject: 'agent-7', now: T0, ...options });
}

/** Sign arbitrary claims and header with any key, bypassing every check issueCst makes. */
async function signRaw(claims: Record<string, unknown>, key: SigningKey = env.keys.issuer, header: Record<string, unknown> = {}) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'cst+jwt', kid: key.kid, ...header }).sign(key.privateKey);
}

/** A valid token's claims, edited. */
async function edited(edit: (claims: CstClaims) => Record<string, unknown>, key?: SigningKey, header?: Record<string, unknown>) {
  const { claims } = await issue();
  return signRaw(edit({ ...claims }), key, header);
}

const b64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a refusal').toBeDefined();
  const { code, message } = error as { code: string; message: string };
  return { code, message };
}

async function expectRefused(token: string, code: CstErrorCode, setup: VerifierSetup = {}, wpc: VerifiedWpc = seed) {
  const { verifier } = makeVerifier(setup);
  const error = await refusal(verifier.verify(token, wpc));
  expect(error.code).toBe(code);
  // The token is a bearer secret: it never appears in a refusal.
  if (token.length > 20) expect(error.message).not.toContain(token);
  seen.add(code);
}

describe('CST issue and verify', () => {
  it('accepts a token issued for the WPC in force, returning its claims and hash but never the token', async () => {
    const { token, claims } = await issue();
    const { verifier } = makeVerifier();
    const verified = await verifier.verify(token, seed);
    expect(verified.claims).toEqual(claims);
    expect(verified.tokenHash).toBe(hashAddress(token));
    expect(verified.kid).toBe(env.keys.issuer.kid);
    expect(claims.scope).toEqual(wpcScope(seed));
    expect(claims.scope_hash).toBe(hashOfJson(claims.scope));
    expect(claims.exp - claims.iat).toBe(1800);
    expect(JSON.stringify(verified)).not.toContain(token);
  });

  it('issueCst refuses what every verifier would refuse', async () => {
    await expect(issue({ ttlSeconds: 1801 })).rejects.toMatchObject({ code: 'CST_TTL_EXCEEDS_WPC' });
    await expect(issue({ ttlSeconds: 0 })).rejects.toMatchObject({ code: 'CST_TTL_INVALID' });
    await expect(issue({ scope: { operations: ['issue.delete'], projects: ['ENG'] } })).rejects.toMatchObject({
      code: 'CST_SCOPE_EXCEEDS_WPC',
    });
    await expect(issue({ scope: { operations: ['issue.get'], projects: ['OPS'] } })).rejects.toMatchObject({
      code: 'CST_SCOPE_EXCEEDS_WPC',
    });
    await expect(issue({ scope: { operations: ['issue.create'], projects: ['ENG'], fields_write: ['assignee'] } })).rejects.toMatchObject({
      code: 'CST_SCOPE_EXCEEDS_WPC',
    });
  });

  it('CST_MISSING: no token', async () => {
    await expectRefused('', 'CST_MISSING');
    await expectRefused('   ', 'CST_MISSING');
  });

  describe('CST_MALFORMED', () => {
    it('garbage, two parts, four parts', async () => {
      await expectRefused('not a token at all', 'CST_MALFORMED');
      const { token } = await issue();
      const [h, p] = token.split('.');
      await expectRefused(`${h}.${p}`, 'CST_MALFORMED');
      await expectRefused(`${token}.${h}`, 'CST_MALFORMED');
      await expectRefused(`${h}.${p}.!!`, 'CST_MALFORMED');
    });

    it('a signed payload that is not JSON, or not an object', async () => {
      const header = b64(JSON.stringify({ alg: 'EdDSA', typ: 'cst+jwt', kid: env.keys.issuer.kid }));
      for (const payloadText of ['not json {', '[1,2,3]', '"a string"', '\u00ff\u00fe']) {
        const payload = b64(payloadText === '\u00ff\u00fe' ? new Uint8Array([0xff, 0xfe]) : payloadText);
        const signature = b64(nodeSign(null, Buffer.from(`${header}.${payload}`), env.keys.issuer.privateKey));
        await expectRefused(`${header}.${payload}.${signature}`, 'CST_MALFORMED');
      }
    });

    it('an unknown extra claim, a missing claim, a wrongly typed claim, exp before nbf', async () => {
      await expectRefused(await edited((c) => ({ ...c, admin: true })), 'CST_MALFORMED');
      await expectRefused(await edited(({ jti: _jti, ...c }) => c), 'CST_MALFORMED');
      await expectRefused(await edited((c) => ({ ...c, exp: String(c.exp) })), 'CST_MALFORMED');
      await expectRefused(await edited((c) => ({ ...c, scope: { ...c.scope, everything: true } })), 'CST_MALFORMED');
      await expectRefused(await edited((c) => ({ ...c, exp: c.nbf })), 'CST_MALFORMED');
    });

    it('a wrong or missing typ, a missing kid', async () => {
      await expectRefused(await edited((c) => c, undefined, { typ: 'JWT' }), 'CST_MALFORMED');
      await expectRefused(await edited((c) => c, undefined, { typ: 'at+jwt' }), 'CST_MALFORMED');
      const { claims } = await issue();
      const noTyp = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: env.keys.issuer.kid }).sign(env.keys.issuer.privateKey);
      await expectRefused(noTyp, 'CST_MALFORMED');
      const noKid = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'cst+jwt' }).sign(env.keys.issuer.privateKey);
      await expectRefused(noKid, 'CST_MALFORMED');
    });

    it('a signature spelled with non-canonical base64url (same bytes, different token)', async () => {
      const { token } = await issue();
      const last = token[token.length - 1] as string;
      // The last character of an Ed25519 signature carries 2 bits; flipping a low bit keeps the decoded bytes.
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const sibling = alphabet[alphabet.indexOf(last) ^ 1] as string;
      const variant = `${token.slice(0, -1)}${sibling}`;
      expect(Buffer.from(variant.split('.')[2] as string, 'base64url')).toEqual(Buffer.from(token.split('.')[2] as string, 'base64url'));
      await expectRefused(variant, 'CST_MALFORMED');
    });
  });

  describe('CST_BAD_SIGNATURE', () => {
    it('a key that is not trusted, or trusted only for another role', async () => {
      await expectRefused(await edited((c) => c, stranger), 'CST_BAD_SIGNATURE');
      await expectRefused(await edited((c) => c, env.keys.policy), 'CST_BAD_SIGNATURE');
      await expectRefused(await edited((c) => c, env.keys.receipt), 'CST_BAD_SIGNATURE');
      // The issuer's kid on a token signed by another key.
      await expectRefused(await edited((c) => c, { ...stranger, kid: env.keys.issuer.kid }), 'CST_BAD_SIGNATURE');
    });

    it('a payload changed after signing', async () => {
      const { token, claims } = await issue();
      const [h, , s] = token.split('.');
      const widened = b64(JSON.stringify({ ...claims, job: 'another-job' }));
      await expectRefused(`${h}.${widened}.${s}`, 'CST_BAD_SIGNATURE');
      const mid = Math.floor((s as string).length / 2);
      const flipped = `${(s as string).slice(0, mid)}${(s as string)[mid] === 'A' ? 'B' : 'A'}${(s as string).slice(mid + 1)}`;
      await expectRefused(`${h}.${token.split('.')[1]}.${flipped}`, 'CST_BAD_SIGNATURE');
    });

    it('alg none', async () => {
      const { claims } = await issue();
      for (const alg of ['none', 'None', 'NONE']) {
        const header = b64(JSON.stringify({ alg, typ: 'cst+jwt', kid: env.keys.issuer.kid }));
        await expectRefused(`${header}.${b64(JSON.stringify(claims))}.`, 'CST_BAD_SIGNATURE');
      }
    });

    it('HS256 with the public key as the HMAC secret', async () => {
      const { claims } = await issue();
      const publicKey = env.trust.get(env.keys.issuer.kid, 'issuer')?.publicKey;
      if (!publicKey) throw new Error('issuer key not trusted');
      const secrets = [
        Buffer.from(env.keys.issuer.publicJwk.x, 'base64url'),
        Buffer.from(publicKey.export({ format: 'pem', type: 'spki' })),
        Buffer.from(JSON.stringify(env.keys.issuer.publicJwk)),
      ];
      for (const secret of secrets) {
        const viaJose = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', typ: 'cst+jwt', kid: env.keys.issuer.kid })
          .sign(new Uint8Array(secret));
        await expectRefused(viaJose, 'CST_BAD_SIGNATURE');
        const header = b64(JSON.stringify({ alg: 'HS256', typ: 'cst+jwt', kid: env.keys.issuer.kid }));
        const payload = b64(JSON.stringify(claims));
        const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
        await expectRefused(`${header}.${payload}.${mac}`, 'CST_BAD_SIGNATURE');
      }
    });

    it('a token naming its own key: embedded jwk, jku, x5u, x5c', async () => {
      const own = { ...stranger.publicJwk };
      // Signed by the attacker's key, which the header offers as the key to verify with.
      await expectRefused(await edited((c) => c, { ...stranger, kid: env.keys.issuer.kid }, { jwk: own }), 'CST_BAD_SIGNATURE');
      // Even signed by the real issuer, a token carrying such members is refused.
      await expectRefused(await edited((c) => c, env.keys.issuer, { jwk: env.keys.issuer.publicJwk }), 'CST_BAD_SIGNATURE');
      await expectRefused(await edited((c) => c, env.keys.issuer, { jku: 'https://attacker.example/jwks.json' }), 'CST_BAD_SIGNATURE');
      await expectRefused(await edited((c) => c, env.keys.issuer, { x5u: 'https://attacker.example/cert.pem' }), 'CST_BAD_SIGNATURE');
      await expectRefused(await edited((c) => c, env.keys.issuer, { x5c: ['MIIB'] }), 'CST_BAD_SIGNATURE');
    });

    it('a token asking for special processing: crit, or an unencoded payload (b64: false)', async () => {
      const { claims } = await issue();
      for (const extra of [{ crit: ['exp'], exp: 1 }, { b64: false, crit: ['b64'] }, { b64: true }]) {
        const header = b64(JSON.stringify({ alg: 'EdDSA', typ: 'cst+jwt', kid: env.keys.issuer.kid, ...extra }));
        const payload = b64(JSON.stringify(claims));
        const signature = b64(nodeSign(null, Buffer.from(`${header}.${payload}`), env.keys.issuer.privateKey));
        await expectRefused(`${header}.${payload}.${signature}`, 'CST_BAD_SIGNATURE');
      }
    });

    it('another asymmetric algorithm', async () => {
      const { claims } = await issue();
      const header = b64(JSON.stringify({ alg: 'ES256', typ: 'cst+jwt', kid: env.keys.issuer.kid }));
      await expectRefused(`${header}.${b64(JSON.stringify(claims))}.${b64('x'.repeat(64))}`, 'CST_BAD_SIGNATURE');
    });
  });

  describe('time', () => {
    it('CST_EXPIRED after exp plus the 60 s skew, accepted within it', async () => {
      const { token } = await issue();
      await expect(makeVerifier({ now: () => at(1800 + 59) }).verifier.verify(token, seed)).resolves.toBeDefined();
      await expectRefused(token, 'CST_EXPIRED', { now: () => at(1800 + 60) });
      const old = await issue({ now: at(-7200) });
      await expectRefused(old.token, 'CST_EXPIRED');
    });

    it('CST_NOT_YET_VALID when nbf is beyond the skew, accepted within it', async () => {
      await expect(makeVerifier().verifier.verify((await issue({ now: at(30) })).token, seed)).resolves.toBeDefined();
      await expect(makeVerifier().verifier.verify((await issue({ now: at(60) })).token, seed)).resolves.toBeDefined();
      await expectRefused((await issue({ now: at(61) })).token, 'CST_NOT_YET_VALID');
      await expectRefused((await issue({ now: at(3600) })).token, 'CST_NOT_YET_VALID');
      // iat in the future with a present nbf is as suspicious.
      await expectRefused(await edited((c) => ({ ...c, iat: c.iat + 300 })), 'CST_NOT_YET_VALID');
    });

    it('a custom skew applies', async () => {
      const { token } = await issue({ now: at(30) });
      await expectRefused(token, 'CST_NOT_YET_VALID', { clockSkewSeconds: 0 });
      await expect(makeVerifier({ clockSkewSeconds: 0, now: () => at(30) }).verifier.verify(token, seed)).resolves.toBeDefined();
    });
  });

  it('CST_WRONG_AUDIENCE', async () => {
    await expectRefused((await issue({ audience: 'another-service' })).token, 'CST_WRONG_AUDIENCE');
    await expectRefused((await issue()).token, 'CST_WRONG_AUDIENCE', { audience: 'claw-jira-write' });
    const both = await issue({ audience: ['claw-jira-read', 'claw-jira'] });
    await expect(makeVerifier().verifier.verify(both.token, seed)).resolves.toBeDefined();
  });

  it('CST_WRONG_JOB', async () => {
    await expectRefused((await issue({ job: 'job-other' })).token, 'CST_WRONG_JOB');
    await expectRefused((await issue()).token, 'CST_WRONG_JOB', { job: 'job-other' });
  });

  it('CST_POLICY_MISMATCH with the pin on; accepted with the pin off', async () => {
    const { token } = await issue();
    await expectRefused(token, 'CST_POLICY_MISMATCH', {}, otherWpc);
    const { verifier } = makeVerifier();
    await expect(verifier.verify(token, unpinned)).resolves.toMatchObject({ claims: { wpc_hash: seed.hash } });
    // A token pinning the unpinned WPC is refused by a pinned one.
    await expectRefused((await issue({ wpc: unpinned })).token, 'CST_POLICY_MISMATCH');
  });

  it('CST_TTL_EXCEEDS_WPC, counting from the earlier of iat and nbf', async () => {
    await expectRefused(await edited((c) => ({ ...c, exp: c.iat + 1801 })), 'CST_TTL_EXCEEDS_WPC');
    await expectRefused(await edited((c) => ({ ...c, nbf: c.iat - 100 })), 'CST_TTL_EXCEEDS_WPC');
    await expect(makeVerifier().verifier.verify(await edited((c) => ({ ...c, exp: c.iat + 1800 })), seed)).resolves.toBeDefined();
  });

  it('CST_SCOPE_HASH_MISMATCH', async () => {
    await expectRefused(await edited((c) => ({ ...c, scope: { ...c.scope, projects: ['ENG'] } })), 'CST_SCOPE_HASH_MISMATCH');
    await expectRefused(await edited((c) => ({ ...c, scope_hash: hashAddress('something else') })), 'CST_SCOPE_HASH_MISMATCH');
  });

  it('CST_SCOPE_EXCEEDS_WPC, for a scope only a raw signature can produce', async () => {
    for (const scope of [
      { operations: ['issue.get', 'issue.delete'], projects: ['ENG'] },
      { operations: ['issue.get'], projects: ['ENG', 'OPS'] },
      { operations: ['issue.create'], projects: ['ENG'], fields_write: ['summary', 'security'] },
      { operations: ['issue.update'], projects: ['ENG'] },
    ]) {
      await expectRefused(await edited((c) => ({ ...c, scope, scope_hash: hashOfJson(scope) })), 'CST_SCOPE_EXCEEDS_WPC');
    }
  });

  describe('revocation', () => {
    it('CST_REVOKED once revoked, for a fresh verifier and for one that cached the token', async () => {
      const dir = freshDir();
      const { token, claims } = await issue();
      const other = await issue();
      const { verifier, revocationFile } = makeVerifier({ dir });
      await verifier.verify(token, seed);
      await revokeInFile(revocationFile, env.trust, env.keys.issuer, claims.jti, 'leaked in a log');
      await expect(refusal(verifier.verify(token, seed))).resolves.toMatchObject({ code: 'CST_REVOKED' });
      await expectRefused(token, 'CST_REVOKED', { dir });
      await expect(verifier.verify(other.token, seed)).resolves.toBeDefined();
      // Revoking again is idempotent.
      const list = await revokeInFile(revocationFile, env.trust, env.keys.issuer, claims.jti);
      expect(list.revoked.filter((r) => r.jti === claims.jti)).toHaveLength(1);
    });

    it('CST_REVOCATION_UNAVAILABLE when the list is tampered, unsigned, signed by another role, or unreadable', async () => {
      const dir = freshDir();
      const { token, claims } = await issue();
      const { revocationFile } = makeVerifier({ dir });
      await revokeInFile(revocationFile, env.trust, env.keys.issuer, 'some-other-token-id');
      const good = readFileSync(revocationFile, 'utf8');
      const [h, p, s] = good.trim().split('.');
      const payload = JSON.parse(Buffer.from(p as string, 'base64url').toString('utf8')) as { revoked: unknown[] };
      const variants = [
        `${h}.${b64(JSON.stringify({ ...payload, revoked: [] }))}.${s}`,
        `${h}.${(p as string).slice(0, 10)}${(p as string)[10] === 'A' ? 'B' : 'A'}${(p as string).slice(11)}.${s}`,
        'garbage',
        '',
        await signRevocationList({ v: 1, iat: 1, revoked: [] }, env.keys.policy),
        await signRevocationList({ v: 1, iat: 1, revoked: [] }, stranger),
      ];
      for (const text of variants) {
        writeFileSync(revocationFile, text);
        await expectRefused(token, 'CST_REVOCATION_UNAVAILABLE', { dir });
      }
      rmSync(revocationFile);
      mkdirSync(revocationFile);
      await expectRefused(token, 'CST_REVOCATION_UNAVAILABLE', { dir });
      rmSync(revocationFile, { recursive: true });
      // A revocation cannot be written onto a list that does not verify either.
      writeFileSync(revocationFile, 'garbage');
      await expect(revokeInFile(revocationFile, env.trust, env.keys.issuer, claims.jti)).rejects.toMatchObject({
        code: 'CST_REVOCATION_UNAVAILABLE',
      });
    });

    it('REVOCATION_ROLLBACK when an older signed list is put back; CST_REVOCATION_UNAVAILABLE when the list disappears', async () => {
      const dir = freshDir();
      const { token, claims } = await issue();
      const { verifier, revocationFile } = makeVerifier({ dir });
      await revokeInFile(revocationFile, env.trust, env.keys.issuer, 'first-revoked-token-id', undefined, at(-60));
      const older = join(dir, 'older.jws');
      copyFileSync(revocationFile, older);
      await expect(verifier.verify(token, seed)).resolves.toBeDefined();
      await revokeInFile(revocationFile, env.trust, env.keys.issuer, claims.jti, undefined, at(0));
      await expect(refusal(verifier.verify(token, seed))).resolves.toMatchObject({ code: 'CST_REVOKED' });
      copyFileSync(older, revocationFile);
      await expect(refusal(verifier.verify(token, seed))).resolves.toMatchObject({ code: 'REVOCATION_ROLLBACK' });
      seen.add('REVOCATION_ROLLBACK');
      rmSync(revocationFile);
      await expect(refusal(verifier.verify(token, seed))).resolves.toMatchObject({ code: 'CST_REVOCATION_UNAVAILABLE' });
    });

    it('a missing list means nothing is revoked yet', async () => {
      await expect(makeVerifier().verifier.verify((await issue()).token, seed)).resolves.toBeDefined();
    });
  });

  describe('replay', () => {
    it('CST_REPLAYED: a token id first used in one job is refused in another, also after a restart', async () => {
      const dir = freshDir();
      const { token, claims } = await issue();
      const first = makeVerifier({ dir });
      await first.verifier.verify(token, seed);
      // The same jti in a token for another job (an issuer bug or a stolen issuer key): the replay store refuses it.
      const otherJob = 'job-2031-OPS-7';
      const sameJti = await signRaw({ ...claims, job: otherJob });
      await expectRefused(sameJti, 'CST_REPLAYED', { dir, job: otherJob });
      // Restart: new store instances over the same folder still know the first job.
      await expectRefused(sameJti, 'CST_REPLAYED', { dir, job: otherJob });
      await expect(makeVerifier({ dir }).verifier.verify(token, seed)).resolves.toBeDefined();
    });

    it('the same token in the same job is fine from any number of servers sharing the store', async () => {
      const dir = freshDir();
      const { token } = await issue();
      for (let i = 0; i < 3; i++) await expect(makeVerifier({ dir }).verifier.verify(token, seed)).resolves.toBeDefined();
    });

    it('CST_REPLAY_STORE_UNAVAILABLE when the replay record cannot be written', async () => {
      const dir = freshDir();
      writeFileSync(join(dir, 'jti'), 'a file where the folder should be');
      await expectRefused((await issue()).token, 'CST_REPLAY_STORE_UNAVAILABLE', { dir });
    });
  });

  describe('cache', () => {
    it('a verified token verifies again without a signature check, yet is refused once revoked', async () => {
      const dir = freshDir();
      const { token, claims } = await issue();
      const { verifier, revocationFile } = makeVerifier({ dir });
      await verifier.verify(token, seed);
      const lookups = vi.spyOn(env.trust, 'get');
      try {
        for (let i = 0; i < 5; i++) await expect(verifier.verify(token, seed)).resolves.toMatchObject({ claims: { jti: claims.jti } });
        expect(lookups).not.toHaveBeenCalled();
        // A fresh verifier has to look the key up: the spy does observe signature checks.
        await makeVerifier({ dir }).verifier.verify(token, seed);
        expect(lookups).toHaveBeenCalledWith(env.keys.issuer.kid, 'issuer');
      } finally {
        lookups.mockRestore();
      }
      await revokeInFile(revocationFile, env.trust, env.keys.issuer, claims.jti);
      await expect(refusal(verifier.verify(token, seed))).resolves.toMatchObject({ code: 'CST_REVOKED' });
    });

    it('a cached token still expires on time', async () => {
      let now = T0;
      const { verifier } = makeVerifier({ now: () => now });
      const { token } = await issue();
      await verifier.verify(token, seed);
      now = at(1800 + 59);
      await expect(verifier.verify(token, seed)).resolves.toBeDefined();
      now = at(1800 + 60);
      await expect(refusal(verifier.verify(token, seed))).resolves.toMatchObject({ code: 'CST_EXPIRED' });
    });

    it('a token cached for one WPC is checked afresh against another', async () => {
      const { verifier } = makeVerifier();
      const { token } = await issue();
      await verifier.verify(token, seed);
      await expect(refusal(verifier.verify(token, otherWpc))).resolves.toMatchObject({ code: 'CST_POLICY_MISMATCH' });
      await expect(verifier.verify(token, seed)).resolves.toBeDefined();
    });
  });
});

it('every CST error code was produced by a real token above', () => {
  expect([...seen].sort()).toEqual([...CST_ERROR_CODES].sort());
});
