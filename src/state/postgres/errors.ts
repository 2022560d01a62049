import { ClawError } from '../../util/errors.js';

export const STATE_ERROR_CODES = [
  /** CLAW_STATE_URL is not a postgres:// or postgresql:// URL. */
  'STATE_URL_INVALID',
  /** The database cannot be reached or a statement failed: the call is refused (fail closed). */
  'STATE_UNAVAILABLE',
  /** The database has no claw-jira schema yet, or an older one: run `claw-jira db migrate`. */
  'STATE_SCHEMA_OUTDATED',
  /** The database carries a schema version this build does not know (a newer claw-jira migrated it). */
  'STATE_SCHEMA_UNKNOWN',
] as const;
export type StateErrorCode = (typeof STATE_ERROR_CODES)[number];

export class StateError extends ClawError {
  declare readonly code: StateErrorCode;
  constructor(code: StateErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
    this.name = 'StateError';
  }
}
