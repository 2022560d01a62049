/**
 * The clawscope lane's pieces on their own: the claims schema against the protocol's JSON schema, the scope
 * mapping, the issuer pin by did:key, and the introspection cache (a pinned clock, a fake clawscope on loopback).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClawscopeClaimsSchema, tokenScopeHash } from '../../src/claw/clawscope-claims.js';
import { openClawscopeLane } from '../../src/claw/clawscope-config.js';
import { ClawscopeIntrospection } from '../../src/claw/clawscope-introspect.js';
import { mapClawscopeScope } from '../../src/claw/clawscope-scope.js';
import { didKeyFromPublicKey } from '../../src/claw/did-key.js';
import { ReplayStore } from '../../src/cst/replay-store.js';
import { b64uAddress } from '../../src/wpc/registry.js';
import { readClawJson } from '../claw/schema-path.js';
import { makeEnv, type CoreEnv } from '../core/helpers/env.js';
import { scopeHashOf, signToken, startFakeClawscope, type FakeClawscope } from './fake-clawscope.js';

let fake: FakeClawscope;
let env: CoreEnv;
let dir: string;
beforeAll(async () => {
  fake = await startFakeClawscope();
  env = await makeEnv();
  dir = mkdtempSync(join(tmpdir(), 'claw-in-'));
});
afterAll(async () => {
  await fake.close();
  env.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('scoped token claims v1', () => {
  const ajv = new Ajv2020({ strict: false });
  const validate = ajv.compile(readClawJson('auth/scoped_token_claims.v1.json'));
  const base = { token_version: '1', sub: 'did:key:z6Mk', aud: 'claw-jira', scope: ['jira:issue.get:ENG'], iat: 1, exp: 2 };
  const samples: Array<Record<string, unknown>> = [
    base,
    { ...base, aud: ['a', 'b'], jti: 'j', nonce: 'n', mission_id: 'job', token_lane: 'canonical', spend_cap: 3, owner_did: 'did:key:zOwner' },
    { ...base, iss: 'clawscope' },
    { ...base, nbf: 1 },
    { ...base, token_version: '2' },
    { ...base, scope: [] },
    { ...base, policy_hash_b64u: 'short' },
    { ...base, owner_did: 'not-a-did' },
    { ...base, delegation_spend_cap_minor: '12a' },
    { ...base, iat: 1.5 },
  ];
  it.each(samples.map((sample, i) => [i, sample] as const))('sample %i: the zod schema agrees with the protocol JSON schema', (_i, sample) => {
    expect(ClawscopeClaimsSchema.safeParse(sample).success).toBe(validate(sample));
  });

  it('token_scope_hash_b64u matches an independent computation, and ignores iat/exp/jti/nonce and order', () => {
    const claims = ClawscopeClaimsSchema.parse({ ...base, aud: ['z', 'a', 'a'], scope: [' b ', 'a'], mission_id: 'm', iat: 5, exp: 9, jti: 'x' });
    expect(tokenScopeHash(claims)).toBe(scopeHashOf(claims));
    expect(tokenScopeHash({ ...claims, iat: 6, exp: 10, jti: 'y', nonce: 'n', scope: ['a', 'b'], aud: ['a', 'z'] })).toBe(tokenScopeHash(claims));
    expect(tokenScopeHash({ ...claims, mission_id: 'other' })).not.toBe(tokenScopeHash(claims));
  });
});

describe('scope mapping', () => {
  it('maps operation:project pairs, fields and issue types; ignores other services\' scopes', () => {
    expect(mapClawscopeScope(['jira:issue.get:ENG', 'jira:issue.get:SEC', 'jira:issue.create:ENG', 'jira:issue.create:SEC', 'jira:field:summary', 'jira:issue_type:Bug', 'proxy:call'])).toEqual({
      operations: ['issue.create', 'issue.get'],
      projects: ['ENG', 'SEC'],
      fields_write: ['summary'],
      issue_types: ['Bug'],
    });
    expect(mapClawscopeScope(['clawjira:issue.get:ENG'], 'clawjira')).toEqual({ operations: ['issue.get'], projects: ['ENG'] });
  });

  it.each([
    [['jira:issue.get:ENG', 'jira:issue.create:SEC']],
    [['jira:issue.get:*']],
    [['jira:issue.get']],
    [['jira:admin:ENG']],
    [['jira:field:two words']],
    [['proxy:call']],
  ])('refuses %j (CST_SCOPE_UNMAPPABLE)', (scopes) => {
    expect(() => mapClawscopeScope(scopes)).toThrow(expect.objectContaining({ code: 'CST_SCOPE_UNMAPPABLE' }));
  });
});

describe('issuer pinned by did:key, introspection cached briefly', () => {
  function token(extra: Record<string, unknown> = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      token_version: '1',
      sub: 'agent',
      aud: 'claw-jira',
      scope: ['jira:issue.get:ENG'],
      iat: now,
      exp: now + 600,
      mission_id: 'job-unit',
      policy_hash_b64u: b64uAddress(env.seed.hash),
      jti: randomUUID(),
      ...extra,
    };
    claims.token_scope_hash_b64u = scopeHashOf(claims);
    return signToken(fake.key, claims);
  }

  it('a token of the pinned did verifies; the receipt-facing claims are claw-jira\'s', async () => {
    const lane = openClawscopeLane(
      { url: fake.url, did: didKeyFromPublicKey(fake.key.raw), jobClaim: 'mission_id', prefix: 'jira', cacheSeconds: 10 },
      { audience: 'claw-jira', job: 'job-unit', replay: new ReplayStore(join(dir, 'replay')), clockSkewSeconds: 0, now: () => new Date() },
    );
    const verified = await lane.verify(token(), env.seed);
    expect(verified.claims).toMatchObject({ job: 'job-unit', wpc_hash: env.seed.hash, scope: { operations: ['issue.get'], projects: ['ENG'] } });
    expect(verified.tokenHash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('a configured job claim replaces mission_id', async () => {
    const lane = openClawscopeLane(
      { url: fake.url, did: didKeyFromPublicKey(fake.key.raw), jobClaim: 'delegation_id', prefix: 'jira', cacheSeconds: 0 },
      { audience: 'claw-jira', job: 'job-unit', replay: new ReplayStore(join(dir, 'replay')), clockSkewSeconds: 0, now: () => new Date() },
    );
    await expect(lane.verify(token(), env.seed)).rejects.toMatchObject({ code: 'CST_WRONG_JOB' });
    await expect(lane.verify(token({ delegation_id: 'job-unit' }), env.seed)).resolves.toBeDefined();
  });

  it('an active answer is reused within the cache window only; revoked is final; unreachable is refused', async () => {
    let now = Date.now();
    const introspection = new ClawscopeIntrospection(fake.url, { cacheSeconds: 10, now: () => new Date(now) });
    const issued = await fake.issue({ sub: 'agent', aud: 'claw-jira', scope: ['jira:issue.get:ENG'], ttl_sec: 600 });
    const exp = issued.claims.exp as number;
    await introspection.check(issued.token, issued.token_hash, exp);
    const asked = fake.introspections;
    await fake.revoke(issued.token);
    // Within the window the cached "active" stands (the documented bound on revocation latency)...
    now += 9_000;
    await introspection.check(issued.token, issued.token_hash, exp);
    expect(fake.introspections).toBe(asked);
    // ...after it, clawscope is asked again and the revocation takes effect, for good.
    now += 2_000;
    await expect(introspection.check(issued.token, issued.token_hash, exp)).rejects.toMatchObject({ code: 'CST_REVOKED' });
    const other = await fake.issue({ sub: 'agent', aud: 'claw-jira', scope: ['jira:issue.get:ENG'], ttl_sec: 600 });
    fake.outage = '503';
    try {
      await expect(introspection.check(issued.token, issued.token_hash, exp)).rejects.toMatchObject({ code: 'CST_REVOKED' });
      await expect(introspection.check(other.token, other.token_hash, exp)).rejects.toMatchObject({ code: 'CST_REVOCATION_UNAVAILABLE' });
    } finally {
      fake.outage = 'none';
    }
  });

  it('an answer about another token is not taken (CST_INACTIVE); plain http to a remote host is refused', async () => {
    const introspection = new ClawscopeIntrospection(fake.url, { cacheSeconds: 0 });
    const issued = await fake.issue({ sub: 'agent', aud: 'claw-jira', scope: ['jira:issue.get:ENG'], ttl_sec: 600 });
    await expect(introspection.check(issued.token, '0'.repeat(64), issued.claims.exp as number)).rejects.toMatchObject({ code: 'CST_INACTIVE' });
    expect(() => new ClawscopeIntrospection('http://clawscope.example.com', { cacheSeconds: 0 })).toThrow(/https/);
  });
});
