/**
 * The clawscope lane end to end: the built write server over stdio, a fake clawscope on loopback (its API as
 * PROTOCOL.md §3.2 states it), the project's Jira simulator. Every token failure mode of claw-jira's own lane
 * (tests/e2e/threat-tokens.test.ts, src/cst/verify.ts) has its twin here, with the same refusal code, plus the
 * lane's own: introspection down, clawscope refusing the token, scope strings that cannot be mapped.
 * The token file is rewritten between calls (the runtime rotating it), so one server process sees every token.
 */
import { randomUUID, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clawHome } from '../../src/config/home.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { sha256Hex } from '../../src/util/canonical.js';
import { b64uAddress } from '../../src/wpc/registry.js';
import { World, toolNames, type Connected } from '../e2e/harness.js';
import { expectAllowed, expectRefused } from '../e2e/threat-helpers.js';
import { scopeHashOf, scopeKey, signToken, startFakeClawscope, type FakeClawscope, type ScopeKey } from './fake-clawscope.js';

let sim: RunningSimulator;
let world: World;
let fake: FakeClawscope;
let write: Connected;
let retired: ScopeKey;
let tokenFile: string;
let env: Record<string, string>;

const SCOPES = ['jira:issue.search:ENG', 'jira:issue.get:ENG', 'jira:issue.comment.create:ENG', 'jira:issue.create:ENG', 'proxy:call'];
const comment = { issue_key: 'ENG-6', body: 'clawscope lane' };

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 42 });
  world = await World.create({ wpc: 'seed.json', sim, job: 'job-scope' });
  fake = await startFakeClawscope();
  retired = scopeKey();
  // The operator pins clawscope's published JWKS, plus a key clawscope has since retired (kept in the pin by mistake).
  const jwks = (await fake.jwks()) as { keys: unknown[] };
  const jwksFile = join(world.dir, 'clawscope.jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [...jwks.keys, { kty: 'OKP', crv: 'Ed25519', x: retired.raw.toString('base64url'), kid: retired.kid }] }));
  tokenFile = join(world.dir, 'clawscope.cst');
  env = { CLAW_CST_FILE: tokenFile, CLAW_SCOPE_URL: fake.url, CLAW_SCOPE_JWKS: jwksFile, CLAW_SCOPE_CACHE_SECONDS: '0', CLAW_CLOCK_SKEW_SECONDS: '0' };
  use((await issue()).token);
  write = await world.connect('write', env);
});
afterAll(async () => {
  await world?.close();
  await fake?.close();
  await sim?.close();
});

/** The runtime rotates the token file; the server re-reads it at the next call. */
function use(token: string): void {
  writeFileSync(tokenFile, `${token}\n`);
}

function issue(extra: Record<string, unknown> = {}) {
  return fake.issue({ sub: 'did:key:z6MkAgent', aud: ['claw-jira'], scope: SCOPES, ttl_sec: 600, mission_id: world.job, policy_hash_b64u: b64uAddress(world.wpcHash), ...extra });
}

/** A token clawscope's key signs but clawscope would never mint: one wrong thing at a time. */
function forge(overrides: Record<string, unknown> = {}, options: { key?: ScopeKey; header?: Record<string, unknown> } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    token_version: '1',
    sub: 'did:key:z6MkAgent',
    aud: ['claw-jira'],
    scope: SCOPES,
    iat: now,
    exp: now + 600,
    mission_id: world.job,
    policy_hash_b64u: b64uAddress(world.wpcHash),
    jti: randomUUID(),
    nonce: randomUUID(),
    ...overrides,
  };
  if (!('token_scope_hash_b64u' in overrides)) claims.token_scope_hash_b64u = scopeHashOf(claims);
  return signToken(options.key ?? fake.key, claims, options.header);
}

async function refused(token: string, code: string): Promise<void> {
  use(token);
  await expectRefused(world, write, 'jira_add_comment', comment, code, { stage: 'cst' });
}

