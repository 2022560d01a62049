import { ClawError } from '../util/errors.js';

export type BundleErrorCode =
  | 'BUNDLE_NOT_FOUND'
  | 'BUNDLE_EMPTY'
  | 'BUNDLE_ALREADY_SEALED'
  | 'BUNDLE_NOT_SEALED'
  | 'BUNDLE_DAMAGED'
  | 'BUNDLE_MIXED_JOBS'
  | 'BUNDLE_UNREADABLE'
  | 'GATEWAY_INVALID'
  | 'GATEWAY_KEYS_INVALID'
  | 'REPORT_UNWRITABLE'
  | 'BUNDLE_UNEXPECTED_ENTRY'
  | 'SEAL_JOB_MISMATCH'
  | 'SESSION_MISSING'
  | 'SESSION_TRUNCATED'
  | 'SESSION_HEAD_MISMATCH'
  | 'SESSION_HEAD_INVALID'
  | 'BUNDLE_NOT_VERIFIED'
  /** A verify step reported a problem under a step it does not name: a bug in verify, never a finding. */
  | 'VERIFY_STEP_MISREPORTED';

/** A bundle command that could not run (as opposed to a verification that ran and found problems). */
export class BundleError extends ClawError {
  declare readonly code: BundleErrorCode;
  constructor(code: BundleErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
    this.name = 'BundleError';
  }
}
