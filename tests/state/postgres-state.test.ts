/**
 * The Postgres implementations of the gate's state ports, each against a real PostgreSQL server (private
 * cluster, tests/helpers/postgres.ts), with two connection pools standing in for two replicas.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApprovalError } from '../../src/approvals/approvals.js';
import { BudgetExceeded } from '../../src/gate/budgets.js';
import { generateSigningKey, signingKeyFromJwk, type SigningKey } from '../../src/keys/ed25519.js';
import { TrustStore } from '../../src/keys/trust.js';
import { verifyReceiptChain } from '../../src/receipts/chain.js';
import { signChained } from '../../src/receipts/sign.js';
import type { ReceiptContent } from '../../src/receipts/types.js';
import { PostgresApprovals } from '../../src/state/postgres/approvals.js';
import { PostgresBudgets } from '../../src/state/postgres/budgets.js';
import { exportBundle } from '../../src/state/postgres/export.js';
import { PostgresGateState } from '../../src/state/postgres/gate-state.js';
import { migrate } from '../../src/state/postgres/migrations.js';
import { openStateDb, type StateDb } from '../../src/state/postgres/pool.js';
import { PostgresReceiptSink } from '../../src/state/postgres/receipts.js';
import { PostgresRevocationAnchor } from '../../src/state/postgres/revocation-anchor.js';
import { hashOfJson } from '../../src/util/canonical.js';
import type { Wpc } from '../../src/wpc/schema.js';
import { postgresUnavailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const unavailable = postgresUnavailable();
if (unavailable) process.stderr.write(`tests/state/postgres-state.test.ts: skipped: ${unavailable}\n`);

const WPC = { budgets: { max_creates: 5, max_writes: 100 } } as unknown as Wpc;

function event(n: number): ReceiptContent {
  return { kind: 'event', time: new Date(0).toISOString(), event: { type: 'test.event', n } };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? 'no code';
  }
}

describe.skipIf(unavailable !== undefined)('Postgres state ports on a real PostgreSQL server', () => {
  let pg: TestPostgres;
  let url: string;
  let a: StateDb;
  let b: StateDb;
  let receiptKey: SigningKey;
  let approverKey: SigningKey;
  let trust: TrustStore;
  let scratch: string;

  beforeAll(async () => {
    pg = await startPostgres();
    url = await pg.createDatabase('ports');
    a = openStateDb(url, { connectTimeoutMs: 2000 });
    b = openStateDb(url, { connectTimeoutMs: 2000 });
    await migrate(a);
    const receipt = await generateSigningKey();
    const approver = await generateSigningKey();
    receiptKey = await signingKeyFromJwk(receipt.privateJwk);
    approverKey = await signingKeyFromJwk(approver.privateJwk);
    trust = await TrustStore.fromFile({
      version: 1,
      keys: [
        { role: 'receipt', kid: receipt.kid, jwk: receipt.publicJwk },
        { role: 'approver', kid: approver.kid, jwk: approver.publicJwk },
      ],
    });
    scratch = mkdtempSync(join(tmpdir(), 'claw-pg-state-'));
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    pg?.destroy();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('budgets: 40 concurrent creates on two replicas spend exactly max_creates, the rest are refused and spend nothing', async () => {
    const replicas = [new PostgresBudgets(a, 'job-budget'), new PostgresBudgets(b, 'job-budget')];
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => codeOf((replicas[i % 2] as PostgresBudgets).spend('issue.create', WPC))));
    expect(results.filter((r) => r === 'ok')).toHaveLength(5);
    expect(results.filter((r) => r === 'BUDGET_EXCEEDED')).toHaveLength(35);
    // A refused create did not spend its max_writes unit either (one transaction per call).
    const rows = await a.query<{ name: string; used: number }>('SELECT name, used FROM claw_budgets WHERE job = $1 ORDER BY name', ['job-budget']);
    expect(rows).toEqual([
      { name: 'max_creates', used: 5 },
      { name: 'max_writes', used: 5 },
    ]);
    await expect((replicas[1] as PostgresBudgets).check('issue.create', WPC)).rejects.toBeInstanceOf(BudgetExceeded);
    await expect((replicas[0] as PostgresBudgets).check('issue.update', WPC)).resolves.toBeUndefined();
  });

  it('approvals: filed once per call, capped per job, approved by the CLI path, consumed exactly once across replicas', async () => {
    const replicas = [new PostgresApprovals(a, { maxPending: 2 }), new PostgresApprovals(b, { maxPending: 2 })];
    const args = { issue_key: 'ENG-1' };
    const input = {
      job: 'job-approve',
      server: 'jira-write',
      tool: 'jira_delete_issue',
      operation: 'issue.delete',
      args_hash: hashOfJson(args),
      args,
      target: { project: 'ENG', issue_keys: ['ENG-1'] },
      wpc_hash: `sha256:${'a'.repeat(64)}`,
    };
    const now = new Date();
    const [first, second] = await Promise.all([replicas[0]?.fileRequest(input, now), replicas[1]?.fileRequest(input, now)]);
    expect(first?.request_id).toBe(second?.request_id);
    await (replicas[0] as PostgresApprovals).fileRequest({ ...input, args_hash: 'sha256:other' }, now);
    expect(await codeOf((replicas[1] as PostgresApprovals).fileRequest({ ...input, args_hash: 'sha256:third' }, now))).toBe('APPROVAL_REQUESTS_CAPPED');

    const call = { job: input.job, tool: input.tool, args_hash: input.args_hash, wpc_hash: input.wpc_hash };
    expect(await replicas[0]?.consume(call, trust, now)).toBeUndefined();
    await (replicas[1] as PostgresApprovals).approve(first?.request_id as string, approverKey, { ttlSeconds: 60, approver: 'alice' });
    const uses = await Promise.all(Array.from({ length: 8 }, (_, i) => (replicas[i % 2] as PostgresApprovals).consume(call, trust, new Date())));
    expect(uses.filter((use) => use !== undefined)).toHaveLength(1);
    // Used: signing it again is refused, and a new request is filed for the same call.
    await expect((replicas[0] as PostgresApprovals).approve(first?.request_id as string, approverKey, { ttlSeconds: 60, approver: 'alice' })).rejects.toBeInstanceOf(ApprovalError);
    const refiled = await (replicas[0] as PostgresApprovals).fileRequest(input, new Date());
    expect(refiled.request_id).not.toBe(first?.request_id);
    // Confirmed by the user at the client instead (elicitation): closed once, exported as the gate records it.
    await (replicas[1] as PostgresApprovals).markUsed(refiled.request_id, input.job, new Date());
    await new PostgresGateState(a, { receiptKey, trust }).forJob(input.job);
    const out = join(scratch, 'export-approvals');
    expect(await exportBundle(a, input.job, out)).toMatchObject({ approvals: 3 });
    const record = (id: string) => JSON.parse(readFileSync(join(out, 'approvals', `${id}.json`), 'utf8')) as Record<string, unknown>;
    expect(record(first?.request_id as string)).toMatchObject({ request: { request_id: first?.request_id }, approval: expect.any(String), used_at: expect.any(String) });
    expect(record(refiled.request_id)).toMatchObject({ request: { request_id: refiled.request_id }, elicitation: { accepted: true } });
  });

  it('revocation high-water mark: no replica accepts a list older (or as old and different) than any replica saw', async () => {
    const [one, two] = [new PostgresRevocationAnchor(a), new PostgresRevocationAnchor(b)];
    await one.accept({ iat: 100, hash: 'sha256:list-100' });
    await two.accept({ iat: 100, hash: 'sha256:list-100' });
    expect(await codeOf(two.accept({ iat: 99, hash: 'sha256:list-99' }))).toBe('REVOCATION_ROLLBACK');
    expect(await codeOf(two.accept({ iat: 100, hash: 'sha256:forged-100' }))).toBe('REVOCATION_ROLLBACK');
    await Promise.all([one.accept({ iat: 120, hash: 'sha256:list-120' }), two.accept({ iat: 110, hash: 'sha256:list-110' }).catch(() => undefined)]);
    expect(await codeOf(one.accept({ iat: 110, hash: 'sha256:list-110' }))).toBe('REVOCATION_ROLLBACK');
    expect(await a.query('SELECT iat::int AS iat, hash FROM claw_revocation')).toEqual([{ iat: 120, hash: 'sha256:list-120' }]);
  });

  it('receipts: the same signed chain as the file log, concurrent calls share commits, the export verifies', async () => {
    const state = new PostgresGateState(a, { receiptKey, trust });
    const gateState = await state.forJob('job-receipts');
    const sink = gateState.receipts?.({ job: 'job-receipts', server: 'jira-write', runId: 'ignored' }) as PostgresReceiptSink;
    const appended = await Promise.all(Array.from({ length: 24 }, (_, i) => sink.appendDurable(event(i))));
    expect(appended.map((r) => r.receipt.seq)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(sink.commits).toBeLessThan(24);
    // Byte for byte what the file log signs for the same place in the chain.
    const first = appended[0];
    const runId = (await a.query<{ run_id: string }>('SELECT run_id FROM claw_jobs WHERE job = $1', ['job-receipts']))[0]?.run_id;
    expect(first?.hash).toBe(signChained(event(0), { job: 'job-receipts', server: 'jira-write', session: sink.session, seq: 1, prev: null, runId }, receiptKey).hash);
    await sink.closeDurably(event(99));

    const out = join(scratch, 'export-receipts');
    const summary = await exportBundle(b, 'job-receipts', out);
    expect(summary).toMatchObject({ sessions: 1, receipts: 25 });
    const file = join(out, 'receipts', readdirSync(join(out, 'receipts'))[0] as string);
    const report = verifyReceiptChain(readFileSync(file, 'utf8'), trust);
    expect(report.problems).toEqual([]);
    expect(report.count).toBe(25);
    expect(await codeOf(exportBundle(b, 'job-receipts', out))).toBe('STATE_EXPORT_TARGET_EXISTS');
    expect(await codeOf(exportBundle(b, 'job-nobody', join(scratch, 'none')))).toBe('STATE_JOB_UNKNOWN');
    // A receipt deleted in the database, or the newest ones cut off, is refused at export, not exported as a shorter chain.
    await a.query("DELETE FROM claw_receipts WHERE job = 'job-receipts' AND seq = 25");
    expect(await codeOf(exportBundle(b, 'job-receipts', join(scratch, 'cut')))).toBe('STATE_SESSION_INCOMPLETE');
    expect(existsSync(join(scratch, 'cut'))).toBe(false);
    await a.query("DELETE FROM claw_receipts WHERE job = 'job-receipts' AND seq = 7");
    await a.query("UPDATE claw_sessions SET seq = 23 WHERE job = 'job-receipts'");
    expect(await codeOf(exportBundle(b, 'job-receipts', join(scratch, 'gap')))).toBe('STATE_SESSION_INCOMPLETE');
  });

  it('receipts: a failed commit fails every waiter and writes none of its rows; the chain goes on from the committed head', async () => {
    // A database that fails the receipts INSERT of one commit, after the session row was already updated in it.
    let failNext = false;
    const flaky: StateDb = {
      query: a.query,
      close: async () => undefined,
      transaction: (fn) =>
        a.transaction((query) =>
          fn(async (sql, params) => {
            if (failNext && sql.startsWith('INSERT INTO claw_receipts')) {
              failNext = false;
              await query('SELECT 1/0');
            }
            return query(sql, params);
          }),
        ),
    };
    await new PostgresGateState(a, { receiptKey, trust }).forJob('job-flaky');
    const sink = new PostgresReceiptSink(flaky, { job: 'job-flaky', server: 'jira-read', key: receiptKey, runId: 'run_x' });
    await sink.appendDurable(event(1));
    failNext = true;
    const failed = await Promise.all(Array.from({ length: 6 }, (_, i) => codeOf(sink.appendDurable(event(10 + i)))));
    expect(failed).toEqual(Array(6).fill('STATE_UNAVAILABLE'));
    const rows = await a.query<{ seq: number }>('SELECT seq FROM claw_receipts WHERE job = $1 ORDER BY seq', ['job-flaky']);
    expect(rows).toEqual([{ seq: 1 }]);
    expect(await a.query('SELECT seq, head IS NOT NULL AS head FROM claw_sessions WHERE job = $1', ['job-flaky'])).toEqual([{ seq: 1, head: true }]);
    // Refused until it has read its head back; then it continues the chain from seq 2.
    let next: string = 'STATE_UNAVAILABLE';
    for (let i = 0; i < 50 && next === 'STATE_UNAVAILABLE'; i++) {
      next = await codeOf(sink.appendDurable(event(2)));
      if (next === 'STATE_UNAVAILABLE') await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(next).toBe('ok');
    await sink.closeDurably();
    const out = join(scratch, 'export-flaky');
    await exportBundle(a, 'job-flaky', out);
    const text = readFileSync(join(out, 'receipts', `jira-read-${sink.session}.jsonl`), 'utf8');
    expect(verifyReceiptChain(text, trust)).toMatchObject({ ok: true, count: 2 });
  });

  it('database outage: every port refuses with STATE_UNAVAILABLE, and receipts resume after it', async () => {
    const state = new PostgresGateState(a, { receiptKey, trust });
    const gateState = await state.forJob('job-outage');
    const sink = gateState.receipts?.({ job: 'job-outage', server: 'jira-write', runId: 'ignored' }) as PostgresReceiptSink;
    await sink.appendDurable(event(0));
    pg.stop();
    try {
      expect(await codeOf(sink.appendDurable(event(1)))).toBe('STATE_UNAVAILABLE');
      expect(await codeOf(gateState.budgets?.spend('issue.create', WPC) as Promise<unknown>)).toBe('STATE_UNAVAILABLE');
      expect(await codeOf(gateState.approvals?.consume({ job: 'job-outage', tool: 't', args_hash: 'h', wpc_hash: 'w' }, trust, new Date()) as Promise<unknown>)).toBe('STATE_UNAVAILABLE');
      expect(await codeOf(gateState.revocation?.accept({ iat: 500, hash: 'sha256:x' }) as Promise<unknown>)).toBe('STATE_UNAVAILABLE');
      expect(await codeOf(state.forJob('job-outage-2'))).toBe('STATE_UNAVAILABLE');
    } finally {
      pg.start();
    }
    let next = 'STATE_UNAVAILABLE';
    for (let i = 0; i < 100 && next === 'STATE_UNAVAILABLE'; i++) {
      next = await codeOf(sink.appendDurable(event(2)));
      if (next === 'STATE_UNAVAILABLE') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(next).toBe('ok');
    const rows = await a.query<{ seq: number }>('SELECT seq FROM claw_receipts WHERE job = $1 ORDER BY seq', ['job-outage']);
    expect(rows).toEqual([{ seq: 1 }, { seq: 2 }]);
  });
});