describe('clawscope lane: accepted', () => {
  it('a token issued by clawscope is accepted; the receipt records its jti and hash, never the token', async () => {
    const issued = await issue();
    use(issued.token);
    expect(await toolNames(write)).toEqual(['jira_add_comment', 'jira_create_issue']);
    const before = fake.introspections;
    const result = await expectAllowed(write, 'jira_add_comment', comment);
    expect(fake.introspections).toBeGreaterThan(before);
    const decision = world.receipts().find((r) => r.kind === 'decision' && r.cst?.jti === issued.claims.jti);
    expect(decision?.cst).toMatchObject({ token_hash: `sha256:${issued.token_hash}`, sub: 'did:key:z6MkAgent' });
    expect(decision?.scope).toEqual({ operations: ['issue.comment.create', 'issue.create', 'issue.get', 'issue.search'], projects: ['ENG'] });
    expect(JSON.stringify(world.receipts())).not.toContain(issued.token);
    expect(result.text).not.toContain(issued.token);
  });

  it('doctor checks a clawscope token through the lane (introspection included)', async () => {
    const issued = await issue();
    use(issued.token);
    const ok = await world.cli(['doctor', '--json'], world.serverEnv(env));
    expect(ok.out).toContain(`jti ${String(issued.claims.jti)}`);
    await fake.revoke(issued.token);
    const revoked = await world.cli(['doctor', '--json'], world.serverEnv(env));
    expect(revoked.code).toBe(1);
    expect(revoked.out).toContain('CST_REVOKED');
  });

  it('claw-jira\'s own CST still works beside it on the same server', async () => {
    use(await world.issueToken([], join(world.dir, 'own.cst')));
    await expectAllowed(write, 'jira_add_comment', comment);
  });

  it('the scope narrows the WPC: a project the token does not name is refused', async () => {
    use((await issue({ scope: ['jira:issue.get:SEC'] })).token);
    expect(await toolNames(write)).toEqual([]);
    await expectRefused(world, write, 'jira_add_comment', comment, 'SCOPE_OPERATION_NOT_GRANTED');
  });
});

describe('clawscope lane: the twins of every failure of the own lane', () => {
  it('expired (CST_EXPIRED)', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(forge({ iat: now - 700, exp: now - 100 }), 'CST_EXPIRED');
  });

  it('not yet valid: issued in the future (CST_NOT_YET_VALID)', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(forge({ iat: now + 300, exp: now + 900 }), 'CST_NOT_YET_VALID');
  });

  it('wrong audience (CST_WRONG_AUDIENCE)', async () => {
    await refused(forge({ aud: ['clawproxy.com'] }), 'CST_WRONG_AUDIENCE');
  });

  it('wrong job: mission_id of another job, or none (CST_WRONG_JOB)', async () => {
    await refused(forge({ mission_id: 'job-elsewhere' }), 'CST_WRONG_JOB');
    const now = Math.floor(Date.now() / 1000);
    const claims = { token_version: '1', sub: 'did:key:z6MkAgent', aud: ['claw-jira'], scope: SCOPES, iat: now, exp: now + 600, policy_hash_b64u: b64uAddress(world.wpcHash), jti: randomUUID() };
    await refused(signToken(fake.key, { ...claims, token_scope_hash_b64u: scopeHashOf(claims) }), 'CST_WRONG_JOB');
  });

  it('wrong policy hash, or none, while the WPC pins it (CST_POLICY_MISMATCH)', async () => {
    await refused(forge({ policy_hash_b64u: Buffer.alloc(32, 7).toString('base64url') }), 'CST_POLICY_MISMATCH');
    await refused(forge({ policy_hash_b64u: undefined }), 'CST_POLICY_MISMATCH');
  });

  it('lives longer than the WPC allows (CST_TTL_EXCEEDS_WPC)', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(forge({ exp: now + 3600 }), 'CST_TTL_EXCEEDS_WPC');
  });

  it('token_scope_hash_b64u that is not the recomputed one, or missing (CST_SCOPE_HASH_MISMATCH)', async () => {
    const narrow = scopeHashOf({ sub: 'did:key:z6MkAgent', aud: ['claw-jira'], scope: ['jira:issue.get:ENG'], mission_id: world.job, policy_hash_b64u: b64uAddress(world.wpcHash) });
    await refused(forge({ token_scope_hash_b64u: narrow }), 'CST_SCOPE_HASH_MISMATCH');
    await refused(forge({ token_scope_hash_b64u: undefined }), 'CST_SCOPE_HASH_MISMATCH');
  });

  it('a scope wider than the WPC (CST_SCOPE_EXCEEDS_WPC)', async () => {
    await refused(forge({ scope: [...SCOPES, 'jira:issue.delete:ENG'] }), 'CST_SCOPE_EXCEEDS_WPC');
  });

  it('bad signature: another key under the same kid, or a payload changed after signing (CST_BAD_SIGNATURE)', async () => {
    const impostor = { ...scopeKey(), kid: fake.key.kid };
    await refused(forge({}, { key: impostor }), 'CST_BAD_SIGNATURE');
    const [h, , s] = forge().split('.');
    const now = Math.floor(Date.now() / 1000);
    const wider = { token_version: '1', sub: 'x', aud: ['claw-jira'], scope: SCOPES, iat: now, exp: now + 600, mission_id: world.job };
    await refused(`${h}.${Buffer.from(JSON.stringify(wider)).toString('base64url')}.${s}`, 'CST_BAD_SIGNATURE');
    await refused(forge({}, { key: scopeKey() }), 'CST_BAD_SIGNATURE');
  });

  it('alg none and alg HS256 (CST_BAD_SIGNATURE)', async () => {
    const [, p] = forge().split('.');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: fake.key.kid })).toString('base64url');
    await refused(`${none}.${p}.`, 'CST_BAD_SIGNATURE');
    await refused(forge({}, { header: { alg: 'HS256' } }), 'CST_BAD_SIGNATURE');
    await refused(forge({}, { header: { jwk: { kty: 'OKP' } } }), 'CST_BAD_SIGNATURE');
  });

  it('malformed: payload not JSON, an unknown claim (iss), a wrong token_version (CST_MALFORMED)', async () => {
    const head = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid: fake.key.kid })).toString('base64url');
    const input = `${head}.${Buffer.from('not json').toString('base64url')}`;
    await refused(`${input}.${sign(null, Buffer.from(input), fake.key.privateKey).toString('base64url')}`, 'CST_MALFORMED');
    await refused(forge({ iss: 'clawscope' }), 'CST_MALFORMED');
    await refused(forge({ token_version: '2' }), 'CST_MALFORMED');
  });

  it('revoked at clawscope, on a running server, at its next call (CST_REVOKED)', async () => {
    const issued = await issue();
    use(issued.token);
    await expectAllowed(write, 'jira_add_comment', comment);
    expect((await fake.revoke(issued.token)).status).toBe('revoked');
    await refused(issued.token, 'CST_REVOKED');
  });

  it('replayed: its jti was first used in another job (CST_REPLAYED)', async () => {
    const token = forge();
    const claims = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { jti: string; exp: number };
    const replayDir = clawHome(world.home).replayDir;
    mkdirSync(replayDir, { recursive: true });
    writeFileSync(join(replayDir, `${sha256Hex(claims.jti)}.json`), JSON.stringify({ job: 'job-first-seen', first_seen: new Date().toISOString(), exp: claims.exp }));
    await refused(token, 'CST_REPLAYED');
  });
});

