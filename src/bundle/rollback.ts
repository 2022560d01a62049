import type { FieldChange, Receipt } from '../receipts/types.js';
import type { Operation } from '../wpc/operations.js';
import type { WpcInput } from '../wpc/schema.js';
import { loadBundle, newestFirst, type BundleContents, type LoadedReceipt } from './contents.js';

export type RollbackKind = 'set_fields' | 'delete_comment' | 'transition' | 'assign' | 'human_decision' | 'manual';

export interface JiraCall {
  method: 'PUT' | 'POST' | 'DELETE' | 'GET';
  path: string;
  body?: unknown;
}

export interface RollbackStep {
  /** 1 = do first (the newest change). */
  order: number;
  issue: string;
  kind: RollbackKind;
  /** The write operation a rollback WPC must allow for this step; null when no gated tool performs it. */
  operation: Operation | null;
  description: string;
  /** The Jira call that reverts the change; absent for a human decision or manual step. */
  call?: JiraCall;
  /** Field, the value the run left, the value to restore. */
  revert: { field: string; from: unknown; to: unknown }[];
  source: { file: string; line: number; time: string | null; tool: string | null };
  warnings: string[];
}

export interface RollbackPlan {
  job: string | null;
  steps: RollbackStep[];
  /** A starting point for the WPC under which the plan is applied through the gated write server. */
  wpc_suggestion: WpcInput;
  notes: string[];
}

const API = '/rest/api/3';

/**
 * From the before and after values recorded in the outcome receipts, the Jira calls that revert each change,
 * newest first. Nothing is sent: a plan is applied through the gated write server, under its own WPC and
 * approvals, so the rollback leaves receipts of its own.
 */
export function rollbackPlan(bundleDir: string): RollbackPlan {
  return planFromContents(loadBundle(bundleDir));
}

function planFromContents(contents: BundleContents): RollbackPlan {
  const outcomes = contents.receipts
    .filter((r) => r.receipt.kind === 'outcome' && r.receipt.outcome?.status === 'succeeded')
    .filter((r) => (r.receipt.changes ?? []).length > 0 || r.receipt.operation === 'issue.create')
    .sort(newestFirst);
  const steps: Omit<RollbackStep, 'order'>[] = [];
  for (const r of outcomes) steps.push(...stepsFor(r));
  const numbered = steps.map((step, i) => ({ order: i + 1, ...step }));
  const notes: string[] = [];
  const inDoubt = contents.receipts.filter(
    (r) => r.receipt.kind === 'outcome' && r.receipt.outcome?.status === 'failed',
  ).length;
  if (inDoubt > 0) notes.push(`${inDoubt} write(s) failed; a failed write may still have been applied (see bundle review): they have no recorded after-values and are not in this plan.`);
  if (numbered.some((s) => s.kind === 'delete_comment')) {
    notes.push('Removing a comment has no operation in the WPC vocabulary, so the gated write server cannot do it: a human removes those comments in Jira.');
  }
  return { job: contents.job, steps: numbered, wpc_suggestion: suggestWpc(contents, numbered), notes };
}

