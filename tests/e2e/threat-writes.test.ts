/**
 * Threat rows "Silent no-op writes", "Crash mid-write" and "Runaway agent" (PRODUCT.md), plus the kill switch,
 * end to end: the built write server over stdio against the simulator with injected faults.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reviewBundle } from '../../src/bundle/review.js';
import { TrustStore } from '../../src/keys/trust.js';
import { verifyReceiptChain } from '../../src/receipts/chain.js';
import type { Receipt } from '../../src/receipts/types.js';
import { SIM_FIXTURES, type RunningSimulator } from '../../src/sim/index.js';
import { World, callTool, type Connected } from './harness.js';
import { waitFor } from '../helpers/wait.js';
import { WRITER_WPC, bundleOf, expectAllowed, expectRefused, hashOf, issuePath, mark, writesSince } from './threat-helpers.js';
import { useSimulator } from '../helpers/sim.js';

let sim: RunningSimulator;
useSimulator({ seed: 42, clearFaults: true }, (started) => {
  sim = started;
});

function summaryOf(key: string): unknown {
  return sim.snapshot().issues.find((issue) => issue.key === key)?.summary;
}

describe('threat: silent no-op writes (Jira answers success but does not apply)', () => {
  let world: World;
  let write: Connected;

  beforeAll(async () => {
    world = await World.create({ wpc: WRITER_WPC, sim, job: 'job-noop' });
    write = await world.connect('write');
  });
  afterAll(async () => world?.close());

  /** The call reports WRITE_NOT_APPLIED and the outcome receipt says not_applied, with the read-back values. */
  async function expectNotApplied(tool: string, args: Record<string, unknown>, method: string, path: string): Promise<Receipt> {
    sim.faults.add({ kind: 'noop_write', match: { method, pathPrefix: path } });
    const before = sim.stateHash();
    const seq = mark(sim);
    const result = await callTool(write, tool, args);
    expect(result.isError, result.text).toBe(true);
    expect(result.structured.code).toBe('WRITE_NOT_APPLIED');
    // The write did reach Jira (it answered success): this is not a refusal, it is a failed outcome.
    const sent = sim.requests().filter((request) => request.seq > seq && request.method === method && request.path.startsWith(path));
    expect(sent.map((request) => [request.status, request.fault])).toEqual([[sent[0]?.status, 'noop_write']]);
    expect(sent[0]?.status).toBeLessThan(300);
    expect(sim.stateHash()).toBe(before);
    const receipts = world.receipts();
    const outcome = receipts.find((receipt) => hashOf(receipt) === result.receipt) as Receipt;
    expect(outcome.kind).toBe('outcome');
    expect(outcome.outcome).toMatchObject({ status: 'not_applied', code: 'WRITE_NOT_APPLIED' });
    // Its decision receipt exists and allowed the call.
    const decision = receipts.find((receipt) => hashOf(receipt) === outcome.decision_ref);
    expect(decision?.decision?.effect).toBe('allow');
    return outcome;
  }

  it('an edit Jira acknowledges but does not apply is reported as failed, before == after in the receipt', async () => {
    const key = SIM_FIXTURES.issues.done;
    const was = summaryOf(key);
    const outcome = await expectNotApplied('jira_update_issue', { issue_key: key, summary: 'never applied' }, 'PUT', issuePath(sim, key));
    expect(outcome.changes).toEqual([{ issue: key, field: 'summary', before: was, after: was }]);
    // Positive control: without the fault the same call takes, and the receipt shows the change.
    const ok = await expectAllowed(write, 'jira_update_issue', { issue_key: key, summary: 'applied this time' });
    expect(summaryOf(key)).toBe('applied this time');
    const applied = world.receipts().find((receipt) => hashOf(receipt) === ok.receipt);
    expect(applied?.outcome?.status).toBe('succeeded');
    expect(applied?.changes).toEqual([{ issue: key, field: 'summary', before: was, after: 'applied this time' }]);
  });

  it('a comment Jira acknowledges but does not store is reported as failed', async () => {
    const key = SIM_FIXTURES.issues.todo;
    const outcome = await expectNotApplied('jira_add_comment', { issue_key: key, body: 'lost comment' }, 'POST', `${issuePath(sim, key)}/comment`);
    expect(outcome.changes).toEqual([{ issue: key, field: 'comment', before: null, after: null }]);
  });

  it('a transition Jira acknowledges but does not perform is reported as failed', async () => {
    const key = SIM_FIXTURES.issues.todo;
    const outcome = await expectNotApplied(
      'jira_transition_issue',
      { issue_key: key, transition: SIM_FIXTURES.transitions.start },
      'POST',
      `${issuePath(sim, key)}/transitions`,
    );
    const status = outcome.changes?.find((change) => change.field === 'status');
    expect(status?.before).toEqual(status?.after);
  });
});

