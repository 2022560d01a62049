import ky from 'ky';
import { CstError } from '../cst/errors.js';
import { isLoopbackUrl } from './clawin-url.js';

/**
 * Liveness and revocation through clawscope's introspection endpoint (`POST /v1/tokens/introspect {token}` →
 * `{active, revoked?, token_hash, …}`; errors `{error: CODE, message}`), the only public revocation source
 * clawscope has. An answer "active" is cached briefly (never past the token's expiry); "revoked" is final for
 * the life of the process; an endpoint that cannot answer refuses the call (fail closed).
 */
export interface IntrospectionOptions {
  /** Seconds an "active" answer is reused. 0 asks on every call. */
  cacheSeconds: number;
  timeoutMs?: number;
  now?: () => Date;
}

export class ClawscopeIntrospection {
  readonly url: string;
  readonly #options: Required<IntrospectionOptions>;
  readonly #active = new Map<string, number>();
  readonly #revoked = new Set<string>();

  constructor(baseUrl: string, options: IntrospectionOptions) {
    const url = new URL(baseUrl);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackUrl(url))) {
      throw new CstError('CST_REVOCATION_UNAVAILABLE', 'the clawscope URL must use https (plain http only on loopback)');
    }
    this.url = new URL('v1/tokens/introspect', url.href.endsWith('/') ? url.href : `${url.href}/`).href;
    this.#options = { timeoutMs: 5_000, now: () => new Date(), ...options };
  }

  /** Throws CST_REVOKED, CST_INACTIVE, CST_EXPIRED or CST_REVOCATION_UNAVAILABLE; returns when clawscope says active. */
  async check(token: string, tokenHashHex: string, exp: number): Promise<void> {
    if (this.#revoked.has(tokenHashHex)) throw revoked();
    const nowMs = this.#options.now().getTime();
    const until = this.#active.get(tokenHashHex);
    if (until !== undefined && nowMs < until) return;
    this.#active.delete(tokenHashHex);
    const answer = await this.#ask(token);
    if (answer.status >= 500 || answer.body === undefined) {
      throw new CstError('CST_REVOCATION_UNAVAILABLE', `clawscope introspection could not answer (${answer.status === 0 ? 'unreachable' : `HTTP ${answer.status}`})`);
    }
    const body = answer.body;
    if (answer.status !== 200) {
      const code = typeof body.error === 'string' ? body.error.slice(0, 64) : `HTTP_${answer.status}`;
      if (code === 'TOKEN_EXPIRED') throw new CstError('CST_EXPIRED', 'clawscope says the token has expired');
      throw new CstError('CST_INACTIVE', `clawscope refuses the token (${code})`);
    }
    if (typeof body.active !== 'boolean') throw new CstError('CST_REVOCATION_UNAVAILABLE', 'clawscope introspection answered without "active"');
    if (body.revoked === true) {
      this.#revoked.add(tokenHashHex);
      throw revoked();
    }
    if (!body.active) throw new CstError('CST_INACTIVE', 'clawscope says the token is not active');
    if (typeof body.token_hash === 'string' && body.token_hash !== tokenHashHex) {
      throw new CstError('CST_INACTIVE', 'clawscope introspection answered for another token');
    }
    if (this.#options.cacheSeconds > 0) {
      if (this.#active.size > 1000) this.#active.clear();
      this.#active.set(tokenHashHex, Math.min(nowMs + this.#options.cacheSeconds * 1000, exp * 1000));
    }
  }

  async #ask(token: string): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
    try {
      const response = await ky.post(this.url, {
        json: { token },
        timeout: this.#options.timeoutMs,
        retry: 0,
        throwHttpErrors: false,
        redirect: 'error',
      });
      const text = await response.text();
      if (text.length > 64 * 1024) return { status: response.status, body: undefined };
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return { status: response.status >= 500 ? response.status : 502, body: undefined };
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return { status: 502, body: undefined };
      return { status: response.status, body: body as Record<string, unknown> };
    } catch {
      return { status: 0, body: undefined };
    }
  }
}

function revoked(): CstError {
  return new CstError('CST_REVOKED', 'clawscope says the token has been revoked');
}
