import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClawHome } from '../../src/config/home.js';
import { issueCst } from '../../src/cst/issue.js';
import type { Scope } from '../../src/cst/scope.js';
import { decide, type DecisionRequest } from '../../src/policy/decide.js';
import type { SigningKey } from '../../src/keys/ed25519.js';
import type { TrustStore } from '../../src/keys/trust.js';
import { ReceiptLog } from '../../src/receipts/log.js';
import { decisionReceipt, eventReceipt, outcomeReceipt } from '../../src/receipts/build.js';
import { ApprovalStore } from '../../src/approvals/approvals.js';
import type { FieldChange, ReceiptContent } from '../../src/receipts/types.js';
import { hashAddress, hashOfJson } from '../../src/util/canonical.js';
import { wpcDocument } from '../../src/wpc/document.js';
import { addressHex, type VerifiedWpc } from '../../src/wpc/registry.js';
import type { WpcInput } from '../../src/wpc/schema.js';
import { signWpcHash, verifyWpcSignature } from '../../src/wpc/signature.js';
import { sealBundle } from '../../src/bundle/index.js';
import { keyedHome } from '../helpers/env.js';

/** A temporary CLAW_HOME with real keys (initKeys), removed by `cleanup`. */
export interface Env {
  root: string;
  home: ClawHome;
  keys: { policy: SigningKey; issuer: SigningKey; receipt: SigningKey; approver: SigningKey };
  trust: TrustStore;
  trustPath: string;
  cleanup(): void;
}

export async function makeEnv(): Promise<Env> {
  const { root, home, keys, trust, cleanup } = await keyedHome('claw-bundle-', (dir) => join(dir, 'home'));
  return { root, home, keys, trust, trustPath: home.trustFile, cleanup };
}

export const BASE_WPC: WpcInput = {
  wpc_version: 'v1',
  tool: 'jira',
  description: 'bundle tests',
  allow: {
    projects: ['ENG'],
    operations: ['issue.get', 'issue.search', 'issue.create', 'issue.update', 'issue.comment.create', 'workflow.transition', 'issue.assign'],
    fields_write_allowlist: ['summary', 'labels', 'priority', 'description'],
  },
  deny: { projects: [], operations: ['issue.delete'], fields_write_denylist: ['security'], fields_read: [] },
  budgets: { max_writes: 10, max_creates: 3 },
  review: { max_issues_created: 1 },
};

/** Sign a WPC with the policy key, as the registry holds it. */
export async function signedWpc(env: Env, input: WpcInput = BASE_WPC): Promise<VerifiedWpc> {
  const doc = wpcDocument(input);
  const signature = await signWpcHash(doc.hash, env.keys.policy);
  const signer = await verifyWpcSignature(signature, doc.hash, env.trust);
  return { ...doc, signature, signer };
}

/** Put a WPC into a bundle the way the gate does (wpc/<hex>.json + wpc/<hex>.sig). */
export function placeWpc(bundleDir: string, wpc: VerifiedWpc): void {
  const hex = addressHex(wpc.hash);
  mkdirSync(join(bundleDir, 'wpc'), { recursive: true });
  writeFileSync(join(bundleDir, 'wpc', `${hex}.json`), wpc.bytes);
  writeFileSync(join(bundleDir, 'wpc', `${hex}.sig`), `${wpc.signature}\n`);
}

/**
 * Records calls the way the gate does: a decision receipt from the real `decide()`, then (for allowed calls)
 * an outcome receipt that closes it.
 */
export class Recorder {
  #clock: number;
  constructor(
    readonly log: ReceiptLog,
    readonly wpc: VerifiedWpc,
    readonly cst: ReceiptContent['cst'],
    readonly scope: Scope | undefined,
    start = Date.parse('2025-03-01T10:00:00.000Z'),
  ) {
    this.#clock = start;
  }

