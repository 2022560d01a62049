import type { Receipt } from '../receipts/types.js';
import { budgetsFor } from '../gate/budgets.js';
import { ALWAYS_APPROVAL, isWriteOperation, type Operation } from '../wpc/operations.js';
import type { Wpc } from '../wpc/schema.js';
import { needsApproval } from '../policy/approval.js';
import { fieldWriteVerdict } from '../policy/fields.js';
import { loadBundle, type BundleContents, type LoadedReceipt } from './contents.js';
import { unclosedSessions } from './review-sessions.js';
import { gatewayBindingExceptions } from './gateway-binding.js';
import { SEVERITIES, type ReviewException, type Severity } from './review-types.js';
import { EVENT } from '../gate/codes.js';

export { SEVERITIES, type ReviewException, type Severity } from './review-types.js';

export interface ReviewOptions {
  /** Overrides the WPC's review.max_issues_created. */
  maxIssuesCreated?: number;
  maxWrites?: number;
  maxDenials?: number;
  /** Flag budgets at this fraction of their limit (default: the WPC's review.budget_warning_ratio, else 0.8). */
  budgetWarningRatio?: number;
}

export interface BundleReview {
  job: string | null;
  exceptions: ReviewException[];
  stats: {
    receipts: number;
    decisions: number;
    allowed: number;
    denied: number;
    writes_succeeded: number;
    writes_failed: number;
    issues_created: string[];
    in_doubt: number;
    approvals_used: number;
    gateway_receipts: number;
    unreadable_lines: number;
  };
  denials_by_reason: Record<string, number>;
  thresholds: { max_issues_created: number | null; max_writes: number | null; max_denials: number | null; budget_warning_ratio: number };
}

const HIGH_REASONS = new Set([
  'CST_REPLAYED',
  'CST_REVOKED',
  'CST_BAD_SIGNATURE',
  'CST_WRONG_JOB',
  'CST_POLICY_MISMATCH',
  'CST_SCOPE_EXCEEDS_WPC',
  'WPC_CHANGED',
  'APPROVAL_INVALID',
  // Local state rolled back, forged or edited (see README "Approvals, kill switch, revocation").
  'REVOCATION_ROLLBACK',
  'BUDGET_LEDGER_TAMPERED',
  'KILL_SWITCH_INVALID',
  'KILL_SWITCH_ROLLBACK',
  'STATE_JOURNAL_INVALID',
  'STATE_JOURNAL_TRUNCATED',
  'STATE_JOURNAL_MISSING',
  'TARGET_CHANGED',
]);

/**
 * The exceptions a human must look at, from the receipts as recorded (run `verify` to know they are authentic).
 * Each exception has a severity; `critical` marks what the gate should have made impossible.
 */
export function reviewBundle(bundleDir: string, options: ReviewOptions = {}): BundleReview {
  return reviewContents(loadBundle(bundleDir), options);
}

