import { ALWAYS_APPROVAL, NEVER_ELICIT, type Operation } from '../wpc/operations.js';
import type { Wpc } from '../wpc/schema.js';

/**
 * Whether a write needs a human's approval: always for the operations claw-jira never lets run unattended,
 * else when the WPC lists it. The gate asks before a write; review asks of an allowed one afterwards (with
 * no WPC at hand, only the fixed list counts).
 */
export function needsApproval(operation: Operation, wpc: Wpc | undefined): boolean {
  return ALWAYS_APPROVAL.includes(operation) || (wpc?.approval?.operations ?? []).includes(operation);
}

/** Elicitation stands in for a signed approval only where the WPC says so, and never for high-risk operations. */
export function canElicit(operation: Operation, wpc: Wpc): boolean {
  return (wpc.approval?.elicitation ?? []).includes(operation) && !NEVER_ELICIT.includes(operation) && !ALWAYS_APPROVAL.includes(operation);
}