describe('clawscope lane: its own failure modes', () => {
  it('introspection unreachable (503, connection dropped): refused, fail closed (CST_REVOCATION_UNAVAILABLE)', async () => {
    const token = (await issue()).token;
    try {
      fake.outage = '503';
      await refused(token, 'CST_REVOCATION_UNAVAILABLE');
      fake.outage = 'drop';
      await refused(token, 'CST_REVOCATION_UNAVAILABLE');
    } finally {
      fake.outage = 'none';
    }
    use(token);
    await expectAllowed(write, 'jira_add_comment', comment);
  });

  it('a key the operator still pins but clawscope no longer accepts: clawscope says TOKEN_UNKNOWN_KID (CST_INACTIVE)', async () => {
    await refused(forge({}, { key: retired }), 'CST_INACTIVE');
  });

  it('scope strings that do not map onto operations × projects (CST_SCOPE_UNMAPPABLE)', async () => {
    await refused(forge({ scope: ['jira:issue.get:ENG', 'jira:issue.comment.create:SEC'] }), 'CST_SCOPE_UNMAPPABLE');
    await refused(forge({ scope: ['jira:issue.get:eng'] }), 'CST_SCOPE_UNMAPPABLE');
    await refused(forge({ scope: ['proxy:call'] }), 'CST_SCOPE_UNMAPPABLE');
  });

  it('a server without the lane refuses clawscope tokens (own lane: CST_MALFORMED), and no clawscope call is made', async () => {
    const issued = await issue();
    const own = join(world.dir, 'plain.cst');
    writeFileSync(own, issued.token);
    const plain = await world.connect('write', { CLAW_CST_FILE: own });
    await expectRefused(world, plain, 'jira_add_comment', comment, 'CST_MALFORMED', { stage: 'cst' });
    expect(fake.introspected.has(issued.token_hash)).toBe(false);
  });

  it('a misconfigured lane refuses every call with the variable named (CONFIG_INVALID)', async () => {
    const bad = await world.connect('write', { ...env, CLAW_SCOPE_URL: 'http://clawscope.example.com', CLAW_SCOPE_DID: 'did:key:z6Mk' });
    const result = await expectRefused(world, bad, 'jira_add_comment', comment, 'CONFIG_INVALID');
    expect(result.result.text).toMatch(/CLAW_SCOPE_URL must use https/);
  });
});
