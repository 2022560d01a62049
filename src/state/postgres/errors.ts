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
  /** `bundle export`: the database holds no job by that id. */
  'STATE_JOB_UNKNOWN',
  /** `bundle export`: the output folder exists and is not empty (an export never mixes with other files). */
  'STATE_EXPORT_TARGET_EXISTS',
  /** `bundle export`: a session's rows do not run 1..n up to its recorded head (the database was edited). */
  'STATE_SESSION_INCOMPLETE',
] as const;
export type StateErrorCode = (typeof STATE_ERROR_CODES)[number];

export class StateError extends ClawError {
  declare readonly code: StateErrorCode;
  constructor(code: StateErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
    this.name = 'StateError';
  }
}