function stepsFor(r: LoadedReceipt): Omit<RollbackStep, 'order'>[] {
  const receipt = r.receipt;
  const source = { file: r.file, line: r.line, time: receipt.time ?? null, tool: receipt.tool ?? null };
  const changes = receipt.changes ?? [];
  if (receipt.operation === 'issue.create') {
    const keys = receipt.issue_keys && receipt.issue_keys.length > 0 ? receipt.issue_keys : [...new Set(changes.map((c) => c.issue))];
    return keys.map((issue) => ({
      issue,
      kind: 'human_decision' as const,
      operation: 'issue.delete' as const,
      description: `${issue} was created by the run: a human decides whether to delete it (deletion always needs an approval) or keep it`,
      call: { method: 'DELETE' as const, path: `${API}/issue/${encodeURIComponent(issue)}` },
      revert: [{ field: '(issue)', from: issue, to: null }],
      source,
      warnings: [],
    }));
  }
  if (receipt.operation === 'issue.delete') {
    return [...new Set(changes.map((c) => c.issue))].map((issue) => ({
      issue,
      kind: 'manual' as const,
      operation: null,
      description: `${issue} was deleted by the run: Jira has no API to restore a deleted issue; recreate it from the recorded values or a backup`,
      revert: changes.filter((c) => c.issue === issue).map((c) => ({ field: c.field, from: c.after, to: c.before })),
      source,
      warnings: [],
    }));
  }
  const out: Omit<RollbackStep, 'order'>[] = [];
  const byIssue = new Map<string, FieldChange[]>();
  for (const change of changes) byIssue.set(change.issue, [...(byIssue.get(change.issue) ?? []), change]);
  for (const [issue, list] of byIssue) {
    const path = `${API}/issue/${encodeURIComponent(issue)}`;
    const plain: FieldChange[] = [];
    for (const change of list) {
      if (change.field === 'comment') {
        const id = idOf(change.after);
        out.push({
          issue,
          kind: 'delete_comment',
          operation: null,
          description: `remove the comment the run added to ${issue}${id ? ` (comment ${id})` : ''}`,
          ...(id ? { call: { method: 'DELETE' as const, path: `${path}/comment/${encodeURIComponent(id)}` } } : {}),
          revert: [{ field: 'comment', from: change.after, to: null }],
          source,
          warnings: id ? [] : ['the recorded comment has no id: find it in Jira'],
        });
      } else if (change.field === 'status') {
        const to = nameOf(change.before) ?? idOf(change.before) ?? 'the previous status';
        out.push({
          issue,
          kind: 'transition',
          operation: 'workflow.transition',
          description: `transition ${issue} back to "${to}" where the workflow allows (GET ${path}/transitions lists the transitions from its current status)`,
          call: { method: 'POST', path: `${path}/transitions`, body: { transition: { id: `<id of a transition to status ${idOf(change.before) ?? to}>` } } },
          revert: [{ field: 'status', from: change.after, to: change.before }],
          source,
          warnings: [],
        });
      } else if (change.field === 'assignee') {
        const accountId = accountOf(change.before);
        out.push({
          issue,
          kind: 'assign',
          operation: 'issue.assign',
          description: `assign ${issue} back to ${accountId === null ? 'nobody (unassigned)' : displayOf(change.before) ?? accountId}`,
          call: { method: 'PUT', path: `${path}/assignee`, body: { accountId } },
          revert: [{ field: 'assignee', from: change.after, to: change.before }],
          source,
          warnings: [],
        });
      } else {
        plain.push(change);
      }
    }
    if (plain.length > 0) {
      out.unshift({
        issue,
        kind: 'set_fields',
        operation: 'issue.update',
        description: `set ${plain.map((c) => c.field).join(', ')} of ${issue} back to the values before the run`,
        call: { method: 'PUT', path, body: { fields: Object.fromEntries(plain.map((c) => [c.field, writeValue(c.before)])) } },
        revert: plain.map((c) => ({ field: c.field, from: c.after, to: c.before })),
        source,
        warnings: [],
      });
    }
  }
  return out;
}

/** A GET value turned into what PUT accepts: references by id (or accountId), everything else as read. */
export function writeValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(writeValue);
  if (value === null || typeof value !== 'object') return value ?? null;
  const v = value as Record<string, unknown>;
  if (v.type === 'doc') return value; // ADF document
  if (typeof v.accountId === 'string') return { accountId: v.accountId };
  if (typeof v.id === 'string' || typeof v.id === 'number') return { id: String(v.id) };
  if (typeof v.key === 'string') return { key: v.key };
  if (typeof v.value === 'string') return { value: v.value };
  if (typeof v.name === 'string') return { name: v.name };
  return value;
}

function idOf(value: unknown): string | undefined {
  if (value && typeof value === 'object' && 'id' in value) {
    const id = (value as { id: unknown }).id;
    if (typeof id === 'string' || typeof id === 'number') return String(id);
  }
  return undefined;
}

function nameOf(value: unknown): string | undefined {
  const name = value && typeof value === 'object' ? (value as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? name : undefined;
}

function accountOf(value: unknown): string | null {
  const id = value && typeof value === 'object' ? (value as { accountId?: unknown }).accountId : undefined;
  return typeof id === 'string' ? id : null;
}

function displayOf(value: unknown): string | undefined {
  const name = value && typeof value === 'object' ? (value as { displayName?: unknown }).displayName : undefined;
  return typeof name === 'string' ? name : undefined;
}

/** Exactly what the plan needs, every operation behind approval, a budget of one write per step. */
function suggestWpc(contents: BundleContents, steps: RollbackStep[]): WpcInput {
  const operations = [...new Set(steps.map((s) => s.operation).filter((op): op is Operation => op !== null))].sort();
  const fields = [...new Set(steps.filter((s) => s.kind === 'set_fields').flatMap((s) => s.revert.map((r) => r.field)))].sort();
  const projects = new Set<string>();
  for (const step of steps) {
    const outcome = contents.receipts.find((r) => r.file === step.source.file && r.line === step.source.line);
    const ref = outcome?.receipt.decision_ref;
    const decision: Receipt | undefined = ref ? contents.byHash.get(ref)?.receipt : undefined;
    if (decision?.request?.project) projects.add(decision.request.project);
  }
  return {
    wpc_version: 'v1',
    tool: 'jira',
    description: `Rollback of job ${contents.job ?? '(unknown)'}: only the calls of its rollback plan, each approved by a human`,
    allow: { projects: [...projects].sort(), operations, fields_write_allowlist: fields },
    approval: { operations, elicitation: [], ttl_seconds: 600 },
    budgets: { max_writes: steps.filter((s) => s.operation !== null).length },
  };
}
