/**
 * Every refusal in claw-jira carries a stable, machine-readable `code` (in the style of jose's
 * `ERR_JWT_EXPIRED`). Messages are for humans and may change; codes are API and must not.
 * Messages never contain secrets: callers pass only what is safe to show.
 */
export class ClawError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ClawError';
    this.code = code;
    this.details = details;
  }
}

export function isClawError(error: unknown): error is ClawError {
  return error instanceof ClawError;
}

/**
 * The stable code of any thrown value: a ClawError's own code, else `fallback` (the caller's name for "this
 * step failed in a way nobody coded"). The one place a code is derived from an unknown error.
 */
export function codeOf(error: unknown, fallback: string): string {
  return error instanceof ClawError ? error.code : fallback;
}

/** A message safe to show for any thrown value: never a stack trace. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
