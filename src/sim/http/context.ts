import type { SimStore } from '../store.js';
import type { SimCredentialedUser } from '../users.js';
import { problem } from './errors.js';

/** What a route handler sees of a request. */
export interface SimRequest {
  readonly method: string;
  /** Decoded path without the query string. */
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Parsed JSON body (undefined when the request had none). */
  readonly body: unknown;
  readonly user: SimCredentialedUser;
  readonly store: SimStore;
  /** Origin used in `self` links, e.g. http://127.0.0.1:54321 */
  readonly baseUrl: string;
  /** A noop_write fault matched: validate and answer as usual, but change nothing. */
  readonly noop: boolean;
}

export interface SimResponse {
  readonly status: number;
  readonly body?: unknown;
}

export const noContent: SimResponse = { status: 204 };

export function ok(body: unknown, status = 200): SimResponse {
  return { status, body };
}

/** Values of a parameter that may repeat and may hold comma-separated lists (`fields`, `expand`). */
export function queryList(query: URLSearchParams, name: string): string[] {
  return query
    .getAll(name)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

/** An integer query parameter; Jira answers an unconvertible value with an RFC 7807 400. */
export function queryInt(req: Pick<SimRequest, 'query' | 'path'>, name: string, fallback: number): number {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return fallback;
  const cleaned = raw.trim();
  if (!/^[+-]?\d+$/.test(cleaned) || !Number.isSafeInteger(Number(cleaned))) {
    throw problem(400, 'Bad Request', `Failed to convert '${name}' with value: '${raw}'`, req.path);
  }
  return Number(cleaned);
}

export function queryBool(query: URLSearchParams, name: string, fallback: boolean): boolean {
  const raw = query.get(name);
  if (raw === null) return fallback;
  return raw.trim().toLowerCase() === 'true';
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
