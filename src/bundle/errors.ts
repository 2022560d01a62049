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
  | 'REPORT_UNWRITABLE';

/** A bundle command that could not run (as opposed to a verification that ran and found problems). */
export class BundleError extends ClawError {
  declare readonly code: BundleErrorCode;
  constructor(code: BundleErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
    this.name = 'BundleError';
  }
}
