/**
 * Reason codes of the Claw reference verifier (PROTOCOL.md §8) that claw-jira's own checks report. They are the
 * protocol's strings, unchanged, so an auditor reads the same code from claw-jira as from clawverify.
 */
export type ClawReasonCode =
  | 'OK'
  | 'MALFORMED_ENVELOPE'
  | 'UNKNOWN_ENVELOPE_VERSION'
  | 'UNKNOWN_ENVELOPE_TYPE'
  | 'UNKNOWN_ALGORITHM'
  | 'UNKNOWN_HASH_ALGORITHM'
  | 'UNKNOWN_VERSION'
  | 'INVALID_DID_FORMAT'
  | 'EXPIRED_TTL'
  | 'HASH_MISMATCH'
  | 'SIGNATURE_INVALID'
  | 'CO_SIGNATURE_INVALID'
  | 'SCHEMA_VALIDATION_FAILED'
  | 'PROOF_BUNDLE_AGENT_MISMATCH'
  | 'RECEIPT_BINDING_MISMATCH'
  | 'RECEIPT_VERIFICATION_FAILED'
  | 'DEPENDENCY_NOT_CONFIGURED'
  | 'CLAIM_NOT_FOUND'
  | 'URM_MISSING'
  | 'URM_MISMATCH'
  | 'RATE_LIMIT_WINDOW_INVALID'
  | 'RATE_LIMIT_EXCEEDED'
  | 'RATE_LIMIT_CLAIM_INCONSISTENT'
  | 'DISCLOSURE_ALGORITHM_UNKNOWN'
  | 'DISCLOSURE_TYPE_MISMATCH'
  | 'DISCLOSURE_ROOT_MISMATCH'
  | 'CAUSAL_SIDE_EFFECT_ORPHANED'
  | 'CAUSAL_HUMAN_APPROVAL_ORPHANED';

/** The outcome of one check: either it passed, or the protocol's reason code and a human message. */
export type ClawCheck<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason_code: ClawReasonCode; readonly message: string };

export function fail(reason_code: ClawReasonCode, message: string): { ok: false; reason_code: ClawReasonCode; message: string } {
  return { ok: false, reason_code, message };
}
