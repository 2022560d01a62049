import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRevocationList, UrlRevocationSource, type RevocationList } from '../../src/cst/revocation.js';
import { makeEnv, type CoreEnv } from './helpers/env.js';
import { startStub, type Stub } from '../helpers/stub.js';

/** A revocation list published on a static host (127.0.0.1), whose answer each test sets. */
let env: CoreEnv;
let server: Stub;
let url: string;
let answer: { status: number; body: string } = { status: 404, body: '' };
let hits = 0;

beforeAll(async () => {
  env = await makeEnv();
  server = await startStub((_req, res) => {
    hits++;
    res.writeHead(answer.status, { 'content-type': 'application/jose' }).end(answer.body);
  });
  url = `${server.url}/revocations.jws`;
});
afterAll(async () => {
  await server.close();
  env.cleanup();
});

const list = (iat: number, ...jtis: string[]): RevocationList => ({
  v: 1,
  iat,
  revoked: jtis.map((jti) => ({ jti, revoked_at: new Date(iat * 1000).toISOString() })),
});
const publish = async (value: RevocationList) => {
  answer = { status: 200, body: await signRevocationList(value, env.keys.issuer) };
};

describe('revocation list fetched from a URL', () => {
  it('answers from the signed list, re-fetching only when older than maxAgeMs', async () => {
    let now = 1_000_000;
    const source = new UrlRevocationSource(url, env.trust, { maxAgeMs: 5_000, staleMs: 60_000, now: () => now });
    await publish(list(100, 'revoked-token-1'));
    hits = 0;
    expect(await source.isRevoked('revoked-token-1')).toBe(true);
    expect(await source.isRevoked('other-token')).toBe(false);
    expect(hits).toBe(1);
    await publish(list(200, 'revoked-token-1', 'other-token'));
    now += 4_000;
    expect(await source.isRevoked('other-token')).toBe(false);
    now += 2_000;
    expect(await source.isRevoked('other-token')).toBe(true);
    expect(hits).toBe(2);
  });

  it('keeps the last good list for staleMs when the host fails or serves a bad list, then refuses every token', async () => {
    let now = 2_000_000;
    const source = new UrlRevocationSource(url, env.trust, { maxAgeMs: 1_000, staleMs: 10_000, now: () => now });
    await publish(list(300, 'revoked-token-1'));
    expect(await source.isRevoked('revoked-token-1')).toBe(true);
    for (const bad of [
      { status: 500, body: 'boom' },
      { status: 200, body: 'garbage' },
      { status: 200, body: await signRevocationList(list(400), env.keys.policy) },
    ]) {
      answer = bad;
      now += 2_000;
      expect(await source.isRevoked('revoked-token-1'), bad.body.slice(0, 20)).toBe(true);
    }
    // An older, validly signed list (rolled back) would un-revoke revoked-token-1: refused at once, not ridden out.
    answer = { status: 200, body: await signRevocationList(list(299), env.keys.issuer) };
    now += 2_000;
    await expect(source.isRevoked('revoked-token-1')).rejects.toMatchObject({ code: 'REVOCATION_ROLLBACK' });
    answer = { status: 500, body: 'boom' };
    now += 10_000;
    await expect(source.isRevoked('revoked-token-1')).rejects.toMatchObject({ code: 'CST_REVOCATION_UNAVAILABLE' });
    await expect(source.isRevoked('never-revoked')).rejects.toMatchObject({ code: 'CST_REVOCATION_UNAVAILABLE' });
  });

  it('refuses every token when no good list was ever fetched', async () => {
    answer = { status: 404, body: '' };
    const source = new UrlRevocationSource(url, env.trust, { now: () => 0 });
    await expect(source.isRevoked('any')).rejects.toMatchObject({ code: 'CST_REVOCATION_UNAVAILABLE' });
  });
});
