import type { Scope } from '../cst/scope.js';
import type { Decision, DecisionRequest } from '../policy/decide.js';
import type { DecisionStage, FieldChange, GateReason, JiraExchange, ReceiptContent } from './types.js';

/**
 * The receipt contents the gate writes, built in one place: the gate, and the tests' bundle fixture that
 * stands in for it, produce the same shapes. The log adds the chain members and the signature.
 */

/** What a call's decision receipt says before the gate's final word: filled in stage by stage. */
export interface DecisionDraft {
  time: string;
  tool: string;
  operation?: string;
  args_hash: string;
  wpc_hash?: string;
  cst?: ReceiptContent['cst'];
  scope?: Scope;
  request?: DecisionRequest;
  policy_decision?: Decision;
  issue_keys?: string[];
  approval?: ReceiptContent['approval'];
  budget?: ReceiptContent['budget'];
}

/** The gate's final word on a call: who decided (`stage`) and why. */
export interface GateVerdict {
  effect: 'allow' | 'deny';
  stage: DecisionStage;
  reasons: GateReason[];
}

/** A decision receipt; `jira` (the exchanges made to find the target) only when given. */
export function decisionReceipt(draft: DecisionDraft, verdict: GateVerdict, jira?: readonly JiraExchange[], time = draft.time): ReceiptContent {
  return { kind: 'decision', ...draft, time, decision: verdict, ...(jira ? { jira: [...jira] } : {}) };
}

export interface OutcomeFields {
  time: string;
  tool: string;
  operation?: string;
  args_hash: string;
  /** The hash of the decision receipt this outcome closes. */
  decision_ref: string;
  wpc_hash?: string;
  jira: JiraExchange[];
  issue_keys: string[];
  changes?: FieldChange[];
  outcome: NonNullable<ReceiptContent['outcome']>;
  result_hash?: string;
}

/** The outcome receipt of an allowed call: what Jira did, closing the decision receipt it names. */
export function outcomeReceipt(fields: OutcomeFields): ReceiptContent {
  return { kind: 'outcome', ...fields };
}

/** An event receipt (server start and stop, a status check, a torn tail, the kill switch observed...). */
export function eventReceipt(time: string, event: NonNullable<ReceiptContent['event']>, wpcHash?: string): ReceiptContent {
  return { kind: 'event', time, event, ...(wpcHash ? { wpc_hash: wpcHash } : {}) };
}
