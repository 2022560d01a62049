import { cpSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clawHome } from '../../src/config/home.js';
import { signBytes } from '../../src/keys/ed25519.js';
import { loadSigningKey } from '../../src/keys/store.js';
import type { Receipt } from '../../src/receipts/types.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/state/postgres/migrations.js';
import { sha256Hex } from '../../src/util/canonical.js';
import { runNode } from '../core/helpers/child.js';
import { ROOT, World } from '../e2e/harness.js';
import { postgresUnavailable, sql, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { cliBin as cli, endpointToken, httpClient, LIST_TOOLS, post, serviceRefusals, serveRefuses, startServe } from './harness.js';

const unavailable = postgresUnavailable();
if (unavailable) process.stderr.write(`tests/serve/postgres.test.ts: skipped: ${unavailable}\n`);

const CLAIMER = resolve(ROOT, 'tests/serve/fixtures/pg-replay-claimer.mjs');

describe.skipIf(unavailable !== undefined)('Postgres state: a real PostgreSQL server', () => {
  let db: TestPostgres;
  let world: World;

  beforeAll(async () => {
    db = await startPostgres();
    world = await World.create({ wpc: 'seed.json', job: 'job-pg' });
  });
  afterAll(async () => {
    await world?.close();
    db?.destroy();
  });

  it('claw-jira db migrate creates the schema once, then has nothing to do', async () => {
    const url = await db.createDatabase('migrate_once');
    const first = await cli(['db', 'migrate'], { CLAW_STATE_URL: url });
    expect(first, first.err).toMatchObject({ code: 0 });
    const versions = MIGRATIONS.map((migration) => migration.version);
    expect(first.out).toContain(`applied migrations ${versions.join(', ')}: schema at version ${SCHEMA_VERSION}`);
    const again = await cli(['db', 'migrate'], { CLAW_STATE_URL: url });
    expect(again.out).toContain(`schema already at version ${SCHEMA_VERSION}`);
    expect(await sql<{ version: number }>(url, 'SELECT version FROM claw_schema ORDER BY version')).toEqual(versions.map((version) => ({ version })));
  });

  it('serve refuses to start on a schema it does not know: none yet, or a newer one', async () => {
    const fresh = await db.createDatabase('not_migrated');
    const outdated = await serveRefuses(world, { CLAW_STATE_URL: fresh });
    expect(outdated.code).toBe(3);
    expect(outdated.stderr).toContain('STATE_SCHEMA_OUTDATED');

    const newer = await db.createDatabase('from_the_future');
    await cli(['db', 'migrate'], { CLAW_STATE_URL: newer });
    await sql(newer, "INSERT INTO claw_schema (version, name) VALUES (99, 'a later claw-jira')");
    const unknown = await serveRefuses(world, { CLAW_STATE_URL: newer });
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('STATE_SCHEMA_UNKNOWN');
    // Nor does an older claw-jira "migrate" a newer schema.
    const migrate = await cli(['db', 'migrate'], { CLAW_STATE_URL: newer });
    expect(migrate.code).toBe(3);
    expect(migrate.err).toContain('STATE_SCHEMA_UNKNOWN');

    const wrongScheme = await serveRefuses(world, { CLAW_STATE_URL: 'mysql://claw@127.0.0.1/db' });
    expect(wrongScheme.stderr).toContain('STATE_URL_INVALID');
  });

  it('two processes claiming the same token ids at once: exactly one job wins each, and the row names it', async () => {
    const url = await db.createDatabase('replay_race');
    await cli(['db', 'migrate'], { CLAW_STATE_URL: url });
    const count = 200;
    const race = async (jobA: string, jobB: string) => {
      const startAt = String(Date.now() + 1_500);
      const dist = join(ROOT, 'dist');
      const [a, b] = await Promise.all([runNode([CLAIMER, dist, url, jobA, String(count), startAt]), runNode([CLAIMER, dist, url, jobB, String(count), startAt])]);
      for (const child of [a, b]) expect(child.code, child.stderr).toBe(0);
      return { a: JSON.parse(a.stdout) as string[], b: JSON.parse(b.stdout) as string[] };
    };
    const { a, b } = await race('job-a', 'job-b');
    const rows = await sql<{ jti_hash: string; job: string }>(url, 'SELECT jti_hash, job FROM claw_replay');
    const byHash = new Map(rows.map((row) => [row.jti_hash, row.job]));
    expect(rows).toHaveLength(count);
    for (let i = 0; i < count; i++) {
      const winners = [a[i] === 'ok' ? 'job-a' : undefined, b[i] === 'ok' ? 'job-b' : undefined].filter(Boolean);
      expect(winners, `id ${i}: ${a[i]} / ${b[i]}`).toHaveLength(1);
      expect([a[i], b[i]]).toContain('CST_REPLAYED');
      expect(byHash.get(sha256Hex(`race-token-id-${String(i).padStart(6, '0')}`))).toBe(winners[0]);
    }
    // Replicas of one job share its tokens: both succeed on every id.
    const same = await db.createDatabase('replay_same_job');
    await cli(['db', 'migrate'], { CLAW_STATE_URL: same });
    const both = await (async () => {
      const startAt = String(Date.now() + 1_500);
      const dist = join(ROOT, 'dist');
      return Promise.all([runNode([CLAIMER, dist, same, 'job-s', '50', startAt]), runNode([CLAIMER, dist, same, 'job-s', '50', startAt])]);
    })();
    for (const child of both) expect((JSON.parse(child.stdout) as string[]).filter((r) => r !== 'ok'), child.stderr).toEqual([]);
  });

  it('serve on Postgres records each token in the shared store, and refuses with 503 while the database is down', async () => {
    const url = await db.createDatabase('serve_state');
    await cli(['db', 'migrate'], { CLAW_STATE_URL: url });
    const serve = await startServe(world, { CLAW_STATE_URL: url });
    try {
      const readUrl = `${serve.url}/mcp/read`;
      const token = await endpointToken(world, readUrl);
      const client = await httpClient(readUrl, token);
      const result = await client.callTool({ name: 'jira_get_issue', arguments: { issue_key: 'ENG-1' } });
      expect(result.isError).not.toBe(true);
      await client.close();
      expect(await sql<{ job: string }>(url, 'SELECT job FROM claw_replay')).toEqual([{ job: 'job-pg' }]);

      db.stop();
      const during = await post(readUrl, LIST_TOOLS, { authorization: `Bearer ${await endpointToken(world, readUrl)}` });
      expect(during.status).toBe(503);
      expect(((await during.json()) as { error: { data: { code: string } } }).error.data.code).toBe('CST_REPLAY_STORE_UNAVAILABLE');
      expect(serviceRefusals(world, 'CST_REPLAY_STORE_UNAVAILABLE').length).toBeGreaterThan(0);

      db.start();
      // Two rows: the fresh token's, and the first one's, which must survive the crash (an immediate stop on a
      // cluster with synchronous_commit=off): the service asks for synchronous commit on its own connections.
      const after = await post(readUrl, LIST_TOOLS, { authorization: `Bearer ${await endpointToken(world, readUrl)}` });
      expect(after.status).toBe(200);
      expect(await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM claw_replay')).toEqual([{ n: '2' }]);
    } finally {
      db.start();
      await serve.stop();
    }
  });

  it('writes disable against the database stops every replica at its next write; reads go on; enable resumes', async () => {
    const url = await db.createDatabase('kill_switch');
    await cli(['db', 'migrate'], { CLAW_STATE_URL: url });
    const replicas = [await startServe(world, { CLAW_STATE_URL: url }), await startServe(world, { CLAW_STATE_URL: url })];
    try {
      const writers = await Promise.all(
        replicas.map(async (replica) => httpClient(`${replica.url}/mcp/write`, await endpointToken(world, `${replica.url}/mcp/write`))),
      );
      const create = (i: number, summary: string) =>
        (writers[i] as Awaited<ReturnType<typeof httpClient>>).callTool({ name: 'jira_create_issue', arguments: { project_key: 'ENG', issue_type: 'Task', summary } });
      expect((await create(0, 'before the switch')).isError).not.toBe(true);

      const disabled = await cli(['writes', 'disable', '--reason', 'incident 7'], { CLAW_STATE_URL: url });
      expect(disabled, disabled.err).toMatchObject({ code: 0 });
      expect((await cli(['writes', 'status'], { CLAW_STATE_URL: url })).out).toContain('writes DISABLED');
      const before = world.sim.stateHash();
      for (const i of [0, 1]) {
        const refused = await create(i, `after the switch, replica ${i}`);
        expect(refused.isError).toBe(true);
        expect((refused.structuredContent as { code?: string }).code).toBe('WRITES_DISABLED');
      }
      expect(world.sim.stateHash()).toBe(before);
      // The switch is the database row, not a file under CLAW_HOME.
      expect(existsSync(join(world.home, 'state', 'writes-disabled.json'))).toBe(false);
      // On Postgres the receipts are rows of the shared database, one session per replica.
      const lines = await sql<{ line: string }>(url, "SELECT line FROM claw_receipts WHERE job = 'job-pg'");
      const denials = lines.map((row) => JSON.parse(row.line) as Receipt).filter((receipt) => receipt.decision?.reasons.some((reason) => reason.code === 'WRITES_DISABLED'));
      expect(new Set(denials.map((receipt) => receipt.session)).size).toBe(2);
      const reader = await httpClient(`${replicas[1]?.url}/mcp/read`, await endpointToken(world, `${replicas[1]?.url}/mcp/read`));
      expect((await reader.callTool({ name: 'jira_get_issue', arguments: { issue_key: 'ENG-1' } })).isError).not.toBe(true);
      // The status tool, on either endpoint, reports the database switch (no file switch exists here).
      for (const client of [reader, writers[0] as Awaited<ReturnType<typeof httpClient>>]) {
        const status = (await client.callTool({ name: 'jira_get_server_status', arguments: {} })).structuredContent as { data: { writes: string; kill_switch?: { reason?: string } } };
        expect(status.data).toMatchObject({ writes: 'disabled', kill_switch: { reason: 'incident 7' } });
      }

      expect((await cli(['writes', 'enable'], { CLAW_STATE_URL: url })).out).toContain('writes enabled');
      expect((await create(1, 'after enable')).isError).not.toBe(true);
      const enabled = (await reader.callTool({ name: 'jira_get_server_status', arguments: {} })).structuredContent as { data: { writes: string } };
      expect(enabled.data.writes).toBe('enabled');
      for (const client of [...writers, reader]) await client.close();
    } finally {
      for (const replica of replicas) await replica.stop();
    }
  });

  it('a write request is refused with 503 when the kill switch cannot be read (database down)', async () => {
    const url = await db.createDatabase('kill_switch_outage');
    await cli(['db', 'migrate'], { CLAW_STATE_URL: url });
    const serve = await startServe(world, { CLAW_STATE_URL: url });
    try {
      const writeUrl = `${serve.url}/mcp/write`;
      const token = await endpointToken(world, writeUrl);
      // The token is claimed while the database is up; only the kill switch read meets the outage.
      expect((await post(writeUrl, LIST_TOOLS, { authorization: `Bearer ${token}` })).status).toBe(200);
      db.stop();
      const before = world.sim.stateHash();
      const call = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'jira_create_issue', arguments: { project_key: 'ENG', issue_type: 'Task', summary: 'during the outage' } } });
      const refused = await post(writeUrl, call, { authorization: `Bearer ${token}` });
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: { data: { code: string } } }).error.data.code).toBe('STATE_UNAVAILABLE');
      expect(world.sim.stateHash()).toBe(before);
    } finally {
      db.start();
      await serve.stop();
    }
  });

  it('binds a token id to one job across replicas with separate homes: of two tokens sharing a jti, exactly one is accepted', async () => {
    const url = await db.createDatabase('replay_replicas');
    await cli(['db', 'migrate'], { CLAW_STATE_URL: url });
    // A second host: the same keys and trust, its own file state. Only the database is shared.
    const home2 = join(world.dir, 'home-replica-2');
    cpSync(world.home, home2, { recursive: true });
    const replicas = [await startServe(world, { CLAW_STATE_URL: url }), await startServe(world, { CLAW_STATE_URL: url, CLAW_HOME: home2 })];
    try {
      const issuer = await loadSigningKey(clawHome(world.home), 'issuer');
      // What a faulty or compromised issuer could do: the same jti for two jobs, each validly signed.
      const endpoints = replicas.map((replica) => `${replica.url}/mcp/read`);
      // One audience list for both replicas, so only the job differs between the two tokens of a pair.
      const withJob = (token: string, job: string) => {
        const [header, payload] = token.split('.') as [string, string];
        const claims = { ...(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>), job, aud: endpoints };
        const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
        return `${input}.${Buffer.from(signBytes(issuer, Buffer.from(input, 'ascii'))).toString('base64url')}`;
      };
      const pairs = 12;
      const results = await Promise.all(
        Array.from({ length: pairs }, async () => {
          const base = await endpointToken(world, endpoints[0] as string);
          const responses = await Promise.all([
            post(endpoints[0] as string, LIST_TOOLS, { authorization: `Bearer ${withJob(base, 'job-one')}` }),
            post(endpoints[1] as string, LIST_TOOLS, { authorization: `Bearer ${withJob(base, 'job-two')}` }),
          ]);
          return Promise.all(responses.map(async (response) => (response.status === 200 ? 'ok' : (((await response.json()) as { error: { data: { code: string } } }).error.data.code))));
        }),
      );
      for (const pair of results) expect(pair.sort()).toEqual(['CST_REPLAYED', 'ok']);
      expect(await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM claw_replay')).toEqual([{ n: String(pairs) }]);
    } finally {
      for (const replica of replicas) await replica.stop();
    }
  });
});
