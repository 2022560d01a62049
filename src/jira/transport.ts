import { setTimeout as delay } from 'node:timers/promises';
import { authorizationHeader, scrubSecrets, secretForms, type JiraAuth } from './auth.js';
import { BodyTooLarge } from './body.js';
import { JiraError, JiraHttpError, type JiraExchange } from './errors.js';
import { UnsupportedEncoding, type HttpAnswer, type HttpSend } from './http.js';
import { backoffMs, parseRetryAfter, RETRYABLE_STATUS, type RetryOptions } from './retry.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type QueryValue = string | number | boolean | readonly string[] | undefined;

export interface JiraRequest {
  readonly method: HttpMethod;
  /** Below the base URL, e.g. `/rest/api/3/issue/ABC-1`; path parameters already encoded. */
  readonly path: string;
  readonly query?: Readonly<Record<string, QueryValue>>;
  readonly body?: unknown;
  /**
   * Reads may be retried; everything else is sent exactly once, because a retried create or comment
   * duplicates it. Defaults to `method === 'GET'`; the read-only POSTs (search) set it explicitly.
   */
  readonly readOnly?: boolean;
}

export interface JiraResponse<T> {
  readonly data: T;
  readonly request: JiraExchange;
}

export interface TransportOptions {
  readonly baseUrl: string;
  readonly auth: JiraAuth;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly retry: RetryOptions;
  readonly send: HttpSend;
  readonly random: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly userAgent: string;
}

interface RawResponse {
  readonly status: number;
  readonly header: (name: string) => string | undefined;
  readonly bytes: Uint8Array;
}

const REDIRECT_STATUS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 3;
/**
 * Failures where the request provably never left: a write that hit one of these was not applied. A TLS
 * certificate that does not verify ends the handshake before a byte of the request is sent.
 */
const NOT_SENT: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export const defaultSleep = (ms: number): Promise<void> => delay(ms);

/**
 * One logical Jira call: at most `retry.limit` HTTP attempts for reads, exactly one for writes; each
 * attempt bounded in time (headers and body) and size. Redirects are followed only for GET and only
 * when they stay under the base URL (same origin, same path prefix), at most 3 hops; any other redirect
 * is refused, so the Authorization header never travels to another host.
 */
export class JiraTransport {
  readonly #o: TransportOptions;
  readonly #base: URL;
  /** The base URL without its trailing slash. */
  readonly #prefix: string;
  readonly #secrets: readonly string[];

  constructor(options: TransportOptions) {
    this.#o = options;
    this.#base = new URL(options.baseUrl);
    this.#prefix = this.#base.href.replace(/\/$/, '');
    this.#secrets = secretForms(options.auth);
  }