  time(): string {
    this.#clock += 1000;
    return new Date(this.#clock).toISOString();
  }

  decision(tool: string, request: DecisionRequest, extra: Partial<ReceiptContent> = {}): { hash: string; allowed: boolean } {
    const policy = decide(request, this.wpc.policy, this.scope);
    const draft = {
      time: this.time(),
      tool,
      operation: request.operation,
      args_hash: hashAddress(`${tool}:${JSON.stringify(request)}:${this.#clock}`),
      wpc_hash: this.wpc.hash,
      ...(this.cst ? { cst: this.cst } : {}),
      ...(this.scope ? { scope: this.scope } : {}),
      request,
      policy_decision: policy,
      issue_keys: [],
    };
    const verdict = policy.effect === 'allow' ? { effect: 'allow' as const, stage: 'allowed' as const } : { effect: 'deny' as const, stage: 'policy' as const };
    const content: ReceiptContent = { ...decisionReceipt(draft, { ...verdict, reasons: policy.reasons }), ...extra };
    return { hash: this.log.append(content).hash, allowed: policy.effect === 'allow' };
  }

  /** A denial before the policy ran (token, kill switch, ...): no request, no policy decision. */
  gateDenial(tool: string, operation: DecisionRequest['operation'], code: string, stage: 'cst' | 'kill_switch' | 'budget' | 'approval'): string {
    const draft = { time: this.time(), tool, operation, args_hash: hashAddress(`${tool}:${code}:${this.#clock}`), wpc_hash: this.wpc.hash };
    return this.log.append(decisionReceipt(draft, { effect: 'deny', stage, reasons: [{ code, rule: stage }] })).hash;
  }

  outcome(decisionRef: string, tool: string, operation: DecisionRequest['operation'], issueKeys: string[], changes: FieldChange[], extra: Partial<ReceiptContent> = {}): string {
    const content = outcomeReceipt({
      time: this.time(),
      tool,
      operation,
      args_hash: hashAddress(`${tool}:outcome:${this.#clock}`),
      decision_ref: decisionRef,
      wpc_hash: this.wpc.hash,
      jira: [{ method: 'PUT', path: `/rest/api/3/issue/${issueKeys[0] ?? 'X'}`, status: 204 }],
      issue_keys: issueKeys,
      changes,
      outcome: { status: 'succeeded' },
    });
    return this.log.append({ ...content, ...extra }).hash;
  }

  event(type: string, extra: Record<string, unknown> = {}): string {
    return this.log.append(eventReceipt(this.time(), { type, ...extra }, this.wpc.hash)).hash;
  }
}

export interface BuiltBundle {
  dir: string;
  wpc: VerifiedWpc;
  readFile: string;
  writeFile: string;
  /** Line numbers of notable receipts in the write file. */
  lines: Record<string, number>;
  jti: string;
  approvalId: string;
}

/**
 * A realistic job: a read session and a write session with reads, updates, two creates (over the WPC's review
 * threshold of 1), a comment, a transition, an assignment, denials by the policy and by the token check, an
 * approval request, a gateway-free bundle. Not sealed.
 */
export async function buildBundle(env: Env, job = 'job-42', options: { summary?: string } = {}): Promise<BuiltBundle> {
  const dir = join(env.home.bundlesDir, job);
  mkdirSync(dir, { recursive: true });
  const wpc = await signedWpc(env);
  placeWpc(dir, wpc);
  mkdirSync(join(dir, 'keys'), { recursive: true });
  writeFileSync(join(dir, 'keys', 'trust.json'), readFileSync(env.trustPath));
  const issued = await issueCst(env.keys.issuer, { wpc, job, subject: 'agent-1', now: new Date('2025-03-01T09:59:00Z') });
  const cst = { jti: issued.claims.jti, token_hash: hashAddress(issued.token), sub: issued.claims.sub, exp: issued.claims.exp };
  const scope = issued.claims.scope;

  const read = ReceiptLog.open({ bundleDir: dir, job, server: 'jira-read', key: env.keys.receipt, session: '20250301T1000-aaaa0001' });
  const r = new Recorder(read, wpc, cst, scope);
  r.event('server.start', { server: 'jira-read', ready: true, problems: [] });
  const get = r.decision('jira_get_issue', { operation: 'issue.get', project: 'ENG', issueType: 'Task', fieldsRead: ['summary'] }, { issue_keys: ['ENG-1'] });
  r.outcome(get.hash, 'jira_get_issue', 'issue.get', ['ENG-1'], []);
  r.decision('jira_get_issue', { operation: 'issue.get', project: 'OPS', issueType: 'Task' }, { issue_keys: ['OPS-7'] });
  read.close();

  const write = ReceiptLog.open({ bundleDir: dir, job, server: 'jira-write', key: env.keys.receipt, session: '20250301T1001-bbbb0002' });
  const w = new Recorder(write, wpc, cst, scope, Date.parse('2025-03-01T10:01:00.000Z'));
  const lines: Record<string, number> = {};
  const mark = (name: string): void => {
    lines[name] = write.seq;
  };
  w.event('server.start', { server: 'jira-write', ready: true, problems: [] });
  const upd = w.decision('jira_update_issue', { operation: 'issue.update', project: 'ENG', issueType: 'Task', fieldsWrite: ['labels', 'summary'] }, { issue_keys: ['ENG-1'], budget: { max_writes: { used: 1, limit: 10 } } });
  mark('updateDecision');
  w.outcome(upd.hash, 'jira_update_issue', 'issue.update', ['ENG-1'], [
    { issue: 'ENG-1', field: 'summary', before: 'Old title', after: options.summary ?? 'New title' },
    { issue: 'ENG-1', field: 'labels', before: ['a'], after: ['a', 'b'] },
  ]);
  mark('updateOutcome');
  for (const key of ['ENG-10', 'ENG-11']) {
    const c = w.decision('jira_create_issue', { operation: 'issue.create', project: 'ENG', issueType: 'Task', fieldsWrite: ['summary'] }, { issue_keys: [] });
    w.outcome(c.hash, 'jira_create_issue', 'issue.create', [key], [{ issue: key, field: 'summary', before: null, after: `Created ${key}` }]);
  }
  mark('createOutcome');
  const com = w.decision('jira_add_comment', { operation: 'issue.comment.create', project: 'ENG', issueType: 'Task' }, { issue_keys: ['ENG-1'] });
  w.outcome(com.hash, 'jira_add_comment', 'issue.comment.create', ['ENG-1'], [{ issue: 'ENG-1', field: 'comment', before: null, after: { id: '10001' } }]);
  mark('commentOutcome');
  const tr = w.decision('jira_transition_issue', { operation: 'workflow.transition', project: 'ENG', issueType: 'Task', fieldsWrite: [] }, { issue_keys: ['ENG-1'] });
  w.outcome(tr.hash, 'jira_transition_issue', 'workflow.transition', ['ENG-1'], [
    { issue: 'ENG-1', field: 'status', before: { id: '1', name: 'To Do' }, after: { id: '3', name: 'In Progress' } },
  ]);
  const store = new ApprovalStore(env.home.approvalsDir);
  const filed = store.fileRequest({
    job,
    server: 'jira-write',
    tool: 'jira_assign_issue',
    operation: 'issue.assign',
    // The hash of exactly these arguments: `approve` refuses a request whose arguments and hash disagree.
    args_hash: hashOfJson({ issue_key: 'ENG-1', account_id: 'acc-ann' }),
    args: { issue_key: 'ENG-1', account_id: 'acc-ann' },
    target: { project: 'ENG', issue_keys: ['ENG-1'] },
    wpc_hash: wpc.hash,
  });
  await store.approve(filed.request_id, env.keys.approver, { ttlSeconds: 600, approver: 'alice' });
  const used = await store.consume({ job, tool: 'jira_assign_issue', args_hash: filed.args_hash, wpc_hash: wpc.hash }, env.trust);
  mkdirSync(join(dir, 'approvals'), { recursive: true });
  writeFileSync(
    join(dir, 'approvals', `${filed.request_id}.json`),
    `${JSON.stringify({ request: used?.request, approval: used?.approvalJws, used_at: used?.usedAt }, null, 2)}\n`,
  );
  const as = w.decision('jira_assign_issue', { operation: 'issue.assign', project: 'ENG', issueType: 'Task' }, {
    issue_keys: ['ENG-1'],
    budget: { max_writes: { used: 6, limit: 10 } },
    approval: { request_id: filed.request_id, approval_id: filed.request_id },
    // The approved call is exactly the call the approval names: verify checks that they agree.
    args_hash: filed.args_hash,
  });
  w.outcome(as.hash, 'jira_assign_issue', 'issue.assign', ['ENG-1'], [
    { issue: 'ENG-1', field: 'assignee', before: null, after: { accountId: 'acc-ann', displayName: 'Ann' } },
  ]);
  mark('assignOutcome');
  w.decision('jira_update_issue', { operation: 'issue.update', project: 'ENG', issueType: 'Task', fieldsWrite: ['security'] }, { issue_keys: ['ENG-1'] });
  mark('fieldDenied');
  w.gateDenial('jira_update_issue', 'issue.update', 'CST_REPLAYED', 'cst');
  mark('replayDenied');
  w.event('server.stop', { server: 'jira-write' });
  write.close();

  return { dir, wpc, approvalId: filed.request_id, readFile: `receipts/jira-read-20250301T1000-aaaa0001.jsonl`, writeFile: `receipts/jira-write-20250301T1001-bbbb0002.jsonl`, lines, jti: cst.jti };
}

export async function sealedBundle(env: Env, job?: string): Promise<BuiltBundle> {
  const built = await buildBundle(env, job);
  await sealBundle(built.dir, { key: env.keys.receipt, now: new Date('2025-03-01T11:00:00Z') });
  return built;
}

/** A copy of a bundle to tamper with. */
export function copyBundle(env: Env, dir: string, name: string): string {
  const target = join(env.root, 'copies', name);
  cpSync(dir, target, { recursive: true });
  return target;
}

export function readLines(dir: string, file: string): string[] {
  const lines = readFileSync(join(dir, file), 'utf8').split('\n');
  lines.pop();
  return lines;
}

export function writeLines(dir: string, file: string, lines: string[]): void {
  writeFileSync(join(dir, file), `${lines.join('\n')}\n`);
}
