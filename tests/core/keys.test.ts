import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { calculateJwkThumbprint } from 'jose';
import { clawHome } from '../../src/config/home.js';
import {
  generateSigningKey,
  signBytes,
  signingKeyFromJwk,
  thumbprint,
  verifyBytes,
  verifyingKeyFromJwk,
} from '../../src/keys/ed25519.js';
import { KEY_ROLES } from '../../src/keys/roles.js';
import { initKeys, loadSigningKey, loadTrust } from '../../src/keys/store.js';
import { TrustStore } from '../../src/keys/trust.js';
import { removeDir, tempDir } from '../helpers/env.js';

const dirs: string[] = [];
function freshHome() {
  const dir = tempDir();
  dirs.push(dir);
  return clawHome(dir);
}
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code });
}

describe('key ids are RFC 7638 thumbprints', () => {
  it('matches the Ed25519 example of RFC 8037 appendix A.3', async () => {
    // RFC 8037 A.3 computes the RFC 7638 thumbprint of its Ed25519 example key.
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' } as const;
    expect(await thumbprint(jwk)).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
    expect((await verifyingKeyFromJwk(jwk)).kid).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });

  it('equals jose and the hash of the required members in lexical order for a generated key', async () => {
    const { kid, publicJwk, privateJwk } = await generateSigningKey();
    expect(kid).toBe(await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: publicJwk.x }, 'sha256'));
    const members = `{"crv":"Ed25519","kty":"OKP","x":"${publicJwk.x}"}`;
    expect(kid).toBe(createHash('sha256').update(members).digest('base64url'));
    // Optional members (kid, alg, use, d) never change the thumbprint.
    expect((await signingKeyFromJwk(privateJwk)).kid).toBe(kid);
    expect((await verifyingKeyFromJwk({ ...publicJwk, alg: 'EdDSA', use: 'sig' })).kid).toBe(kid);
  });

  it('refuses a public key that claims a kid other than its thumbprint, and non-Ed25519 keys', async () => {
    const a = await generateSigningKey();
    const b = await generateSigningKey();
    await expectCode(verifyingKeyFromJwk({ ...a.publicJwk, kid: b.kid }), 'KEY_INVALID');
    await expectCode(verifyingKeyFromJwk({ kty: 'OKP', crv: 'X25519', x: a.publicJwk.x }), 'KEY_INVALID');
    await expectCode(verifyingKeyFromJwk({ ...a.publicJwk, extra: 1 }), 'KEY_INVALID');
    await expectCode(signingKeyFromJwk(a.publicJwk), 'KEY_INVALID');
  });

  it('signs and verifies bytes; another key or another byte fails', async () => {
    const signer = await signingKeyFromJwk((await generateSigningKey()).privateJwk);
    const other = await verifyingKeyFromJwk((await generateSigningKey()).publicJwk);
    const verifier = await verifyingKeyFromJwk(signer.publicJwk);
    const bytes = new TextEncoder().encode('claw');
    const sig = signBytes(signer, bytes);
    expect(verifyBytes(verifier, bytes, sig)).toBe(true);
    expect(verifyBytes(other, bytes, sig)).toBe(false);
    expect(verifyBytes(verifier, new TextEncoder().encode('clay'), sig)).toBe(false);
    expect(verifyBytes(verifier, bytes, sig.slice(1))).toBe(false);
  });
});

