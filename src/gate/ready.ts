import type { ClawscopeVerifier } from '../claw/clawscope.js';
import type { CstVerifier } from '../cst/verify.js';
import type { JiraClient } from '../jira/client.js';
import type { TrustStore } from '../keys/trust.js';
import type { ApprovalPort, BudgetStore, KillSwitchCheck, ReceiptSink } from '../state/ports.js';
import type { VerifiedWpc } from '../wpc/registry.js';
import type { FieldCatalog } from './field-catalog.js';

/**
 * Everything a call needs, each one present: built once at start, only when nothing kept the server from
 * being ready. A gate either has this record or refuses every call with its start-up problems.
 */
export interface Ready {
  readonly job: string;
  readonly wpc: VerifiedWpc;
  readonly trust: TrustStore;
  readonly verifier: CstVerifier;
  /** The clawscope lane, when CLAW_SCOPE_URL is set. */
  readonly scopeVerifier: ClawscopeVerifier | undefined;
  readonly jira: JiraClient;
  readonly fields: FieldCatalog;
  readonly log: ReceiptSink;
  readonly budgets: BudgetStore;
  readonly approvals: ApprovalPort;
  readonly killSwitch: KillSwitchCheck;
}

/** What start-up opened, any of it possibly missing. */
export type ReadyParts = { -readonly [K in keyof Ready]: Ready[K] | undefined };

/**
 * The Ready record, or the names of what is missing. Missing parts without a start-up problem to explain them
 * are a wiring bug: the gate names them as GATE_NOT_WIRED rather than assume they are there.
 */
export function readyOf(parts: ReadyParts): { ready: Ready } | { missing: string[] } {
  const { job, wpc, trust, verifier, scopeVerifier, jira, fields, log, budgets, approvals, killSwitch } = parts;
  if (job && wpc && trust && verifier && jira && fields && log && budgets && approvals && killSwitch) {
    return { ready: { job, wpc, trust, verifier, scopeVerifier, jira, fields, log, budgets, approvals, killSwitch } };
  }
  return { missing: (Object.keys(parts) as Array<keyof Ready>).filter((key) => key !== 'scopeVerifier' && parts[key] === undefined) };
}
