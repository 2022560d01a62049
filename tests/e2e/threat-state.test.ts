/**
 * Threat row "Rollback of local state" (PRODUCT.md) and the write path, end to end: the built servers over
 * stdio against the simulator. Each attack edits, deletes or rolls back a file under CLAW_HOME (or races the
 * write path) and must leave Jira unchanged with a denial receipt naming the refusal.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reviewBundle } from '../../src/bundle/review.js';
import { clawHome } from '../../src/config/home.js';
import { SIM_FIXTURES, type RunningSimulator } from '../../src/sim/index.js';
import { World, callTool, type Connected } from './harness.js';
import { waitFor } from '../helpers/wait.js';
import { expectAllowed, expectRefused, hashOf, mark, writesSince } from './threat-helpers.js';
import { useSimulator } from '../helpers/sim.js';
import { startStub, type Stub } from '../helpers/stub.js';

let sim: RunningSimulator;
useSimulator({ seed: 42, clearFaults: true }, (started) => {
  sim = started;
});

const STATE_WPC = {
  wpc_version: 'v1',
  tool: 'jira',
  description: 'threat suite: local state',
  allow: {
    projects: ['ENG'],
    operations: ['issue.get', 'issue.create', 'issue.update', 'issue.comment.create'],
    issue_types: ['Bug', 'Task', 'Story'],
    fields_write_allowlist: ['summary', 'description'],
  },
  approval: { operations: ['issue.create'] },
  budgets: { max_writes: 50 },
} as const;

const get = { issue_key: 'ENG-6' };
const update = (summary: string) => ({ issue_key: SIM_FIXTURES.issues.todo, summary });

describe('threat: rollback of the revocation list', () => {
  let world: World;
  let http: Stub;
  let served = '';
  let url = '';

  beforeAll(async () => {
    world = await World.create({ wpc: STATE_WPC, sim, job: 'job-revocation' });
    http = await startStub((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/jose' });
      res.end(served);
    });
    url = `${http.url}/revocations.jws`;
  });
  afterAll(async () => {
    await http.close();
    await world?.close();
  });

  it('an older signed list put back in CLAW_REVOCATION_FILE does not un-revoke a token for a server started afterwards', async () => {
    const listFile = clawHome(world.home).revocationFile;
    const token = join(world.dir, 'file-revoked.cst');
    await world.issueToken([], token);
    const old = readFileSync(listFile, 'utf8');
    const read = await world.connect('read', { CLAW_CST_FILE: token });
    await expectAllowed(read, 'jira_get_issue', get);
    await world.cliOk(['cst', 'revoke', token, '--reason', 'threat suite']);
    await expectRefused(world, read, 'jira_get_issue', get, 'CST_REVOKED');
    await read.close();
    // The attack: the list from before the revocation, validly signed by the issuer, put back.
    const revoked = readFileSync(listFile, 'utf8');
    writeFileSync(listFile, old);
    const restarted = await world.connect('read', { CLAW_CST_FILE: token });
    await expectRefused(world, restarted, 'jira_get_issue', get, 'REVOCATION_ROLLBACK', { stage: 'cst' });
    // A running server refuses it too (it already knew the newer list).
    writeFileSync(listFile, revoked);
    await expectRefused(world, restarted, 'jira_get_issue', get, 'CST_REVOKED');
    writeFileSync(listFile, old);
    await expectRefused(world, restarted, 'jira_get_issue', get, 'REVOCATION_ROLLBACK');
    writeFileSync(listFile, revoked);
    await restarted.close();
  });

  it('an older signed list served at CLAW_REVOCATION_URL does not un-revoke a token for a server started afterwards', async () => {
    const listFile = clawHome(world.home).revocationFile;
    const token = join(world.dir, 'url-revoked.cst');
    await world.issueToken([], token);
    const old = readFileSync(listFile, 'utf8');
    served = old;
    const env = { CLAW_CST_FILE: token, CLAW_REVOCATION_URL: url };
    const first = await world.connect('read', env);
    await expectAllowed(first, 'jira_get_issue', get);
    await first.close();
    await world.cliOk(['cst', 'revoke', token]);
    served = readFileSync(listFile, 'utf8');
    const second = await world.connect('read', env);
    await expectRefused(world, second, 'jira_get_issue', get, 'CST_REVOKED');
    await second.close();
    served = old;
    const third = await world.connect('read', env);
    await expectRefused(world, third, 'jira_get_issue', get, 'REVOCATION_ROLLBACK', { stage: 'cst' });
    await third.close();
  });

  it('a plain-http revocation URL to a host that is not loopback is refused', async () => {
    const read = await world.connect('read', { CLAW_REVOCATION_URL: 'http://revocations.example.com/list.jws' });
    const { receipt } = await expectRefused(world, read, 'jira_get_issue', get, 'REVOCATION_URL_INSECURE');
    expect(receipt.decision?.stage).toBe('config');
    await read.close();
  });
});

describe('threat: approvals and budgets rewritten on disk', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({ wpc: STATE_WPC, sim, job: 'job-ledger' });
  });
  afterAll(async () => world?.close());

  it('a deleted .used marker does not let the approval run again in a new session', async () => {
    const args = { project_key: 'ENG', issue_type: 'Task', summary: 'approved exactly once, across restarts' };
    const write = await world.connect('write');
    const first = await callTool(write, 'jira_create_issue', args);
    expect(first.structured.code).toBe('APPROVAL_REQUIRED');
    await world.cliOk(['approve', String(first.structured.approval_request_id), '--yes']);
    await expectAllowed(write, 'jira_create_issue', args);
    await write.close();
    const dir = clawHome(world.home).approvalsDir;
    const markers = readdirSync(dir).filter((name) => name.endsWith('.used'));
    expect(markers).toHaveLength(1);
    for (const name of markers) rmSync(join(dir, name));
    const restarted = await world.connect('write');
    await expectRefused(world, restarted, 'jira_create_issue', args, 'APPROVAL_REQUIRED', { stage: 'approval' });
    await restarted.close();
    expect(reviewBundle(world.bundleDir).exceptions.some((e) => e.code === 'APPROVAL_REUSED')).toBe(false);
  });

  it('a rewritten, garbled or deleted budget file is detected and refused, on a running server and after a restart', async () => {
    const file = join(clawHome(world.home).stateDir, 'budgets', `${world.job}.json`);
    const write = await world.connect('write');
    await expectAllowed(write, 'jira_update_issue', update('spends one unit'));
    const honest = readFileSync(file, 'utf8');
    const spent = (JSON.parse(honest) as { max_writes: number }).max_writes;
    expect(spent).toBeGreaterThan(0);
    for (const [what, content] of [
      ['reset to zero', '{"max_writes":0}'],
      ['not a number', '{"max_writes":"0"}'],
      ['not JSON', 'garbage'],
    ] as const) {
      writeFileSync(file, content);
      const { result } = await expectRefused(world, write, 'jira_update_issue', update(`after ${what}`), 'BUDGET_LEDGER_TAMPERED', { stage: 'budget' });
      expect(result.text).not.toContain('undefined');
    }
    rmSync(file);
    await expectRefused(world, write, 'jira_update_issue', update('after deletion'), 'BUDGET_LEDGER_TAMPERED');
    await write.close();
    writeFileSync(file, '{"max_writes":0}');
    const restarted = await world.connect('write');
    await expectRefused(world, restarted, 'jira_update_issue', update('after a restart'), 'BUDGET_LEDGER_TAMPERED');
    // Positive control: the file as the journal says it is lets writes through again.
    writeFileSync(file, honest);
    await expectAllowed(restarted, 'jira_update_issue', update('the honest ledger'));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ max_writes: spent + 1 });
    await restarted.close();
  });

  it('review recounts the budget from the receipts and names a ledger that forgot spending', async () => {
    // A ledger reset behind the servers' back (journal and mirror both, as a same-user attacker with the
    // receipt key could do): the receipts still count every allowed write.
    const stateDir = clawHome(world.home).stateDir;
    const journal = join(stateDir, 'journal.jsonl');
    const saved = readFileSync(journal, 'utf8');
    const lines = saved.split('\n').filter((line) => line !== '');
    // Cut at the first spend: what is left is an intact (shorter) chain.
    const cut = lines.slice(0, lines.findIndex((line) => line.includes('"budget.spend"')));
    expect(cut.length).toBeGreaterThan(0);
    writeFileSync(journal, `${cut.join('\n')}\n`);
    rmSync(join(stateDir, 'budgets', `${world.job}.json`));
    const write = await world.connect('write');
    await expectAllowed(write, 'jira_update_issue', update('on a reset ledger'));
    await write.close();
    const review = reviewBundle(world.bundleDir);
    expect(review.exceptions).toContainEqual(expect.objectContaining({ code: 'BUDGET_LEDGER_MISMATCH', severity: 'critical' }));
  });
});

describe('threat: the kill switch file deleted, forged or rolled back', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({ wpc: STATE_WPC, sim, job: 'job-killswitch' });
  });
  afterAll(async () => world?.close());

  it('deleting the file after `writes disable` keeps writes disabled, also for a server started afterwards', async () => {
    const file = clawHome(world.home).killSwitchFile;
    const write = await world.connect('write');
    await expectAllowed(write, 'jira_update_issue', update('before the switch'));
    await world.cliOk(['writes', 'disable', '--reason', 'threat suite']);
    await expectRefused(world, write, 'jira_update_issue', update('disabled'), 'WRITES_DISABLED', { stage: 'kill_switch' });
    rmSync(file);
    await expectRefused(world, write, 'jira_update_issue', update('file deleted'), 'WRITES_DISABLED', { stage: 'kill_switch' });
    await write.close();
    const restarted = await world.connect('write');
    await expectRefused(world, restarted, 'jira_update_issue', update('file deleted, new server'), 'WRITES_DISABLED');
    // Only a signed `writes enable` lifts it.
    await world.cliOk(['writes', 'enable']);
    await expectAllowed(restarted, 'jira_update_issue', update('enabled again'));
    await restarted.close();
  });

  it('an unsigned record, or an older signed `enable` put back after `disable`, refuses writes', async () => {
    const file = clawHome(world.home).killSwitchFile;
    const write = await world.connect('write');
    const enabled = readFileSync(file, 'utf8');
    // Forged: the signed record with its state flipped, and the old unsigned format.
    writeFileSync(file, enabled.replace('"state":"enabled"', '"state":"disabled"').replace('"by":"', '"by":"x'));
    await expectRefused(world, write, 'jira_update_issue', update('forged record'), 'KILL_SWITCH_INVALID', { stage: 'kill_switch' });
    writeFileSync(file, JSON.stringify({ disabled_at: new Date().toISOString(), by: 'mallory' }));
    await expectRefused(world, write, 'jira_update_issue', update('old format'), 'KILL_SWITCH_INVALID');
    await world.cliOk(['writes', 'disable']);
    await expectRefused(world, write, 'jira_update_issue', update('disabled'), 'WRITES_DISABLED');
    writeFileSync(file, enabled);
    await expectRefused(world, write, 'jira_update_issue', update('old enable put back'), 'KILL_SWITCH_ROLLBACK', { stage: 'kill_switch' });
    await write.close();
    const restarted = await world.connect('write');
    await expectRefused(world, restarted, 'jira_update_issue', update('old enable, new server'), 'KILL_SWITCH_ROLLBACK');
    await world.cliOk(['writes', 'enable']);
    await expectAllowed(restarted, 'jira_update_issue', update('enabled by a new signed record'));
    await restarted.close();
  });

  it('a write already past the first kill-switch check (slow target look-up) is refused when writes are disabled meanwhile', async () => {
    const key = SIM_FIXTURES.issues.done;
    const write = await world.connect('write');
    // Hold the look-up of the target: the call is past the first kill-switch check while Jira is slow.
    sim.faults.add({ kind: 'latency', latencyMs: 1500, match: { method: 'GET', pathPrefix: `/rest/api/3/issue/${key}` } });
    const seq = mark(sim);
    await expectRefused(world, write, 'jira_update_issue', { issue_key: key, summary: 'must not land' }, 'WRITES_DISABLED', {
      stage: 'kill_switch',
      whileRunning: async () => {
        await waitFor('the slow target look-up', () =>
          sim.requests().find((request) => request.seq > seq && request.method === 'GET' && request.path === `/rest/api/3/issue/${key}`),
        );
        await world.cliOk(['writes', 'disable']);
      },
    }).finally(() => world.cliOk(['writes', 'enable']));
    await write.close();
  });
});

describe('threat: the issue moved, or the call hidden, while a human answers', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({
      wpc: {
        ...STATE_WPC,
        approval: { operations: ['issue.comment.create', 'issue.update'], elicitation: ['issue.comment.create', 'issue.update'] },
      },
      sim,
      job: 'job-write-path',
    });
  });
  afterAll(async () => world?.close());

  async function connectAnswering(onAsk: (message: string) => void): Promise<Connected> {
    const server = await world.connect('write', {}, { elicitation: {} });
    server.client.setRequestHandler(ElicitRequestSchema, async (request) => {
      onAsk(request.params.message);
      return { action: 'accept', content: { approve: true } };
    });
    return server;
  }

  it('an issue moved to another project while the human answers is not written', async () => {
    const key = 'ENG-21';
    let moved = '';
    const write = await connectAnswering(() => {
      moved = sim.moveIssue(key, 'OPS');
    });
    const seq = mark(sim);
    const comments = (): number => sim.snapshot().issues.find((issue) => issue.formerKeys.includes(key) || issue.key === key)?.comments.length ?? -1;
    const before = comments();
    const result = await callTool(write, 'jira_add_comment', { issue_key: key, body: 'written only where it was decided' });
    expect(moved).toMatch(/^OPS-/);
    expect(result.structured.code, result.text).toBe('TARGET_CHANGED');
    expect(writesSince(sim, seq)).toEqual([]);
    expect(comments()).toBe(before);
    const receipt = world.receipts().find((candidate) => hashOf(candidate) === result.receipt);
    expect(receipt?.decision).toMatchObject({ effect: 'deny', stage: 'target' });
    await write.close();
  });

  it('the prompt shows the whole call, the written fields first in a stable order', async () => {
    const asked: string[] = [];
    const write = await connectAnswering((message) => asked.push(message));
    const description = 'line one\n\nline two';
    await expectAllowed(write, 'jira_update_issue', { summary: 'shown in full', issue_key: 'ENG-9', description });
    expect(asked).toHaveLength(1);
    const prompt = asked[0] as string;
    expect(prompt).toContain('Fields written: description, summary');
    const order = ['"description"', '"summary"', '"issue_key"'].map((needle) => prompt.indexOf(needle));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(prompt).toContain(JSON.stringify(description));
    await write.close();
  });

  it('a call too large for the prompt is refused (ELICITATION_TOO_LARGE), never shown cut short', async () => {
    const asked: string[] = [];
    const write = await connectAnswering((message) => asked.push(message));
    const body = `${'a harmless start. '.repeat(250)}and at the end, out of sight: something else`;
    const { result } = await expectRefused(world, write, 'jira_add_comment', { issue_key: 'ENG-9', body }, 'ELICITATION_TOO_LARGE', { stage: 'approval' });
    expect(asked).toEqual([]);
    // The request is filed, so a person can approve it with a signature where the whole call is shown.
    expect(result.structured.approval_request_id).toEqual(expect.stringMatching(/^apr_/));
    await write.close();
  });
});

describe('threat: a flood of approval requests', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({ wpc: STATE_WPC, sim, job: 'job-flood' });
  });
  afterAll(async () => world?.close());

  it('beyond the cap of pending requests per job, a request is refused and no request file is written', async () => {
    const write = await world.connect('write', { CLAW_MAX_PENDING_APPROVALS: '3' });
    const dir = clawHome(world.home).approvalsDir;
    const requests = (): number => (existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.request.json')).length : 0);
    for (let i = 0; i < 3; i++) {
      await expectRefused(world, write, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: `flood ${i}` }, 'APPROVAL_REQUIRED');
    }
    expect(requests()).toBe(3);
    // The same call again names its pending request (no new file, not capped).
    await expectRefused(world, write, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: 'flood 0' }, 'APPROVAL_REQUIRED');
    await expectRefused(world, write, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: 'flood 3' }, 'APPROVAL_REQUESTS_CAPPED', { stage: 'approval' });
    expect(requests()).toBe(3);
    await write.close();
  });
});
