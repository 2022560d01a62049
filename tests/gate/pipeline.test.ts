/**
 * The gate in this process, against the Jira simulator: each stage of the pipeline refuses with its own code
 * and stage and leaves a denial receipt (and nothing later in the pipeline happens: no Jira request where the
 * stage comes before Jira); an allowed read and write leave a decision and an outcome receipt that record
 * every Jira exchange; a write Jira may have applied is recorded as in doubt. No bin, no dist/.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reviewBundle } from '../../src/bundle/index.js';
import { GATE_CODE_STAGE, type GateCode } from '../../src/gate/codes.js';
import type { Gate, GateResult } from '../../src/gate/gate.js';
import type { Denial } from '../../src/gate/denial.js';
import type { Tool } from '../../src/gate/tool.js';
import { READ_TOOLS } from '../../src/tools/read-tools.js';
import { WRITE_TOOLS } from '../../src/tools/write-tools.js';
import { addressHex } from '../../src/wpc/registry.js';
import type { ReceiptSink } from '../../src/state/ports.js';
import type { Receipt } from '../../src/receipts/types.js';
import { GateWorld } from '../helpers/gate-world.js';

const WPC = {
  wpc_version: 'v1',
  tool: 'jira',
  description: 'in-process gate tests',
  allow: {
    projects: ['ENG'],
    operations: ['issue.search', 'issue.get', 'project.read', 'issue.create', 'issue.update', 'issue.comment.create', 'workflow.transition'],
    fields_write_allowlist: ['summary', 'labels'],
  },
  deny: { operations: ['issue.delete', 'project.admin'], fields_write_denylist: ['security'], fields_read: ['priority'] },
  approval: { operations: ['issue.create'] },
  runtime: { require_cst: true, cst_policy_hash_pin: true, max_ttl_seconds: 900 },
};

const tools = new Map<string, Tool>([...READ_TOOLS, ...WRITE_TOOLS].map((tool) => [tool.name, tool]));
function tool(name: string): Tool {
  const found = tools.get(name);
  if (!found) throw new Error(`no tool ${name}`);
  return found;
}

let env: GateWorld;
let read: Gate;
let write: Gate;
/** Every (code, stage) a denial in this file carried: one code, one stage. */
const seen = new Map<string, Set<string>>();

function denied(result: GateResult): Denial {
  if (result.ok) throw new Error('the call was allowed');
  const set = seen.get(result.denial.code) ?? new Set<string>();
  set.add(result.denial.stage);
  seen.set(result.denial.code, set);
  return result.denial;
}

/** The simulator's request log position, and the requests after it. */
function mark(): number {
  return env.sim.requests().at(-1)?.seq ?? 0;
}
function requestsSince(seq: number): Array<{ method: string; path: string }> {
  return env.sim
    .requests()
    .filter((request) => request.seq > seq)
    .map(({ method, path }) => ({ method, path }));
}

/** A refusal: its code and stage, a durable denial receipt that says the same, and what Jira saw meanwhile. */
async function refused(gate: Gate, name: string, args: unknown, code: string, stage: string, job?: string) {
  const before = mark();
  const denial = denied(await gate.call(tool(name), args));
  expect(denial, denial.message).toMatchObject({ code, stage });
  const receipt = env.denialReceipt(denial, job);
  expect(receipt.kind).toBe('decision');
  expect(receipt.decision).toMatchObject({ effect: 'deny', stage });
  expect(receipt.decision?.reasons.map((reason) => reason.code)).toContain(code);
  return { denial, receipt, requests: requestsSince(before) };
}

beforeAll(async () => {
  env = await GateWorld.create(WPC, 'job-pipeline');
  read = await env.open('jira-read');
  write = await env.open('jira-write');
}, 60_000);
afterAll(async () => {
  await env?.close();
});

