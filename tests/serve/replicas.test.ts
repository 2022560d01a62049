/**
 * Three `claw-jira serve` replicas (the built bin, each with its own CLAW_HOME as on its own host: same keys and
 * trust, nothing else shared) on one real PostgreSQL, behind one public URL as behind a load balancer, with
 * clients connecting to different replicas at once. What must hold across every replica: a token id bound to
 * one job, max_creates never exceeded (counted in the simulator), an approval used once, the kill switch, a
 * replica killed mid-write losing no receipt, and `bundle export` gathering every replica's sessions.
 */
import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clawHome } from '../../src/config/home.js';
import { signBytes } from '../../src/keys/ed25519.js';
import { loadSigningKey } from '../../src/keys/store.js';
import { receiptHash } from '../../src/receipts/sign.js';
import type { Receipt } from '../../src/receipts/types.js';
import { ROOT, World } from '../e2e/harness.js';
import { issuePath } from '../e2e/threat-helpers.js';
import { postgresUnavailable, sql, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { cliBin as cli, endpointToken, httpClient, LIST_TOOLS, post, startServe, type RunningServe } from './harness.js';

const unavailable = postgresUnavailable();
if (unavailable) process.stderr.write(`tests/serve/replicas.test.ts: skipped: ${unavailable}\n`);

/** The one URL agents use (a load balancer in front of the replicas): every token's audience. */
const PUBLIC_URL = 'http://claw-gate.test';
const MAX_CREATES = 6;

const dev = JSON.parse(readFileSync(join(ROOT, 'wpc-examples', 'dev.json'), 'utf8')) as Record<string, unknown>;
const WPC = { ...dev, approval: { operations: ['issue.comment.create'], ttl_seconds: 600 }, budgets: { max_creates: MAX_CREATES, max_writes: 200, max_comments: 100 } };

type Client = Awaited<ReturnType<typeof httpClient>>;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function codeOf(result: unknown): string {
  const { isError, structuredContent } = result as { isError?: unknown; structuredContent?: { code?: string } };
  return isError === true ? String(structuredContent?.code) : 'ok';
}

describe.skipIf(unavailable !== undefined)('serve replicas on one PostgreSQL', () => {
  let db: TestPostgres;
  let world: World;
  let url: string;
  const homes: string[] = [];
  const replicas: { serve: RunningServe; base: string; home: string }[] = [];
  const writers: Client[] = [];

  const query = <Row extends object>(text: string, params: unknown[] = []) => sql<Row>(url, text, params);

  const startReplica = async (home: string) => {
    const port = await freePort();
    const serve = await startServe(world, { CLAW_STATE_URL: url, CLAW_HOME: home, CLAW_SERVE_PUBLIC_URL: PUBLIC_URL }, ['--port', String(port)]);
    return { serve, base: `http://127.0.0.1:${port}`, home };
  };

  const issuesNamed = (prefix: string) => world.sim.snapshot().issues.filter((issue) => issue.summary.startsWith(prefix));

  beforeAll(async () => {
    db = await startPostgres();
    url = await db.createDatabase('replicas');
    world = await World.create({ wpc: WPC, job: 'job-replicas' });
    expect((await cli(['db', 'migrate'], { CLAW_STATE_URL: url })).code).toBe(0);
    homes.push(world.home);
    for (const n of [2, 3]) {
      const home = join(world.dir, `home-replica-${n}`);
      cpSync(world.home, home, { recursive: true });
      homes.push(home);
    }
    replicas.push(...(await Promise.all(homes.map((home) => startReplica(home)))));
    const token = await endpointToken(world, `${PUBLIC_URL}/mcp/write`);
    for (const replica of replicas) writers.push(await httpClient(`${replica.base}/mcp/write`, token));
  }, 60_000);

  afterAll(async () => {
    for (const client of writers) await client.close().catch(() => undefined);
    for (const replica of replicas) await replica.serve.stop();
    await world?.close();
    db?.destroy();
  });

  const writer = (i: number) => writers[i % writers.length] as Client;

  it("binds a token id to its job on every replica: its own job's calls pass everywhere, a copy for another job is refused everywhere", async () => {
    const token = await endpointToken(world, `${PUBLIC_URL}/mcp/read`);
    const own = await Promise.all(replicas.flatMap((replica) => [0, 1, 2].map(() => post(`${replica.base}/mcp/read`, LIST_TOOLS, { authorization: `Bearer ${token}` }))));
    expect(own.map((response) => response.status)).toEqual(Array(9).fill(200));
    // What a faulty issuer could mint: the same jti, validly signed, for another job.
    const issuer = await loadSigningKey(clawHome(world.home), 'issuer');
    const [header, payload] = token.split('.') as [string, string];
    const claims = { ...(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>), job: 'job-elsewhere' };
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const copy = `${input}.${Buffer.from(signBytes(issuer, Buffer.from(input, 'ascii'))).toString('base64url')}`;
    const refused = await Promise.all(replicas.map((replica) => post(`${replica.base}/mcp/read`, LIST_TOOLS, { authorization: `Bearer ${copy}` })));
    for (const response of refused) {
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { data: { code: string } } }).error.data.code).toBe('CST_REPLAYED');
    }
  });

  it(`never creates more than max_creates (${MAX_CREATES}) issues, with 18 creates racing on three replicas`, async () => {
    const results = await Promise.all(
      Array.from({ length: 18 }, (_, i) =>
        writer(i).callTool({ name: 'jira_create_issue', arguments: { project_key: 'ENG', issue_type: 'Task', summary: `budget race ${i}` } }),
      ),
    );
    const codes = results.map(codeOf);
    expect(codes.filter((code) => code === 'ok')).toHaveLength(MAX_CREATES);
    expect(codes.filter((code) => code === 'BUDGET_EXCEEDED')).toHaveLength(18 - MAX_CREATES);
    expect(issuesNamed('budget race')).toHaveLength(MAX_CREATES);
    expect(await query("SELECT used FROM claw_budgets WHERE job = 'job-replicas' AND name = 'max_creates'")).toEqual([{ used: MAX_CREATES }]);
  });

  it('runs an approved call once, when the identical call arrives at all three replicas at once', async () => {
    // An issue of a type the WPC allows: one the race above created.
    const key = (issuesNamed('budget race')[0] as { key: string }).key;
    const call = { name: 'jira_add_comment', arguments: { issue_key: key, body: 'approved once, across replicas' } };
    const first = await writer(0).callTool(call);
    expect(codeOf(first)).toBe('APPROVAL_REQUIRED');
    const id = String((first.structuredContent as { approval_request_id?: string }).approval_request_id);
    // The same call on another replica finds the same pending request in the database.
    expect((((await writer(1).callTool(call)).structuredContent) as { approval_request_id?: string }).approval_request_id).toBe(id);
    expect((await cli(['approve', '--list'], { CLAW_HOME: world.home, CLAW_STATE_URL: url })).out).toContain(id);
    const approved = await cli(['approve', id, '--yes'], { CLAW_HOME: world.home, CLAW_STATE_URL: url });
    expect(approved, approved.err).toMatchObject({ code: 0 });
    const before = world.sim.snapshot().issues.find((issue) => issue.key === key)?.comments.length ?? 0;
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => writer(i).callTool(call)));
    expect(results.map(codeOf).filter((code) => code === 'ok')).toHaveLength(1);
    expect(results.map(codeOf).filter((code) => code !== 'ok')).toEqual(Array(5).fill('APPROVAL_REQUIRED'));
    const comments = world.sim.snapshot().issues.find((issue) => issue.key === key)?.comments ?? [];
    expect(comments.length - before).toBe(1);
    expect(await query('SELECT used_via FROM claw_approvals WHERE request_id = $1', [id])).toEqual([{ used_via: 'signed' }]);
  });

  it('writes disable against the database stops every replica at its next call', async () => {
    expect((await cli(['writes', 'disable', '--reason', 'drill'], { CLAW_STATE_URL: url })).code).toBe(0);
    try {
      const before = world.sim.stateHash();
      const results = await Promise.all(replicas.map((_, i) => writer(i).callTool({ name: 'jira_update_issue', arguments: { issue_key: 'ENG-3', summary: `while disabled ${i}` } })));
      expect(results.map(codeOf)).toEqual(Array(replicas.length).fill('WRITES_DISABLED'));
      expect(world.sim.stateHash()).toBe(before);
    } finally {
      expect((await cli(['writes', 'enable'], { CLAW_STATE_URL: url })).code).toBe(0);
    }
  });

  it('a replica started on an older revocation list than another replica accepted refuses every token until it has the newest list', async () => {
    // A new list, published on the first replica's host only (the others still hold the older copy).
    await world.cliOk(['cst', 'revoke', '--jti', 'jti-of-a-leaked-token']);
    const token = await endpointToken(world, `${PUBLIC_URL}/mcp/read`);
    const list = (replica: number) => post(`${(replicas[replica] as (typeof replicas)[number]).base}/mcp/read`, LIST_TOOLS, { authorization: `Bearer ${token}` });
    expect((await list(0)).status).toBe(200);
    const mark = await query<{ iat: string }>('SELECT iat FROM claw_revocation');
    expect(mark).toHaveLength(1);
    // The second replica restarts on its host's older list: below the mark, so it is a rolled-back list.
    await writer(1).close();
    await (replicas[1] as (typeof replicas)[number]).serve.stop();
    replicas[1] = await startReplica(homes[1] as string);
    const refused = await list(1);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { data: { code: string } } }).error.data.code).toBe('REVOCATION_ROLLBACK');
    // Once its host has the newest list, it serves again (and so will the third host, after its restart below).
    for (const home of homes.slice(1)) cpSync(clawHome(world.home).revocationFile, clawHome(home).revocationFile);
    expect((await list(1)).status).toBe(200);
    writers[1] = await httpClient(`${(replicas[1] as (typeof replicas)[number]).base}/mcp/write`, await endpointToken(world, `${PUBLIC_URL}/mcp/write`));
  });

  it('a replica SIGKILLed mid-write leaves its durable decision receipt; after export, review shows the write in doubt and the bundle verifies', async () => {
    const victim = replicas[2] as (typeof replicas)[number];
    const pid = victim.serve.child.pid as number;
    const [target, after] = issuesNamed('budget race').map((issue) => issue.key) as [string, string];
    // Jira holds the write long enough for the kill to land while it is in flight.
    world.sim.faults.add({ kind: 'latency', latencyMs: 5_000, match: { method: 'PUT', pathPrefix: issuePath(world.sim, target) }, times: 1 });
    const pending = writer(2).callTool({ name: 'jira_update_issue', arguments: { issue_key: target, summary: 'cut off by a crash' } }).catch((error: unknown) => error);
    const decisions = async () =>
      (await query<{ line: string }>("SELECT line FROM claw_receipts WHERE job = 'job-replicas' AND line LIKE $1", ['%"tool":"jira_update_issue"%']))
        .map((row) => JSON.parse(row.line) as Receipt)
        .filter((receipt) => receipt.kind === 'decision' && receipt.decision?.effect === 'allow' && receipt.issue_keys?.includes(target));
    for (let i = 0; i < 200 && (await decisions()).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(await decisions()).toHaveLength(1);
    victim.serve.child.kill('SIGKILL');
    await victim.serve.exited;
    await pending;
    world.sim.faults.clear();
    // The replica comes back (a new process, a new session); its old session stays in the database as it was.
    replicas[2] = await startReplica(victim.home);
    const token = await endpointToken(world, `${PUBLIC_URL}/mcp/write`);
    await writer(2).close().catch(() => undefined);
    writers[2] = await httpClient(`${(replicas[2] as (typeof replicas)[number]).base}/mcp/write`, token);
    expect(codeOf(await writer(2).callTool({ name: 'jira_update_issue', arguments: { issue_key: after, summary: 'after the restart' } }))).toBe('ok');

    // Clean stops first, so every other session ends in its closing receipt.
    for (const client of writers.splice(0)) await client.close();
    for (const replica of replicas.splice(0)) await replica.serve.stop();

    const out = join(world.dir, 'exported');
    const exported = await cli(['bundle', 'export', 'job-replicas', '-o', out], { CLAW_STATE_URL: url });
    expect(exported, exported.err).toMatchObject({ code: 0 });
    const files = readdirSync(join(out, 'receipts'));
    const lines = files.flatMap((file) => readFileSync(join(out, 'receipts', file), 'utf8').split('\n').filter(Boolean));
    const receipts = lines.map((line) => JSON.parse(line) as Receipt);
    // Every replica's sessions, and each receipt once: the rows in the database are exactly the exported lines.
    const pids = new Set(receipts.filter((r) => r.event?.type === 'server.start').map((r) => r.event?.pid));
    // Three replicas, two of them restarted once (the revocation and the SIGKILL tests): five processes.
    expect(pids.size).toBe(5);
    expect(pids.has(pid)).toBe(true);
    expect((await query<{ n: string }>("SELECT count(*) AS n FROM claw_receipts WHERE job = 'job-replicas'"))[0]?.n).toBe(String(receipts.length));
    expect(new Set(receipts.map((r) => `${r.session}:${r.seq}`)).size).toBe(receipts.length);
    const killed = lines.filter((line, i) => {
      const r = receipts[i] as Receipt;
      return r.kind === 'decision' && r.tool === 'jira_update_issue' && r.decision?.effect === 'allow' && r.issue_keys?.includes(target);
    });
    expect(killed).toHaveLength(1);
    expect(receipts.filter((r) => r.decision_ref === receiptHash(killed[0] as string))).toEqual([]);
    expect(existsSync(join(out, 'keys', 'trust.json'))).toBe(true);
    expect(readdirSync(join(out, 'wpc')).sort()).toHaveLength(2);
    expect(readdirSync(join(out, 'approvals')).length).toBeGreaterThan(0);

    const env = { CLAW_HOME: world.home, CLAW_JOB_ID: 'job-replicas' };
    const review = await cli(['bundle', 'review', out, '--json'], env);
    const summary = JSON.parse(review.out) as { stats: { in_doubt: number; issues_created: string[]; approvals_used: number }; exceptions: { code: string; issues?: string[] }[] };
    expect(summary.stats.in_doubt).toBe(1);
    expect(summary.exceptions.filter((e) => e.code === 'IN_DOUBT_WRITE').map((e) => e.issues)).toEqual([[target]]);
    expect(summary.stats.issues_created).toHaveLength(MAX_CREATES);
    expect(summary.stats.approvals_used).toBe(1);
    const sealed = await cli(['bundle', 'seal', out], env);
    expect(sealed, sealed.err).toMatchObject({ code: 0 });
    const verified = await cli(['bundle', 'verify', out, '--trust', clawHome(world.home).trustFile], env);
    expect(verified, verified.out).toMatchObject({ code: 0 });

    // A receipt row edited in the database (the in-doubt write's decision turned into a denial) is caught by
    // verify on the next export: the database is storage, the signatures are the proof.
    await query("UPDATE claw_receipts SET line = replace(line, '\"effect\":\"allow\"', '\"effect\":\"deny\"') WHERE job = 'job-replicas' AND line = $1", [killed[0]]);
    const again = join(world.dir, 'exported-after-edit');
    expect((await cli(['bundle', 'export', 'job-replicas', '-o', again], { CLAW_STATE_URL: url })).code).toBe(0);
    const tampered = await cli(['bundle', 'verify', again, '--trust', clawHome(world.home).trustFile, '--json'], env);
    expect(tampered.code).toBe(1);
    expect(tampered.out).toContain('RECEIPT_BAD_SIGNATURE');
  });
});