export function reviewContents(contents: BundleContents, options: ReviewOptions = {}): BundleReview {
  const exceptions: ReviewException[] = [];
  const thresholds = thresholdsOf([...contents.wpcs.values()], options);
  const outcomesByDecision = new Map<string, LoadedReceipt>();
  for (const r of contents.receipts) {
    if (r.receipt.kind === 'outcome' && typeof r.receipt.decision_ref === 'string') outcomesByDecision.set(r.receipt.decision_ref, r);
  }
  const denials = new Map<string, number>();
  const deniedCalls: LoadedReceipt[] = [];
  const created = new Set<string>();
  // Budgets are recounted from the allowed write decisions themselves, limits from the WPC each names: the
  // `budget` figures the ledger copied into receipts are only compared against the recount, never believed.
  const budgets = new Map<string, { used: number; limit: number; at: LoadedReceipt }>();
  const ledgerMismatch: Array<{ name: string; ledger: number; recount: number; at: LoadedReceipt }> = [];
  let decisions = 0;
  let allowed = 0;
  let denied = 0;
  let writesOk = 0;
  let writesFailed = 0;
  let inDoubt = 0;
  let approvalsUsed = 0;
  const approvalUses = new Map<string, LoadedReceipt>();

  for (const r of contents.receipts) {
    const receipt = r.receipt;
    const where = { file: r.file, line: r.line };
    if (receipt.kind === 'decision') {
      decisions++;
      if (receipt.decision?.effect === 'deny') {
        denied++;
        deniedCalls.push(r);
        for (const code of denialCodes(receipt)) denials.set(code, (denials.get(code) ?? 0) + 1);
        continue;
      }
      if (receipt.decision?.effect !== 'allow') continue;
      allowed++;
      const op = operationOf(receipt);
      recountBudgets(r, op, contents, budgets, ledgerMismatch);
      if (op && requiresApproval(op, contents, receipt) && receipt.approval?.approval_id === undefined) {
        exceptions.push({
          severity: 'critical',
          code: 'APPROVAL_MISSING',
          message: `${receipt.tool ?? op} ran without a human approval although ${ALWAYS_APPROVAL.includes(op) ? 'it always needs one' : 'the WPC requires one'}`,
          ...where,
          issues: receipt.issue_keys ?? [],
        });
      }
      if (receipt.approval?.approval_id !== undefined) {
        approvalsUsed++;
        // An approval is single-use: a second allowed call citing it means the use marker was tampered with.
        const earlier = approvalUses.get(receipt.approval.approval_id);
        if (earlier) {
          exceptions.push({
            severity: 'critical',
            code: 'APPROVAL_REUSED',
            message: `approval ${receipt.approval.approval_id} was used again (first at ${earlier.file}:${earlier.line}): approvals are single-use`,
            ...where,
            issues: receipt.issue_keys ?? [],
          });
        }
        approvalUses.set(receipt.approval.approval_id, r);
        exceptions.push({
          severity: 'low',
          code: 'APPROVAL_USED',
          message: `${receipt.tool ?? op ?? 'a call'} ran on human approval ${receipt.approval.request_id}`,
          ...where,
          issues: receipt.issue_keys ?? [],
        });
      }
      if (op && isWriteOperation(op) && !outcomesByDecision.has(r.hash)) {
        inDoubt++;
        exceptions.push({
          severity: 'high',
          code: 'IN_DOUBT_WRITE',
          message: `${receipt.tool ?? op} was allowed and receipted but no outcome was recorded (the server stopped before or during the Jira call): check ${issueList(receipt)} in Jira`,
          ...where,
          issues: receipt.issue_keys ?? [],
        });
      }
      continue;
    }
    if (receipt.kind === 'outcome') {
      reviewOutcome(r, contents, exceptions, created, () => writesOk++, () => writesFailed++, () => inDoubt++);
      continue;
    }
    if (receipt.kind === 'event') reviewEvent(r, exceptions);
  }

  exceptions.push(...denialFindings(deniedCalls));
  if (thresholds.max_issues_created !== null && created.size > thresholds.max_issues_created) {
    exceptions.push({
      severity: 'high',
      code: 'ISSUES_CREATED_OVER_THRESHOLD',
      message: `${created.size} issues were created, more than the review threshold of ${thresholds.max_issues_created}`,
      issues: [...created],
    });
  }
  if (thresholds.max_writes !== null && writesOk > thresholds.max_writes) {
    exceptions.push({ severity: 'medium', code: 'WRITES_OVER_THRESHOLD', message: `${writesOk} writes succeeded, more than the review threshold of ${thresholds.max_writes}` });
  }
  if (thresholds.max_denials !== null && denied > thresholds.max_denials) {
    exceptions.push({ severity: 'medium', code: 'DENIALS_OVER_THRESHOLD', message: `${denied} calls were denied, more than the review threshold of ${thresholds.max_denials}` });
  }
  for (const { name, ledger, recount, at } of ledgerMismatch) {
    exceptions.push({
      severity: 'critical',
      code: 'BUDGET_LEDGER_MISMATCH',
      message: `budget ${name}: the ledger said ${ledger} used where the receipts count ${recount} (the budget ledger was reset or edited)`,
      file: at.file,
      line: at.line,
    });
  }
  for (const [name, { used, limit, at }] of budgets) {
    if (limit <= 0) continue;
    if (used >= limit) {
      exceptions.push({ severity: 'medium', code: 'BUDGET_EXHAUSTED', message: `budget ${name} is spent: ${used} of ${limit}`, file: at.file, line: at.line });
    } else if (used / limit >= thresholds.budget_warning_ratio) {
      exceptions.push({ severity: 'medium', code: 'BUDGET_NEAR_LIMIT', message: `budget ${name} is near its limit: ${used} of ${limit}`, file: at.file, line: at.line });
    }
  }
  for (const u of contents.unreadable.slice(0, 25)) {
    exceptions.push({ severity: 'high', code: 'RECEIPT_UNREADABLE', message: 'this line is not a receipt: run bundle verify', file: u.file, line: u.line });
  }

  exceptions.push(...unclosedSessions(contents));
  exceptions.push(...gatewayBindingExceptions(contents));

  const rank = new Map<Severity, number>(SEVERITIES.map((s, i) => [s, i]));
  exceptions.sort((a, b) => (rank.get(a.severity) ?? 0) - (rank.get(b.severity) ?? 0));
  return {
    job: contents.job,
    exceptions,
    stats: {
      receipts: contents.receipts.length,
      decisions,
      allowed,
      denied,
      writes_succeeded: writesOk,
      writes_failed: writesFailed,
      issues_created: [...created],
      in_doubt: inDoubt,
      approvals_used: approvalsUsed,
      gateway_receipts: contents.gateway.reduce((n, g) => n + g.entries.length, 0),
      unreadable_lines: contents.unreadable.length,
    },
    denials_by_reason: Object.fromEntries([...denials].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
    thresholds,
  };
}

function reviewOutcome(
  r: LoadedReceipt,
  contents: BundleContents,
  exceptions: ReviewException[],
  created: Set<string>,
  ok: () => void,
  failed: () => void,
  doubt: () => void,
): void {
  const receipt = r.receipt;
  const where = { file: r.file, line: r.line };
  const op = operationOf(receipt);
  const decision = typeof receipt.decision_ref === 'string' ? contents.byHash.get(receipt.decision_ref) : undefined;
  if (!decision || decision.receipt.kind !== 'decision') {
    exceptions.push({ severity: 'high', code: 'ORPHAN_OUTCOME', message: 'an outcome that closes no decision receipt of this bundle', ...where });
  } else if (decision.receipt.decision?.effect !== 'allow') {
    exceptions.push({ severity: 'critical', code: 'WRITE_AFTER_DENIAL', message: 'an outcome recorded for a call that was denied', ...where });
  }
  if (!op || !isWriteOperation(op)) return;
  const status = receipt.outcome?.status;
  if (status === 'succeeded') {
    ok();
    if (op === 'issue.create') for (const key of createdKeys(receipt)) created.add(key);
  } else if (status === 'failed') {
    failed();
    const code = receipt.outcome?.code ?? 'UNKNOWN';
    // The gate classified it when it wrote the outcome (src/gate/in-doubt.ts): the flag, never the message.
    const maybe = receipt.outcome?.in_doubt === true;
    if (maybe) doubt();
    exceptions.push({
      severity: maybe ? 'high' : 'medium',
      code: maybe ? 'IN_DOUBT_WRITE' : 'WRITE_FAILED',
      message: maybe
        ? `${receipt.tool ?? op} failed with ${code} and may or may not have been applied: check ${issueList(receipt)} in Jira`
        : `${receipt.tool ?? op} failed in Jira with ${code}`,
      ...where,
      issues: receipt.issue_keys ?? [],
    });
  } else if (status === 'not_applied') {
    exceptions.push({
      severity: 'medium',
      code: 'WRITE_NOT_APPLIED',
      message: `${receipt.tool ?? op}: Jira accepted the write but the read-back shows no change (${issueList(receipt)})`,
      ...where,
      issues: receipt.issue_keys ?? [],
    });
  }
  const wpc = typeof receipt.wpc_hash === 'string' ? contents.wpcs.get(receipt.wpc_hash) : undefined;
  const changes = receipt.changes ?? [];
  if (changes.length > 0 && !wpc) {
    exceptions.push({ severity: 'medium', code: 'WPC_UNAVAILABLE', message: `cannot check the fields written: WPC ${String(receipt.wpc_hash)} is not in the bundle`, ...where });
    return;
  }
  for (const change of changes) {
    if (!wpc || op === 'issue.delete') continue;
    // The policy's own field rule (src/policy/fields.ts), without the token: review asks what the WPC allowed.
    const verdict = fieldWriteVerdict(op, change.field, wpc);
    const denied = verdict === 'denied';
    if (verdict !== 'allowed') {
      exceptions.push({
        severity: 'critical',
        code: 'FIELD_OUTSIDE_ALLOWLIST',
        message: `${change.issue}: field ${change.field} was written although the WPC ${denied ? 'denies it' : 'does not allow it'} (the gate should make this impossible)`,
        ...where,
        issues: [change.issue],
      });
    }
  }
}

function reviewEvent(r: LoadedReceipt, exceptions: ReviewException[]): void {
  const type = r.receipt.event?.type ?? '';
  const where = { file: r.file, line: r.line };
  if (/revok/i.test(type)) exceptions.push({ severity: 'high', code: 'REVOCATION_EVENT', message: `event ${type}`, ...where });
  else if (/replay/i.test(type)) exceptions.push({ severity: 'high', code: 'REPLAY_EVENT', message: `event ${type}`, ...where });
  else if (type === 'cst.rejected') exceptions.push({ severity: 'medium', code: 'TOKEN_REJECTED_EVENT', message: `event ${type}`, ...where });
  else if (type === 'wpc.changed') exceptions.push({ severity: 'high', code: 'WPC_CHANGED_EVENT', message: 'the WPC file changed while the server ran; the server refused every call after it', ...where });
  else if (type.startsWith('writes.disabled')) exceptions.push({ severity: 'low', code: 'KILL_SWITCH_EVENT', message: `writes were disabled during the run (${type})`, ...where });
  else if (type === EVENT.SERVER_START && r.receipt.event?.ready === false) {
    const problems = r.receipt.event.problems;
    exceptions.push({
      severity: 'low',
      code: 'SERVER_NOT_READY',
      message: `${r.receipt.server} started misconfigured${Array.isArray(problems) ? ` (${problems.join(', ')})` : ''} and refused every call`,
      ...where,
    });
  }
}

/**
 * One allowed write spends one unit of each budget its operation uses that its WPC sets (what the gate spends).
 * A ledger figure below the recount at the same receipt means the ledger forgot spending: it was reset.
 * (Above it is possible: a unit spent by a call whose decision receipt could not be written.)
 */
function recountBudgets(
  r: LoadedReceipt,
  op: Operation | undefined,
  contents: BundleContents,
  budgets: Map<string, { used: number; limit: number; at: LoadedReceipt }>,
  mismatches: Array<{ name: string; ledger: number; recount: number; at: LoadedReceipt }>,
): void {
  if (!op || !isWriteOperation(op)) return;
  const wpc = typeof r.receipt.wpc_hash === 'string' ? contents.wpcs.get(r.receipt.wpc_hash) : undefined;
  for (const name of budgetsFor(op)) {
    const limit = wpc?.budgets?.[name];
    if (typeof limit !== 'number') continue;
    const used = (budgets.get(name)?.used ?? 0) + 1;
    budgets.set(name, { used, limit, at: r });
    const ledger = r.receipt.budget?.[name]?.used;
    if (typeof ledger === 'number' && ledger < used) mismatches.push({ name, ledger, recount: used, at: r });
  }
}

function requiresApproval(op: Operation, contents: BundleContents, receipt: Receipt): boolean {
  return needsApproval(op, typeof receipt.wpc_hash === 'string' ? contents.wpcs.get(receipt.wpc_hash) : undefined);
}

function operationOf(receipt: Receipt): Operation | undefined {
  return (receipt.operation ?? receipt.request?.operation) as Operation | undefined;
}

function createdKeys(receipt: Receipt): string[] {
  const fromChanges = (receipt.changes ?? []).filter((c) => c.before === null || c.before === undefined).map((c) => c.issue);
  const keys = receipt.issue_keys && receipt.issue_keys.length > 0 ? receipt.issue_keys : fromChanges;
  return [...new Set(keys)];
}

function issueList(receipt: Receipt): string {
  const keys = receipt.issue_keys ?? [];
  return keys.length > 0 ? keys.join(', ') : 'the target issue';
}

/** A denied call's reason codes, once each, in the order the gate reported them. */
function denialCodes(receipt: Receipt): string[] {
  const codes = [...new Set((receipt.decision?.reasons ?? []).map((reason) => reason.code))];
  return codes.length > 0 ? codes : ['UNSPECIFIED'];
}

/** Beyond this many denied calls, the rest are one finding with their count, so a flood stays readable. */
const MAX_DENIAL_FINDINGS = 200;

/**
 * One finding per denied call, carrying all its reason codes: a call refused for three rules is one
 * finding, not three, and the findings' counts add up to the number of denied decisions.
 */
function denialFindings(calls: LoadedReceipt[]): ReviewException[] {
  const findings: ReviewException[] = calls.slice(0, MAX_DENIAL_FINDINGS).map((r) => {
    const codes = denialCodes(r.receipt);
    return {
      severity: codes.map((code) => severityOfDenial(code, r.receipt)).sort((a, b) => SEVERITIES.indexOf(a) - SEVERITIES.indexOf(b))[0] as Severity,
      code: 'DENIAL',
      reason: codes[0] as string,
      reasons: codes,
      count: 1,
      message: `${r.receipt.tool ?? operationOf(r.receipt) ?? 'a call'} denied: ${codes.join(', ')}`,
      file: r.file,
      line: r.line,
      ...(r.receipt.issue_keys && r.receipt.issue_keys.length > 0 ? { issues: r.receipt.issue_keys } : {}),
    };
  });
  const rest = calls.slice(MAX_DENIAL_FINDINGS);
  const first = rest[0];
  if (first) {
    findings.push({
      severity: 'medium',
      code: 'DENIALS_MORE',
      count: rest.length,
      message: `${rest.length} more denied call(s) (see denials_by_reason, or the receipts from here on)`,
      file: first.file,
      line: first.line,
    });
  }
  return findings;
}

function severityOfDenial(reason: string, receipt: Receipt): Severity {
  if (HIGH_REASONS.has(reason)) return 'high';
  if (receipt.decision?.stage === 'policy' || receipt.decision?.stage === 'cst') return 'medium';
  return 'low';
}

function thresholdsOf(wpcs: Wpc[], options: ReviewOptions): BundleReview['thresholds'] {
  // With several WPCs in force, the strictest threshold of each kind applies.
  const min = (values: (number | undefined)[]): number | null => {
    const defined = values.filter((v): v is number => v !== undefined);
    return defined.length > 0 ? Math.min(...defined) : null;
  };
  return {
    max_issues_created: options.maxIssuesCreated ?? min(wpcs.map((w) => w.review?.max_issues_created)),
    max_writes: options.maxWrites ?? min(wpcs.map((w) => w.review?.max_writes)),
    max_denials: options.maxDenials ?? min(wpcs.map((w) => w.review?.max_denials)),
    budget_warning_ratio: options.budgetWarningRatio ?? min(wpcs.map((w) => w.review?.budget_warning_ratio)) ?? 0.8,
  };
}

/** Exceptions at or above a severity (the CLI's --fail-on). */
export function exceptionsAtLeast(review: BundleReview, severity: Severity): ReviewException[] {
  const limit = SEVERITIES.indexOf(severity);
  return review.exceptions.filter((e) => SEVERITIES.indexOf(e.severity) <= limit);
}