describe('the gate pipeline, stage by stage', () => {
  it('config: a tool the server does not have is refused with a receipt that is durable, whatever the receipt sink', async () => {
    // A sink that, like Postgres, makes nothing durable but through appendDurable: a hash from appendWritten
    // would name a receipt that may never reach storage.
    const durable = new Set<string>();
    let n = 0;
    const sink: ReceiptSink = {
      session: 'sink-test',
      appendWritten: async (content) => ({ receipt: content as unknown as Receipt, hash: `sha256:not-durable-${++n}` }),
      appendDurable: async (content) => {
        const hash = `sha256:durable-${++n}`;
        durable.add(hash);
        return { receipt: content as unknown as Receipt, hash };
      },
      flush: async () => undefined,
      closeDurably: async () => undefined,
    };
    const gate = await env.open('jira-read', { state: { receipts: () => sink } });
    const denial = await gate.refuseUnknownTool('jira_delete_everything', {});
    expect(denial.code).toBe('TOOL_UNKNOWN');
    expect(denial.receipt !== undefined && durable.has(denial.receipt)).toBe(true);
  });

  it('config: a server that did not start cleanly refuses every call, with its start-up problem and a receipt', async () => {
    const broken = await env.open('jira-read', { env: { CLAW_WPC: `sha256:${'0'.repeat(64)}` } });
    expect(broken.ready).toBe(false);
    const { denial, requests } = await refused(broken, 'jira_get_issue', { issue_key: 'ENG-6' }, broken.problems[0]?.code ?? '?', 'config');
    expect(denial.message).toContain('not configured correctly');
    expect(requests).toEqual([]);
  });

  it('input: arguments the strict schema refuses never reach Jira', async () => {
    const { requests } = await refused(read, 'jira_get_issue', { issue_key: 'ENG-6', fields: { raw: true } }, 'INPUT_INVALID', 'config');
    expect(requests).toEqual([]);
  });

  it('token: a token that does not verify is refused at stage cst, before Jira', async () => {
    const forged = await env.open('jira-read', { tokens: { current: () => 'not.a.token' } });
    const { denial, requests } = await refused(forged, 'jira_get_issue', { issue_key: 'ENG-6' }, 'CST_MALFORMED', 'cst');
    expect(denial.code).toMatch(/^CST_/);
    expect(requests).toEqual([]);
  });

  it('token: the injected clock decides expiry (a token past its exp is refused, no waiting)', async () => {
    const later = await env.open('jira-read', { now: () => new Date(Date.now() + 3_600_000) });
    const { requests } = await refused(later, 'jira_get_issue', { issue_key: 'ENG-6' }, 'CST_EXPIRED', 'cst');
    expect(requests).toEqual([]);
  });

  it('operation: one the WPC denies is refused by decide() before the target is looked up', async () => {
    const { receipt, requests } = await refused(write, 'jira_delete_issue', { issue_key: 'ENG-6' }, 'OPERATION_DENIED', 'policy');
    expect(receipt.request).toEqual({ operation: 'issue.delete' });
    expect(receipt.policy_decision?.effect).toBe('deny');
    expect(requests).toEqual([]);
  });

  it('kill switch: a disabled switch stops a write before any Jira request, target look-ups included', async () => {
    const stopped = await env.open('jira-write', { killSwitch: { current: () => ({ disabled_at: '2026-12-01T00:00:00Z', by: 'test', reason: 'drill' }) } });
    const { requests } = await refused(stopped, 'jira_add_comment', { issue_key: 'ENG-6', body: 'x' }, 'WRITES_DISABLED', 'kill_switch');
    expect(requests).toEqual([]);
    // Reads are not writes: the same gate still reads.
    expect((await stopped.call(tool('jira_get_issue'), { issue_key: 'ENG-6' })).ok).toBe(true);
  });

  it('target: an issue Jira does not have is refused at stage target, its look-up on the receipt', async () => {
    const { receipt, requests } = await refused(read, 'jira_get_issue', { issue_key: 'ENG-99999' }, 'TARGET_NOT_FOUND', 'target');
    expect(requests.map((request) => request.method)).toEqual(['GET', 'GET']);
    expect(receipt.jira?.map((exchange) => exchange.status)).toContain(404);
  });

  it('decide: a real target in a project the WPC does not allow is refused by the policy, and the request is recorded', async () => {
    const { receipt, requests } = await refused(read, 'jira_get_issue', { issue_key: 'SEC-1' }, 'PROJECT_NOT_ALLOWED', 'policy');
    expect(receipt.request).toMatchObject({ operation: 'issue.get', project: 'SEC' });
    // Only the look-up reached Jira; the issue itself was never returned to anyone.
    expect(requests.every((request) => request.method === 'GET')).toBe(true);
  });

  it('decide: a search naming a hidden field is refused with FIELD_READ_DENIED and the JQL it would have sent', async () => {
    const { receipt, requests } = await refused(read, 'jira_search_issues', { jql: 'priority = High' }, 'FIELD_READ_DENIED', 'policy');
    expect(receipt.request?.fieldsRead).toContain('priority');
    expect(receipt.request?.jql).toContain('project in ("ENG")');
    expect(requests.some((request) => request.path.startsWith('/rest/api/3/search'))).toBe(false);
  });

  it('decide: a search naming a project outside the allowed ones is refused alike whether it exists or not (no existence oracle)', async () => {
    // HR exists in the simulator and is hidden; NOPE does not exist. Sent, Jira would answer the first with an
    // empty page and the second with a 400: the difference tells which hidden projects exist.
    for (const jql of ['project = HR', 'project = NOPE', 'status = Done OR project in (ENG, HR)', 'NOT project = NOPE']) {
      const { denial, receipt, requests } = await refused(read, 'jira_search_issues', { jql }, 'PROJECT_NOT_ALLOWED', 'policy');
      expect(denial.message).toContain('PROJECT_NOT_ALLOWED');
      expect(receipt.request?.projects).toEqual(expect.arrayContaining(['ENG']));
      expect(requests.some((request) => request.path.startsWith('/rest/api/3/search'))).toBe(false);
    }
    // The allowed project by key in any case, by name or by id is not refused.
    const listed = await read.call(tool('jira_list_projects'), {});
    if (!listed.ok) throw new Error(listed.denial.message);
    const eng = (listed.data as { projects: { key: string; name: string; id: string }[] }).projects.find((project) => project.key === 'ENG');
    if (!eng) throw new Error('ENG not listed');
    for (const jql of ['project = eng', `project = "${eng.name}"`, `project = ${eng.id} ORDER BY key ASC`]) {
      const result = await read.call(tool('jira_search_issues'), { jql });
      expect(result.ok, jql).toBe(true);
    }
  });

  it('approval: a create the WPC puts under approval files a request and is refused, nothing written', async () => {
    const { denial, requests } = await refused(write, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: 'needs a human' }, 'APPROVAL_REQUIRED', 'approval');
    expect(denial.approval_request_id).toEqual(expect.any(String));
    expect(requests.filter((request) => request.method !== 'GET')).toEqual([]);
  });

  it('budget: a spent budget refuses the write before Jira is written', async () => {
    const hash = await env.world.signWpc({ ...WPC, budgets: { max_comments: 0 } });
    const token = join(env.world.dir, 'budget.cst');
    await env.world.issueToken([], token, 'job-budget', hash);
    const spent = await env.open('jira-write', { env: { CLAW_WPC: hash, CLAW_JOB_ID: 'job-budget', CLAW_CST_FILE: token } });
    const { requests } = await refused(spent, 'jira_add_comment', { issue_key: 'ENG-6', body: 'over budget' }, 'BUDGET_EXCEEDED', 'budget', 'job-budget');
    expect(requests.filter((request) => request.method !== 'GET')).toEqual([]);
  });

  it('WPC unchanged: an edited registry file refuses every later call (checked after config, before input)', async () => {
    const hash = await env.world.signWpc({ ...WPC, description: 'to be edited' });
    const token = join(env.world.dir, 'edited.cst');
    await env.world.issueToken([], token, 'job-edited', hash);
    const gate = await env.open('jira-read', { env: { CLAW_WPC: hash, CLAW_JOB_ID: 'job-edited', CLAW_CST_FILE: token } });
    expect((await gate.call(tool('jira_get_issue'), { issue_key: 'ENG-6' })).ok).toBe(true);
    writeFileSync(join(env.world.home, 'registry', `${addressHex(hash)}.json`), '{"edited":true}');
    // Even invalid input is refused for the WPC first: the stage order is the documented one.
    await refused(gate, 'jira_get_issue', { nonsense: 1 }, 'WPC_CHANGED', 'wpc', 'job-edited');
  });
});

