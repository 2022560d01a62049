/** Retry policy for safe (read) requests. Writes are never retried: see transport.ts. */
export interface RetryOptions {
  /** Attempts in total, the first one included. */
  readonly limit: number;
  /** First backoff wait before jitter; doubles on each retry. */
  readonly baseMs: number;
  /** No single wait is ever longer; a Retry-After above it ends the retries instead. */
  readonly capMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { limit: 4, baseMs: 1_000, capMs: 30_000 };

/** 429 and 503 are Atlassian's "come back later"; 502/504 are gateway hiccups in front of Jira. */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

const JITTER_MIN = 0.7;
const JITTER_SPAN = 0.6;

/**
 * Exponential backoff with Atlassian's recommended jitter (×0.7–1.3), capped.
 * `retryIndex` is 0 for the wait before the second attempt.
 */
export function backoffMs(retryIndex: number, options: RetryOptions, random: () => number): number {
  const jitter = JITTER_MIN + JITTER_SPAN * Math.min(Math.max(random(), 0), 1);
  return Math.min(options.capMs, Math.round(options.baseMs * 2 ** retryIndex * jitter));
}

/** `Retry-After` as delta-seconds or an HTTP date, in ms from `now`; undefined when absent or garbled. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date) || !/[A-Za-z]/.test(value)) return undefined;
  return Math.max(0, date - now);
}
