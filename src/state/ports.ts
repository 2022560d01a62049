import type { ApprovalRequest, ApprovedCall } from '../approvals/approvals.js';
import type { BudgetUsage } from '../gate/budgets.js';
import type { KillSwitchVerdict } from '../gate/kill-switch.js';
import type { TrustStore } from '../keys/trust.js';
import type { AppendedReceipt } from '../receipts/log.js';
import type { ReceiptContent } from '../receipts/types.js';
import type { Operation } from '../wpc/operations.js';
import type { Wpc } from '../wpc/schema.js';

/**
 * What the gate needs of its state, and nothing more. The embedded default keeps it in files under CLAW_HOME
 * (budgets, approvals, the signed kill switch, the receipt log in the bundle folder); `serve` may keep it in
 * Postgres, shared by every replica. Each port is the whole contract: the gate never reaches past it.
 */

/** The job's budgets: `check` refuses without spending, `spend` counts one call atomically (never over a limit). */
export interface BudgetStore {
  check(operation: Operation, wpc: Wpc): Promise<void>;
  spend(operation: Operation, wpc: Wpc): Promise<BudgetUsage>;
}

/** Single-use human approvals of one exact call. */
export interface ApprovalPort {
  /** Use a signed approval of this exact call, exactly once; undefined when there is none. */
  consume(call: { job: string; tool: string; args_hash: string; wpc_hash: string }, trust: TrustStore, now: Date): Promise<ApprovedCall | undefined>;
  /** File a request for a person to approve (capped per job). */
  fileRequest(input: Omit<ApprovalRequest, 'request_id' | 'requested_at'>, now: Date): ApprovalRequest | Promise<ApprovalRequest>;
  /** Record a request as used by an elicitation (the human said yes at the client). */
  markUsed(requestId: string, job: string, now: Date): Promise<void>;
}

/** Whether writes are allowed right now. */
export interface KillSwitchCheck {
  check(): Promise<KillSwitchVerdict>;
}

/**
 * One session's receipt chain, in call order. `appendWritten` resolves once the receipt has its place in the
 * chain (signed, written, not yet durable: the next sync or commit covers it); `appendDurable` resolves only
 * once that receipt is durable; a failure fails every call that waited on it.
 */
export interface ReceiptSink {
  readonly session: string;
  /** The session's file in the bundle, when the sink is a file (the embedded default). */
  readonly file?: string;
  appendWritten(content: ReceiptContent): Promise<AppendedReceipt>;
  appendDurable(content: ReceiptContent): Promise<AppendedReceipt>;
  flush(): Promise<void>;
  closeDurably(closing?: ReceiptContent): Promise<void>;
}