describe('approval by elicitation', () => {
  let asking: Gate;
  beforeAll(async () => {
    const hash = await env.world.signWpc({ ...WPC, approval: { operations: ['issue.comment.create'], elicitation: ['issue.comment.create'] } });
    const token = join(env.world.dir, 'elicit.cst');
    await env.world.issueToken([], token, 'job-elicit', hash);
    asking = await env.open('jira-write', { env: { CLAW_WPC: hash, CLAW_JOB_ID: 'job-elicit', CLAW_CST_FILE: token } });
  });
  const comments = (key: string) => env.sim.snapshot().issues.find((issue) => issue.key === key || issue.formerKeys.includes(key))?.comments.length ?? -1;

  it('a yes runs the call once, recorded as approved by elicitation; the prompt showed the whole call', async () => {
    const prompts: string[] = [];
    const result = await asking.call(tool('jira_add_comment'), { issue_key: 'ENG-10', body: 'asked first' }, { confirm: async (text) => (prompts.push(text), true) });
    if (!result.ok) throw new Error(result.denial.message);
    expect(prompts).toEqual([expect.stringContaining('"body": "asked first"')]);
    expect(env.receipt(result.decision_receipt, 'job-elicit')?.approval).toMatchObject({ via: 'elicitation' });
  });

  it('a no is APPROVAL_DECLINED at stage approval, nothing written', async () => {
    const before = comments('ENG-10');
    const denial = denied(await asking.call(tool('jira_add_comment'), { issue_key: 'ENG-10', body: 'declined' }, { confirm: async () => false }));
    expect(denial).toMatchObject({ code: 'APPROVAL_DECLINED', stage: 'approval' });
    expect(env.denialReceipt(denial, 'job-elicit').decision).toMatchObject({ effect: 'deny', stage: 'approval' });
    expect(comments('ENG-10')).toBe(before);
  });

  it('an issue moved while the human answered is TARGET_CHANGED: the yes does not count, nothing written', async () => {
    const before = comments('ENG-11');
    let moved = '';
    const denial = denied(
      await asking.call(tool('jira_add_comment'), { issue_key: 'ENG-11', body: 'moved meanwhile' }, {
        confirm: async () => {
          moved = env.sim.moveIssue('ENG-11', 'OPS');
          return true;
        },
      }),
    );
    expect(moved).toMatch(/^OPS-/);
    expect(denial).toMatchObject({ code: 'TARGET_CHANGED', stage: 'target' });
    expect(env.denialReceipt(denial, 'job-elicit').decision).toMatchObject({ effect: 'deny', stage: 'target' });
    expect(comments('ENG-11')).toBe(before);
  });
});

