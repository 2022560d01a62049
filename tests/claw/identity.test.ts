import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publicKeyFromDidKey } from '../../src/claw/did-key.js';
import { ensureRunId, readRunId, runIdFile, runStartedAt, RUN_ID } from '../../src/claw/run-id.js';
import { clawHome } from '../../src/config/home.js';
import { initKeys, loadSigningKey } from '../../src/keys/store.js';
import { TrustStore } from '../../src/keys/trust.js';

function tempHome(): ReturnType<typeof clawHome> {
  return clawHome(mkdtempSync(join(tmpdir(), 'claw-identity-')));
}

describe('did:key beside the JWK thumbprint in the trust file', () => {
  it('writes the did of each key, the same Ed25519 key as its JWK', async () => {
    const home = tempHome();
    const { trust } = await initKeys(home);
    const receipt = trust.keys.find((k) => k.role === 'receipt');
    expect(receipt?.did).toMatch(/^did:key:z6Mk/);
    expect(Buffer.from(publicKeyFromDidKey(receipt?.did ?? '')).toString('base64url')).toBe(receipt?.jwk.x);
    const store = await TrustStore.load(home.trustFile);
    const key = await loadSigningKey(home, 'receipt');
    expect(store.getByDid(receipt?.did ?? '', 'receipt')?.kid).toBe(key.kid);
    // A did is bound to its role like a kid: the receipt key's did is not a policy key.
    expect(store.getByDid(receipt?.did ?? '', 'policy')).toBeUndefined();
  });

  it('still loads a trust file written before dids existed, and refuses a did that names another key', async () => {
    const home = tempHome();
    const { trust } = await initKeys(home);
    const legacy = { version: 1, keys: trust.keys.map(({ did: _did, ...rest }) => rest) };
    writeFileSync(home.trustFile, JSON.stringify(legacy));
    const store = await TrustStore.load(home.trustFile);
    expect(store.list().every((k) => k.did.startsWith('did:key:z'))).toBe(true);

    const [first, second] = trust.keys;
    const forged = { version: 1, keys: [{ ...first, did: second?.did }, second] };
    writeFileSync(home.trustFile, JSON.stringify(forged));
    await expect(TrustStore.load(home.trustFile)).rejects.toMatchObject({ code: 'TRUST_INVALID' });
  });
});

describe('run_id', () => {
  it('is created once per job and read back by every later session', () => {
    const home = tempHome();
    const first = ensureRunId(home, 'JOB-1');
    expect(first).toMatch(RUN_ID);
    // The id carries its creation time (the anchor event's timestamp), to the millisecond.
    const stamped = ensureRunId(home, 'JOB-3', new Date('2026-01-02T03:04:05.678Z'));
    expect(runStartedAt(stamped)).toBe('2026-01-02T03:04:05.678Z');
    expect(ensureRunId(home, 'JOB-1')).toBe(first);
    expect(readRunId(home, 'JOB-1')).toBe(first);
    expect(ensureRunId(home, 'JOB-2')).not.toBe(first);
    expect(JSON.parse(readFileSync(runIdFile(home, 'JOB-1'), 'utf8'))).toMatchObject({ job: 'JOB-1', run_id: first });
  });

  it('refuses a damaged or foreign run id record instead of minting a second id', () => {
    const home = tempHome();
    mkdirSync(join(home.stateDir, 'runs'), { recursive: true });
    writeFileSync(runIdFile(home, 'JOB-1'), JSON.stringify({ job: 'JOB-9', run_id: 'run_x' }));
    expect(() => ensureRunId(home, 'JOB-1')).toThrow(expect.objectContaining({ code: 'RUN_ID_INVALID' }));
  });
});
