/**
 * Shared pieces of the threat suite (tests/e2e/threat-*.test.ts): the policies the attacks run under, and the
 * three proofs every refused attack must leave: Jira unchanged, a denial receipt in the bundle, and an MCP
 * error with a stable code.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { SIM_USERS, type RunningSimulator } from '../../src/sim/index.js';
import { receiptHash, receiptLine } from '../../src/receipts/sign.js';
import type { Receipt } from '../../src/receipts/types.js';
import { callTool, type Connected, type ToolCallResult, type World } from './harness.js';

/**
 * The writer policy: ENG only, Bug/Task/Story, and a small field allowlist. Everything the over-broad-write
 * attacks reach for (labels, duedate, assignee, security, story points, resolution, parent, project) is outside it.
 */
export const WRITER_WPC = {
  wpc_version: 'v1',
  tool: 'jira',
  description: 'threat suite: writes in ENG, three fields only',
  allow: {
    projects: ['ENG'],
    operations: ['issue.search', 'issue.get', 'project.read', 'issue.create', 'issue.update', 'issue.comment.create', 'issue.assign', 'workflow.transition'],
    issue_types: ['Bug', 'Task', 'Story'],
    fields_write_allowlist: ['summary', 'description', 'components'],
  },
  deny: {
    operations: ['issue.delete', 'issue.bulk_edit', 'project.admin'],
    fields_write_denylist: ['security', 'reporter'],
  },
  runtime: { require_cst: true, cst_policy_hash_pin: true, max_ttl_seconds: 900 },
} as const;

/** Every tool result this file's tests saw (text copy and structured content), for the leak checks. */
export const transcript: string[] = [];

function record(result: ToolCallResult): void {
  transcript.push(result.text, JSON.stringify(result.structured));
}

/** A request that can change Jira state. Search is a POST but reads. */
export function isWriteRequest(request: { method: string; path: string }): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return false;
  return !request.path.startsWith('/rest/api/3/search');
}

/** Where the simulator's request log stands now; pass it to `writesSince`. */
export function mark(sim: RunningSimulator): number {
  return sim.requests().at(-1)?.seq ?? 0;
}

export function writesSince(sim: RunningSimulator, seq: number): Array<{ method: string; path: string }> {
  return sim
    .requests()
    .filter((request) => request.seq > seq && isWriteRequest(request))
    .map(({ method, path }) => ({ method, path }));
}

export function hashOf(receipt: Receipt): string {
  return receiptHash(receiptLine(receipt));
}

/** The bundle folder of another job of the world's home (a server started with a different CLAW_JOB_ID). */
export function bundleOf(world: World, job: string): string {
  return join(world.home, 'bundles', job);
}

/**
 * Call a tool and prove the attack failed: isError with the stable code, a signed denial receipt for exactly
 * this call (the hash the result names) carrying that code, Jira's state unchanged, no write request sent.
 */
export async function expectRefused(
  world: World,
  connected: Connected,
  tool: string,
  args: Record<string, unknown>,
  code: string,
  options: { bundleDir?: string; stage?: string; whileRunning?: () => Promise<void> } = {},
): Promise<{ result: ToolCallResult; receipt: Receipt }> {
  const before = world.sim.stateHash();
  const seq = mark(world.sim);
  // `whileRunning` acts while the call is in flight (e.g. flips the kill switch during a slow look-up).
  const pending = callTool(connected, tool, args);
  if (options.whileRunning) await options.whileRunning();
  const result = await pending;
  record(result);
  expect(result.isError, `${tool} ${JSON.stringify(args)} was not refused: ${result.text}`).toBe(true);
  expect(result.structured.code, result.text).toBe(code);
  expect(result.structured.content_trust).toBe('untrusted');
  expect(world.sim.stateHash(), 'Jira state changed').toBe(before);
  expect(writesSince(world.sim, seq), 'a write request reached Jira').toEqual([]);
  const hash = result.structured.receipt;
  expect(typeof hash, 'no denial receipt named in the result').toBe('string');
  expect(result.receipt, 'the denial names another receipt in _meta').toBe(hash);
  const receipts = world.receipts(options.bundleDir ?? world.bundleDir);
  const receipt = receipts.find((candidate) => hashOf(candidate) === hash);
  expect(receipt, 'the named denial receipt is not in the bundle').toBeDefined();
  const denial = receipt as Receipt;
  expect(denial.kind).toBe('decision');
  expect(denial.decision?.effect).toBe('deny');
  expect(denial.tool).toBe(tool);
  expect(denial.decision?.reasons.map((reason) => reason.code)).toContain(code);
  if (options.stage) expect(denial.decision?.stage).toBe(options.stage);
  // The harness's view agrees: the bundle holds a denial with this code.
  if (!options.bundleDir) expect(world.denials(code).some((candidate) => hashOf(candidate) === hash)).toBe(true);
  return { result, receipt: denial };
}

/** Call a tool that must succeed (the positive controls that keep the refusals honest). */
export async function expectAllowed(connected: Connected, tool: string, args: Record<string, unknown>): Promise<ToolCallResult> {
  const result = await callTool(connected, tool, args);
  record(result);
  expect(result.isError, `${tool} ${JSON.stringify(args)} was refused: ${result.text}`).toBe(false);
  return result;
}

/** Every regular file under `dir`, recursively (bounded depth), for leak greps. */
export function filesUnder(dir: string, depth = 8): string[] {
  if (depth < 0 || !existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) return filesUnder(path, depth - 1);
    return st.isFile() ? [path] : [];
  });
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

/** The path the write tools address an issue by: its numeric id, resolved once from the key (old keys too). */
export function issuePath(sim: RunningSimulator, key: string): string {
  const issue = sim.snapshot().issues.find((candidate) => candidate.key === key || candidate.formerKeys.includes(key));
  if (!issue) throw new Error(`no issue ${key} in the simulator`);
  return `/rest/api/3/issue/${issue.id}`;
}

/** Set up Jira data directly, as a Jira user would, outside the gate. */
export async function jiraAsUser(sim: RunningSimulator, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const auth = Buffer.from(`${SIM_USERS.agent.email}:${SIM_USERS.agent.apiToken}`).toString('base64');
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json', accept: 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
}
