import { CstError } from '../cst/errors.js';
import type { Scope } from '../cst/scope.js';
import { isJiraError } from '../jira/errors.js';
import { decide, deniesOperation, type Decision, type DecisionRequest } from '../policy/decide.js';
import type { DecisionDraft } from '../receipts/build.js';
import type { GateReason } from '../receipts/types.js';
import { hashOfJson } from '../util/canonical.js';
import { ClawError, codeOf, describeError } from '../util/errors.js';
import type { Operation } from '../wpc/operations.js';
import type { Wpc } from '../wpc/schema.js';
import { BudgetExceeded } from './budgets.js';
import { GateDenied } from './denial.js';
import type { ParsedCall, ResolvedCall, TargetFacts, Tool, ToolContext } from './tool.js';

/**
 * The gate's stages that need nothing but their inputs: each returns its result or throws one GateDenied.
 * The stages that touch state (token, kill switch, approval, budget, receipts) are the Gate's methods; the
 * order of both is `Gate.#call`.
 */

/** Input: the tool's strict schema. What it accepts is bound to the tool and reaches nothing else. */
export function parseInput(tool: Tool, rawArgs: unknown): ParsedCall {
  const parsed = tool.parse(rawArgs ?? {});
  if (parsed.success) return parsed.call;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'arguments';
  throw GateDenied.of('INPUT_INVALID', `invalid arguments: ${where}: ${issue?.message ?? 'rejected'}`);
}

/** A token that does not verify refuses the call at stage `cst`, with the verifier's own code. */
export function tokenDenial(error: unknown): unknown {
  return error instanceof CstError ? new GateDenied(error.code, 'cst', error.message) : error;
}

/** Operation: one the policy or the token refuses outright is refused before Jira is asked anything. */
export function checkOperation(operation: Operation, wpc: Wpc, scope: Scope | undefined, draft: DecisionDraft): void {
  const decision = decide({ operation }, wpc, scope);
  if (!deniesOperation(decision)) return;
  draft.request = { operation };
  draft.policy_decision = decision;
  throw policyDenial(decision.reasons);
}

/** Target: the tool reads the real target from Jira. Whatever fails refuses the call before any decision. */
export async function resolveTarget(call: ParsedCall, ctx: ToolContext): Promise<ResolvedCall> {
  try {
    return await call.resolve(ctx);
  } catch (error) {
    throw targetDenial(error);
  }
}

/** Decide: the request decide() sees (and the verifier re-runs), and its answer. A deny refuses the call. */
export function decideCall(operation: Operation, target: TargetFacts, wpc: Wpc, scope: Scope | undefined, draft: DecisionDraft): Decision {
  const request = decisionRequest(operation, target);
  draft.request = request;
  const decision = decide(request, wpc, scope);
  draft.policy_decision = decision;
  if (decision.effect === 'deny') throw policyDenial(decision.reasons);
  return decision;
}

/** Every dimension of the target, lists de-duplicated and sorted so receipts do not depend on their order. */
export function decisionRequest(operation: Operation, target: TargetFacts): DecisionRequest {
  return {
    operation,
    ...(target.project !== undefined ? { project: target.project } : {}),
    ...(target.issueType !== undefined ? { issueType: target.issueType } : {}),
    ...(target.fieldsWrite !== undefined ? { fieldsWrite: sortedSet(target.fieldsWrite) } : {}),
    ...(target.fieldsRead !== undefined ? { fieldsRead: sortedSet(target.fieldsRead) } : {}),
    ...(target.projects !== undefined ? { projects: sortedSet(target.projects) } : {}),
    ...(target.issueTypes !== undefined ? { issueTypes: sortedSet(target.issueTypes) } : {}),
    ...(target.parentProject !== undefined ? { parentProject: target.parentProject } : {}),
    ...(target.jql !== undefined ? { jql: target.jql } : {}),
  };
}

function sortedSet(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** A policy denial names its headline rule, so the model (and the human reading along) sees why. */
export function policyDenial(reasons: GateReason[]): GateDenied {
  const first = reasons[0] ?? { code: 'DENIED', rule: 'policy' };
  const more = reasons.length > 1 ? ` (and ${reasons.length - 1} more rule${reasons.length > 2 ? 's' : ''})` : '';
  return new GateDenied(first.code, 'policy', `refused by the policy in force: ${first.code} at ${first.rule}${more}`, reasons);
}

/** Target resolution failed: the call is refused before any decision, with Jira's own reason. */
export function targetDenial(error: unknown): GateDenied {
  if (error instanceof GateDenied) return error;
  if (isJiraError(error)) {
    const code = error.code === 'JIRA_NOT_FOUND' ? 'TARGET_NOT_FOUND' : error.code;
    return new GateDenied(code, 'target', `cannot resolve the target in Jira: ${error.message}`);
  }
  if (error instanceof ClawError) return new GateDenied(error.code, 'target', error.message);
  return GateDenied.of('TARGET_UNRESOLVED', 'cannot resolve the target of this call');
}

/** The budget refused (over a limit), or could not be read: stage `budget` either way. */
export function budgetDenial(error: unknown): GateDenied {
  if (error instanceof BudgetExceeded) return GateDenied.of('BUDGET_EXCEEDED', error.message, `budgets.${error.budget}`);
  return new GateDenied(codeOf(error, 'BUDGET_UNAVAILABLE'), 'budget', describeError(error));
}

/** Anything thrown that is not a stage's refusal: refused at `config`, its message kept only when coded. */
export function unexpectedDenial(error: unknown): GateDenied {
  if (error instanceof GateDenied) return error;
  if (error instanceof ClawError) return new GateDenied(error.code, 'config', error.message);
  return GateDenied.of('INTERNAL_ERROR', 'internal error');
}

/**
 * The hash of the arguments, for every receipt. Arguments JSON cannot canonicalise (nested past the stack,
 * or numbers like 1e400) get a fixed marker instead, so even those calls are refused with a receipt.
 */
export function safeArgsHash(rawArgs: unknown): string {
  try {
    return hashOfJson(rawArgs ?? {});
  } catch {
    return 'sha256:uncanonicalizable-arguments';
  }
}