describe('threat: crash mid-write (server killed while Jira holds the write)', () => {
  let world: World;

  beforeAll(async () => {
    world = await World.create({ wpc: WRITER_WPC, sim, job: 'job-crash' });
  });
  afterAll(async () => world?.close());

  it('the decision receipt is durable before the Jira call; the write without an outcome shows up in review as in-doubt', async () => {
    const key = 'ENG-16';
    const crash = await world.connect('write');
    expect(crash.pid).toEqual(expect.any(Number));
    sim.faults.add({ kind: 'latency', latencyMs: 2000, match: { method: 'PUT', pathPrefix: issuePath(sim, key) } });
    const seq = mark(sim);
    const pending = callTool(crash, 'jira_update_issue', { issue_key: key, summary: 'written while the server died' }).catch((error: unknown) => error);
    // Kill the server while the edit is in flight at Jira (sent, not answered).
    const inFlight = await waitFor('the edit to reach Jira', () =>
      sim.requests().find((request) => request.seq > seq && request.method === 'PUT' && request.path === issuePath(sim, key) && request.status === null),
    );
    process.kill(crash.pid as number, 'SIGKILL');
    expect(await pending).toBeInstanceOf(Error);

    const receipts = world.receipts();
    const decision = receipts.find((receipt) => receipt.kind === 'decision' && receipt.tool === 'jira_update_issue' && receipt.issue_keys?.includes(key));
    expect(decision?.decision?.effect).toBe('allow');
    const hash = hashOf(decision as Receipt);
    expect(receipts.filter((receipt) => receipt.decision_ref === hash)).toEqual([]);
    // The killed session's receipt file is whole: every line signed and chained, nothing cut mid-line.
    const trust = await TrustStore.load(`${world.home}/trust.json`);
    const file = `${world.bundleDir}/receipts/jira-write-${decision?.session}.jsonl`;
    const chain = verifyReceiptChain(readFileSync(file, 'utf8'), trust);
    expect(chain.problems).toEqual([]);
    expect(chain.head).toBe(hash);

    const review = reviewBundle(world.bundleDir);
    const inDoubt = review.exceptions.filter((exception) => exception.code === 'IN_DOUBT_WRITE');
    expect(inDoubt).toEqual([expect.objectContaining({ severity: 'high', issues: [key] })]);
    expect(review.stats.in_doubt).toBe(1);

    // Why "in doubt" and not "failed": Jira finishes the write after the server is gone.
    await waitFor('Jira to finish the edit', () => sim.requests().find((request) => request.seq === inFlight.seq && request.status !== null));
    expect(summaryOf(key)).toBe('written while the server died');
  });
});

describe('threat: runaway agent (budgets max_comments 2, max_creates 1)', () => {
  const BUDGET_WPC = {
    wpc_version: 'v1',
    tool: 'jira',
    description: 'threat suite: a tight per-job budget',
    allow: { projects: ['ENG'], operations: ['issue.get', 'issue.create', 'issue.comment.create'], fields_write_allowlist: ['summary'] },
    budgets: { max_comments: 2, max_creates: 1 },
  };
  let world: World;

  beforeAll(async () => {
    world = await World.create({ wpc: BUDGET_WPC, sim, job: 'job-budget' });
  });
  afterAll(async () => world?.close());

  it('the third comment and the second create are refused at the gate; the budget survives a restart', async () => {
    const key = SIM_FIXTURES.issues.todo;
    let write = await world.connect('write');
    await expectAllowed(write, 'jira_add_comment', { issue_key: key, body: 'one' });
    await expectAllowed(write, 'jira_add_comment', { issue_key: key, body: 'two' });
    const third = await expectRefused(world, write, 'jira_add_comment', { issue_key: key, body: 'three' }, 'BUDGET_EXCEEDED', { stage: 'budget' });
    expect(third.receipt.decision?.reasons).toEqual([{ code: 'BUDGET_EXCEEDED', rule: 'budgets.max_comments' }]);
    await expectAllowed(write, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: 'the one create' });
    await expectRefused(world, write, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: 'one too many' }, 'BUDGET_EXCEEDED');

    // A restarted server (same job) starts from the durable ledger, not from zero.
    await write.close();
    write = await world.connect('write');
    await expectRefused(world, write, 'jira_add_comment', { issue_key: key, body: 'after restart' }, 'BUDGET_EXCEEDED');
    await expectRefused(world, write, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: 'after restart' }, 'BUDGET_EXCEEDED');

    // Positive control: another job under the same policy has its own budget.
    const other = 'job-budget-2';
    const tokenFile = `${world.dir}/other-job.cst`;
    await world.issueToken([], tokenFile, other);
    const otherWrite = await world.connect('write', { CLAW_JOB_ID: other, CLAW_CST_FILE: tokenFile });
    await expectAllowed(otherWrite, 'jira_add_comment', { issue_key: key, body: 'another job, another budget' });
    expect(world.receipts(bundleOf(world, other)).some((receipt) => receipt.budget?.max_comments?.used === 1)).toBe(true);
  });
});

describe('kill switch: `claw-jira writes disable` on a running write server', () => {
  let world: World;

  beforeAll(async () => {
    world = await World.create({ wpc: WRITER_WPC, sim, job: 'job-kill' });
  });
  afterAll(async () => {
    await world?.cli(['writes', 'enable']);
    await world?.close();
  });

  it('stops the next write without a restart; reads go on; enabling lets writes through again', async () => {
    const key = SIM_FIXTURES.issues.done;
    const write = await world.connect('write');
    const read = await world.connect('read');
    await expectAllowed(write, 'jira_update_issue', { issue_key: key, summary: 'before the kill switch' });
    await world.cliOk(['writes', 'disable', '--reason', 'threat suite']);
    const { result } = await expectRefused(world, write, 'jira_update_issue', { issue_key: key, summary: 'while disabled' }, 'WRITES_DISABLED', {
      stage: 'kill_switch',
    });
    expect(result.structured.message).toContain('threat suite');
    await expectRefused(world, write, 'jira_add_comment', { issue_key: key, body: 'while disabled' }, 'WRITES_DISABLED');
    const got = await expectAllowed(read, 'jira_get_issue', { issue_key: key });
    expect((got.structured.data as { fields: { summary: string } }).fields.summary).toBe('before the kill switch');
    await world.cliOk(['writes', 'enable']);
    const seq = mark(sim);
    await expectAllowed(write, 'jira_update_issue', { issue_key: key, summary: 'after the kill switch' });
    expect(writesSince(sim, seq)).toEqual([{ method: 'PUT', path: issuePath(sim, key) }]);
    expect(summaryOf(key)).toBe('after the kill switch');
  });
});