describe('initKeys', () => {
  it('creates one 0600 private key per role and a trust file naming each by role', async () => {
    const home = freshHome();
    const result = await initKeys(home);
    expect(result.created).toEqual([...KEY_ROLES]);
    expect(result.kept).toEqual([]);
    for (const role of KEY_ROLES) {
      expect(statSync(home.privateKeyFile(role)).mode & 0o777).toBe(0o600);
      const key = await loadSigningKey(home, role);
      const trust = await loadTrust(home);
      expect(trust.get(key.kid, role)?.kid).toBe(key.kid);
      for (const other of KEY_ROLES.filter((r) => r !== role)) expect(trust.get(key.kid, other)).toBeUndefined();
    }
    const kids = new Set(result.trust.keys.map((entry) => entry.kid));
    expect(kids.size).toBe(KEY_ROLES.length);
  });

  it('never overwrites existing keys: a second run keeps the same kids and bytes', async () => {
    const home = freshHome();
    const first = await initKeys(home);
    const before = KEY_ROLES.map((role) => readFileSync(home.privateKeyFile(role), 'utf8'));
    const second = await initKeys(home);
    expect(second.created).toEqual([]);
    expect(second.kept).toEqual([...KEY_ROLES]);
    expect(second.trust.keys.map((k) => [k.role, k.kid])).toEqual(first.trust.keys.map((k) => [k.role, k.kid]));
    expect(KEY_ROLES.map((role) => readFileSync(home.privateKeyFile(role), 'utf8'))).toEqual(before);
  });

  it('recreates only a missing key and keeps the replaced one trusted for its role', async () => {
    const home = freshHome();
    const first = await initKeys(home);
    const oldReceipt = first.trust.keys.find((k) => k.role === 'receipt');
    rmSync(home.privateKeyFile('receipt'));
    const second = await initKeys(home);
    expect(second.created).toEqual(['receipt']);
    const trust = await loadTrust(home);
    const newReceipt = await loadSigningKey(home, 'receipt');
    expect(newReceipt.kid).not.toBe(oldReceipt?.kid);
    expect(trust.get(newReceipt.kid, 'receipt')).toBeDefined();
    // Receipts signed before the rotation must still verify.
    expect(trust.get(oldReceipt?.kid ?? '', 'receipt')).toBeDefined();
    expect((await loadSigningKey(home, 'policy')).kid).toBe(first.trust.keys.find((k) => k.role === 'policy')?.kid);
  });
});

describe('loadSigningKey', () => {
  it('refuses a private key readable by group or others', async () => {
    const home = freshHome();
    await initKeys(home);
    chmodSync(home.privateKeyFile('issuer'), 0o644);
    await expectCode(loadSigningKey(home, 'issuer'), 'KEY_PERMISSIONS');
    chmodSync(home.privateKeyFile('issuer'), 0o640);
    await expectCode(loadSigningKey(home, 'issuer'), 'KEY_PERMISSIONS');
    chmodSync(home.privateKeyFile('issuer'), 0o600);
    await expect(loadSigningKey(home, 'issuer')).resolves.toMatchObject({ kid: expect.any(String) });
  });

  it('names a missing or garbled key without echoing its content', async () => {
    const home = freshHome();
    await expectCode(loadSigningKey(home, 'policy'), 'KEY_UNREADABLE');
    await initKeys(home);
    const secret = readFileSync(home.privateKeyFile('policy'), 'utf8');
    writeFileSync(home.privateKeyFile('policy'), secret.slice(0, 40), { mode: 0o600 });
    const error = await loadSigningKey(home, 'policy').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'KEY_INVALID' });
    expect(String((error as Error).message)).not.toContain(secret.slice(0, 40));
  });
});

describe('TrustStore', () => {
  it('refuses a trust entry whose kid is not its key thumbprint, and unknown members', async () => {
    const a = await generateSigningKey();
    const b = await generateSigningKey();
    await expectCode(
      TrustStore.fromFile({ version: 1, keys: [{ role: 'policy', kid: b.kid, jwk: { ...a.publicJwk, kid: undefined } }] }),
      'TRUST_INVALID',
    );
    const home = freshHome();
    writeFileSync(home.trustFile, JSON.stringify({ version: 1, keys: [], extra: true }));
    await expectCode(TrustStore.load(home.trustFile), 'TRUST_INVALID');
    writeFileSync(home.trustFile, '{');
    await expectCode(TrustStore.load(home.trustFile), 'TRUST_INVALID');
    await expectCode(TrustStore.load(`${home.trustFile}.missing`), 'TRUST_UNREADABLE');
  });
});