describe('allowed calls', () => {
  it('a read: decision and outcome receipts, every Jira exchange recorded, hidden fields withheld', async () => {
    const before = mark();
    const result = await read.call(tool('jira_get_issue'), { issue_key: 'ENG-6' });
    if (!result.ok) throw new Error(result.denial.message);
    const data = result.data as { key: string; fields: Record<string, unknown>; withheld_fields: string[] };
    expect(data.key).toBe('ENG-6');
    expect(data.fields.priority).toBeUndefined();
    expect(data.withheld_fields).toContain('priority');
    const decision = env.receipt(result.decision_receipt);
    const outcome = env.receipt(result.receipt);
    expect(decision?.decision).toMatchObject({ effect: 'allow', stage: 'allowed' });
    expect(outcome).toMatchObject({ kind: 'outcome', decision_ref: result.decision_receipt, outcome: { status: 'succeeded' } });
    // The tool never wrapped its Jira calls: the client it was handed recorded them all, across both receipts.
    const recorded = [...(decision?.jira ?? []), ...(outcome?.jira ?? [])].length;
    expect(recorded).toBe(requestsSince(before).length);
    expect(recorded).toBeGreaterThan(0);
  });

  it('a write: the decision receipt names the decided request, the outcome the read-back change', async () => {
    const result = await write.call(tool('jira_update_issue'), { issue_key: 'ENG-6', summary: 'renamed in process' });
    if (!result.ok) throw new Error(result.denial.message);
    const decision = env.receipt(result.decision_receipt);
    expect(decision?.request).toMatchObject({ operation: 'issue.update', project: 'ENG', fieldsWrite: ['summary'] });
    const outcome = env.receipt(result.receipt);
    expect(outcome?.changes).toEqual([expect.objectContaining({ field: 'summary', after: 'renamed in process' })]);
    expect(outcome?.jira?.map((exchange) => exchange.method)).toEqual(['PUT', 'GET']);
    expect(env.sim.snapshot().issues.find((issue) => issue.key === 'ENG-6')?.summary).toBe('renamed in process');
  });
});

