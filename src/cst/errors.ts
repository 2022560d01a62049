import { ClawError } from '../util/errors.js';

export const CST_ERROR_CODES = [
  'CST_MISSING',
  'CST_MALFORMED',
  'CST_BAD_SIGNATURE',
  'CST_EXPIRED',
  'CST_NOT_YET_VALID',
  'CST_WRONG_AUDIENCE',
  'CST_WRONG_JOB',
  'CST_POLICY_MISMATCH',
  'CST_TTL_EXCEEDS_WPC',
  'CST_SCOPE_HASH_MISMATCH',
  'CST_SCOPE_EXCEEDS_WPC',
  'CST_REVOKED',
  'CST_REVOCATION_UNAVAILABLE',
  'REVOCATION_ROLLBACK',
  'CST_REPLAYED',
  'CST_REPLAY_STORE_UNAVAILABLE',
] as const;
/** Codes only the clawscope lane produces (src/claw/clawscope.ts); it reuses every code above for its twins. */
export const CLAWSCOPE_CST_ERROR_CODES = ['CST_INACTIVE', 'CST_SCOPE_UNMAPPABLE'] as const;
export type CstErrorCode = (typeof CST_ERROR_CODES)[number] | (typeof CLAWSCOPE_CST_ERROR_CODES)[number];

export class CstError extends ClawError {
  declare readonly code: CstErrorCode;
  constructor(code: CstErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
    this.name = 'CstError';
  }
}
