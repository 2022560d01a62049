import type { DecisionRequest, Effect, Reason } from '../policy/decide.js';
import type { Scope } from '../cst/scope.js';

/** Where in the gate a decision was made: auditors filter denials by it. */
export type DecisionStage = 'config' | 'wpc' | 'cst' | 'target' | 'policy' | 'kill_switch' | 'budget' | 'approval' | 'allowed';

/** A gate reason: the policy decision's own codes, or a gate code (CST_*, WPC_*, WRITES_DISABLED, ...). */
export interface GateReason {
  code: string;
  rule: string;
}

/** One logical Jira call as receipts record it: never headers or bodies. `status` null: no answer came. */
export interface JiraExchange {
  method: string;
  path: string;
  status: number | null;
  attempts?: number;
}

export interface FieldChange {
  issue: string;
  field: string;
  before: unknown;
  after: unknown;
}

export type OutcomeStatus = 'succeeded' | 'failed' | 'not_applied';

/** Everything a receipt says, before the log stamps the chain members and the signature. */
export interface ReceiptContent {
  kind: 'decision' | 'outcome' | 'event';
  time: string;
  tool?: string;
  operation?: string;
  args_hash?: string;
  /** The request as the decision function saw it, so a verifier can re-run the decision. */
  request?: DecisionRequest;
  /** The token's scope at decision time (not secret), also needed to re-run the decision. */
  scope?: Scope;
  /** The pure policy decision, when the call got that far. */
  policy_decision?: { effect: Effect; reasons: Reason[] };
  /** The gate's final word: the policy decision, or the earlier/later check that refused. */
  decision?: { effect: Effect; stage: DecisionStage; reasons: GateReason[] };
  wpc_hash?: string;
  cst?: { jti: string; token_hash: string; sub: string; exp: number };
  jira?: JiraExchange[];
  issue_keys?: string[];
  changes?: FieldChange[];
  /** `in_doubt`: a failed write that may nevertheless have been applied (no complete answer, or a 5xx). */
  outcome?: { status: OutcomeStatus; code?: string; message?: string; in_doubt?: boolean };
  /** For a succeeded outcome: the hash of the result data the tool returned (the Claw tool receipt's result hash). */
  result_hash?: string;
  /** For an outcome: the hash of the decision receipt it closes. */
  decision_ref?: string;
  /** `via`: a signed approval (`claw-jira approve`) or, for low-risk operations the WPC lists, an MCP elicitation. */
  approval?: { request_id: string; approval_id?: string; via?: 'signed' | 'elicitation' };
  /** Budget usage after this call: lets review flag budgets near their limit. */
  budget?: Record<string, { used: number; limit: number }>;
  event?: { type: string; [key: string]: unknown };
  /** The Claw run id of the job (the same on every receipt of the job); absent on receipts older than it. */
  run_id?: string;
}

export interface ReceiptBody extends ReceiptContent {
  v: 1;
  job: string;
  server: string;
  session: string;
  seq: number;
  /** `sha256:` of the previous receipt's canonical line; null for the first receipt of a session. */
  prev: string | null;
  kid: string;
}

export interface Receipt extends ReceiptBody {
  /** Ed25519 signature (base64url) over the RFC 8785 bytes of the receipt without `sig`. */
  sig: string;
}