describe('in doubt', () => {
  it('a write Jira answered with a 5xx is an outcome flagged in_doubt, never a denial of an unmade call', async () => {
    const comments = () => env.sim.snapshot().issues.find((issue) => issue.key === 'ENG-7')?.comments.length ?? -1;
    const count = comments();
    env.sim.faults.add({ kind: '503', match: { method: 'POST' }, times: 1 });
    const denial = denied(await write.call(tool('jira_add_comment'), { issue_key: 'ENG-7', body: 'maybe' }));
    env.sim.faults.clear();
    expect(denial).toMatchObject({ code: 'JIRA_UNAVAILABLE', stage: 'allowed' });
    expect(denial.message).toContain('may or may not have been applied');
    const outcome = env.receipt(denial.receipt);
    expect(outcome).toMatchObject({ kind: 'outcome', outcome: { status: 'failed', code: 'JIRA_UNAVAILABLE', in_doubt: true } });
    expect(comments()).toBe(count);
  });

  it('a tool that refuses after the decision, before any write, is a failed outcome that is not in doubt', async () => {
    const denial = denied(await write.call(tool('jira_transition_issue'), { issue_key: 'ENG-7', transition: 'No such transition' }));
    expect(denial).toMatchObject({ code: 'TRANSITION_NOT_AVAILABLE', stage: 'allowed' });
    const outcome = env.receipt(denial.receipt);
    expect(outcome?.outcome).toMatchObject({ status: 'failed', code: 'TRANSITION_NOT_AVAILABLE' });
    expect(outcome?.outcome?.in_doubt).toBeUndefined();
  });

  it('review reads the flag: the 5xx comment is IN_DOUBT_WRITE, the refused transition only WRITE_FAILED', () => {
    const review = reviewBundle(join(env.world.home, 'bundles', 'job-pipeline'));
    const codes = (code: string) => review.exceptions.filter((exception) => exception.code === code).map((exception) => exception.message);
    expect(codes('IN_DOUBT_WRITE')).toEqual([expect.stringContaining('JIRA_UNAVAILABLE')]);
    expect(codes('WRITE_FAILED')).toEqual([expect.stringContaining('TRANSITION_NOT_AVAILABLE')]);
  });
});

describe('one stage per code', () => {
  it('every denial this file saw came from one stage, the one the code table names', () => {
    expect(seen.size).toBeGreaterThan(8);
    for (const [code, stages] of seen) {
      expect([...stages], code).toHaveLength(1);
      if (code in GATE_CODE_STAGE) expect([...stages][0], code).toBe(GATE_CODE_STAGE[code as GateCode]);
    }
  });
});