  async send(req: JiraRequest): Promise<JiraResponse<unknown>> {
    const target = req.path + queryString(req.query);
    const readOnly = req.readOnly ?? req.method === 'GET';
    const limit = readOnly ? Math.max(1, this.#o.retry.limit) : 1;
    for (let attempt = 1; ; attempt++) {
      let raw: RawResponse;
      try {
        raw = await this.#attempt(req, target, attempt, readOnly);
      } catch (error) {
        if (attempt < limit && error instanceof JiraError && (error.code === 'JIRA_NETWORK' || error.code === 'JIRA_TIMEOUT')) {
          await this.#o.sleep(backoffMs(attempt - 1, this.#o.retry, this.#o.random));
          continue;
        }
        throw error;
      }
      const exchange = { method: req.method, path: target, status: raw.status, attempts: attempt };
      if (raw.status >= 200 && raw.status < 300) return { data: this.#parseJson(raw, exchange), request: exchange };
      const retryAfterMs = parseRetryAfter(raw.header('retry-after') ?? null, this.#o.now());
      // A Retry-After beyond the cap is not shortened (that would just hit the limit again): we stop
      // and report it, so the caller can decide.
      if (attempt < limit && RETRYABLE_STATUS.has(raw.status) && (retryAfterMs ?? 0) <= this.#o.retry.capMs) {
        await this.#o.sleep(retryAfterMs ?? backoffMs(attempt - 1, this.#o.retry, this.#o.random));
        continue;
      }
      throw this.#httpError(raw, exchange, readOnly, retryAfterMs);
    }
  }

  async #attempt(req: JiraRequest, target: string, attempt: number, readOnly: boolean): Promise<RawResponse> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#o.timeoutMs);
    let status: number | undefined;
    const exchange = (): JiraExchange => ({ method: req.method, path: target, status, attempts: attempt });
    try {
      let url = new URL(this.#prefix + target);
      // No HTTP wrapper library: retries, timeouts, redirects and error statuses are all handled here.
      const body = req.body === undefined ? undefined : JSON.stringify(req.body);
      // The credential is read from its Secret per request, never kept as a plain string on the transport.
      const headers: Record<string, string> = {
        authorization: authorizationHeader(this.#o.auth),
        accept: 'application/json',
        'user-agent': this.#o.userAgent,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      };
      for (let hop = 0; ; hop++) {
        const response = await this.#o.send(url, { method: req.method, headers, ...(body !== undefined ? { body } : {}), signal: controller.signal });
        status = response.status;
        if (!REDIRECT_STATUS.has(response.status)) {
          try {
            return { status: response.status, header: (name) => response.header(name), bytes: await response.read(this.#o.maxResponseBytes) };
          } catch (error) {
            if (!(error instanceof BodyTooLarge)) throw error;
            throw new JiraError('JIRA_RESPONSE_TOO_LARGE', `Jira ${req.method} ${target}: response larger than ${error.limit} bytes`, {
              request: exchange(),
              inDoubt: !readOnly,
            });
          }
        }
        response.discard();
        url = this.#redirectTarget(req, response, url, hop, exchange());
      }
    } catch (error) {
      if (error instanceof JiraError) throw error;
      if (error instanceof UnsupportedEncoding) {
        throw new JiraError('JIRA_BAD_RESPONSE', `Jira ${req.method} ${target}: answered in a content-encoding that was not asked for (${error.encoding.slice(0, 40)})`, {
          request: exchange(),
          inDoubt: !readOnly,
        });
      }
      if (timedOut) {
        throw new JiraError('JIRA_TIMEOUT', `Jira ${req.method} ${target}: no complete answer within ${this.#o.timeoutMs} ms`, {
          request: exchange(),
          inDoubt: !readOnly,
        });
      }
      const cause = errnoOf(error);
      throw new JiraError('JIRA_NETWORK', `Jira ${req.method} ${target}: network error${cause ? ` (${cause})` : ''}`, {
        request: exchange(),
        inDoubt: !readOnly && !(cause !== undefined && NOT_SENT.has(cause)),
        details: cause ? { cause } : {},
      });
    } finally {
      clearTimeout(timer);
    }
  }

  #redirectTarget(req: JiraRequest, response: HttpAnswer, from: URL, hop: number, exchange: JiraExchange): URL {
    const location = response.header('location') ?? null;
    let to: URL | undefined;
    try {
      to = location === null ? undefined : new URL(location, from);
    } catch {
      to = undefined;
    }
    if (to === undefined) {
      throw new JiraError('JIRA_BAD_RESPONSE', `Jira ${req.method} ${exchange.path}: redirect without a valid Location`, { request: exchange });
    }
    const refuse = (why: string): JiraError =>
      new JiraError('JIRA_REDIRECT_REFUSED', `Jira ${req.method} ${exchange.path}: redirect refused (${why})`, {
        request: exchange,
        details: { status: response.status, location: to.origin },
      });
    if (req.method !== 'GET') throw refuse('redirects are followed for GET only');
    if (!this.#isUnderBase(to)) throw refuse(`target ${to.origin} is outside the Jira base URL`);
    if (hop + 1 > MAX_REDIRECTS) throw refuse(`more than ${MAX_REDIRECTS} redirects`);
    return to;
  }

  #isUnderBase(url: URL): boolean {
    const basePath = this.#base.pathname.replace(/\/$/, '');
    return url.origin === this.#base.origin && (basePath === '' || url.pathname === basePath || url.pathname.startsWith(`${basePath}/`));
  }

  #parseJson(raw: RawResponse, exchange: JiraExchange): unknown {
    if (raw.bytes.byteLength === 0) return undefined;
    try {
      return JSON.parse(Buffer.from(raw.bytes).toString('utf8'));
    } catch {
      throw new JiraError('JIRA_BAD_RESPONSE', `Jira ${exchange.method} ${exchange.path} answered ${exchange.status} with a body that is not JSON`, {
        request: exchange,
      });
    }
  }

  #httpError(raw: RawResponse, exchange: JiraExchange & { status: number }, readOnly: boolean, retryAfterMs: number | undefined): JiraHttpError {
    const collection = errorCollection(raw.bytes, (text) => scrubSecrets(text, this.#secrets));
    return new JiraHttpError(raw.status, collection, {
      request: exchange,
      inDoubt: !readOnly && raw.status >= 500,
      retryAfterMs,
    });
  }
}

/** Jira's `ErrorCollection` (`{errorMessages, errors}`), or the `{message}` some gateways send; lenient. */
function errorCollection(bytes: Uint8Array, scrub: (text: string) => string): { errorMessages: string[]; errors: Record<string, string> } {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return { errorMessages: [], errors: {} };
  }
  const errorMessages: string[] = [];
  const errors: Record<string, string> = {};
  if (typeof body === 'object' && body !== null) {
    const record = body as Record<string, unknown>;
    if (Array.isArray(record.errorMessages)) {
      for (const m of record.errorMessages) if (typeof m === 'string') errorMessages.push(scrub(m));
    }
    if (typeof record.message === 'string') errorMessages.push(scrub(record.message));
    if (typeof record.errors === 'object' && record.errors !== null && !Array.isArray(record.errors)) {
      for (const [k, v] of Object.entries(record.errors)) {
        errors[scrub(k)] = scrub(typeof v === 'string' ? v : JSON.stringify(v) ?? '');
      }
    }
  }
  return { errorMessages, errors };
}

function queryString(query: JiraRequest['query']): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    if (typeof value === 'object') for (const item of value) params.append(key, item);
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** The errno-style code of a network failure (on the error, or on its `cause`), never its message. */
function errnoOf(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error as Error & { cause?: unknown }).cause : undefined;
  for (const candidate of [cause, error]) {
    if (typeof candidate === 'object' && candidate !== null && 'code' in candidate) {
      const code = (candidate as { code: unknown }).code;
      if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code)) return code;
    }
  }
  return undefined;
}
