import { decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
import { hashAddress, hashOfJson } from '../util/canonical.js';
import { isCanonicalCompactJws } from '../keys/base64url.js';
import { verifyBytes } from '../keys/ed25519.js';
import type { TrustStore } from '../keys/trust.js';
import type { VerifiedWpc } from '../wpc/registry.js';
import { CST_TYP, CstClaimsSchema, DEFAULT_AUDIENCE, type CstClaims } from './claims.js';
import { CstError } from './errors.js';
import type { ReplayClaims } from './replay-store.js';
import type { RevocationSource } from './revocation.js';
import { scopeExcess } from './scope-check.js';

export interface CstVerifierOptions {
  trust: TrustStore;
  /** The audience this server answers to. */
  audience?: string;
  /** The job this server runs for: a token for another job is refused. */
  job: string;
  replay: ReplayClaims;
  revocation: RevocationSource;
  clockSkewSeconds?: number;
  now?: () => Date;
}

export interface VerifiedCst {
  claims: CstClaims;
  /** `sha256:<hex>` of the compact token: what receipts record instead of the token. */
  tokenHash: string;
  kid: string;
}

/**
 * Header members that let a token name its own key (accepting any of them lets an attacker sign with theirs), or
 * change how it is processed (`crit`, and RFC 7797 `b64`, which would change what the signature covers).
 */
const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'crit', 'b64'] as const;

/**
 * CST verification as a pipeline of named steps, each refusing with a precise code: header, key, signature,
 * claims, time, audience, job, policy pin, TTL, scope hash, scope, then (on every call, never cached)
 * revocation and replay. The result of the static steps is cached by token hash until the token expires.
 */
export class CstVerifier {
  readonly #cache = new Map<string, VerifiedCst>();
  /** jtis this process already claimed for its job: the durable record exists, so no other job can take them. */
  readonly #claimed = new Set<string>();
  readonly #options: Required<Omit<CstVerifierOptions, 'now'>> & { now: () => Date };

  constructor(options: CstVerifierOptions) {
    this.#options = {
      audience: DEFAULT_AUDIENCE,
      clockSkewSeconds: 60,
      now: () => new Date(),
      ...options,
    };
  }

  async verify(token: string, wpc: VerifiedWpc): Promise<VerifiedCst> {
    if (typeof token !== 'string' || token.trim() === '') throw new CstError('CST_MISSING', 'no token was presented');
    // Keyed by the token itself, not its hash: a cache hit then costs no SHA-256 over the ~800-byte token.
    const key = `${wpc.hash}|${token}`;
    let verified = this.#cache.get(key);
    if (verified) {
      // Time is re-checked on every call: a cached token still expires on time.
      this.#checkTime(verified.claims);
    } else {
      verified = this.#verifyStatic(token, hashAddress(token), wpc);
      if (this.#cache.size > 1000) this.#cache.clear();
      this.#cache.set(key, verified);
    }
    await this.#checkLive(verified.claims);
    return verified;
  }

  #verifyStatic(token: string, tokenHash: string, wpc: VerifiedWpc): VerifiedCst {
    const header = this.#checkHeader(token);
    const trusted = this.#options.trust.get(header.kid as string, 'issuer');
    if (!trusted) throw new CstError('CST_BAD_SIGNATURE', 'the token is signed by a key that is not a trusted issuer');
    // The header pinned alg to EdDSA and the segments are canonical base64url, so the JWS check is exactly
    // Ed25519 over the signing input (RFC 7515 §5.2, RFC 8037). Node's synchronous verify does it at a
    // fraction of the cost of jose's WebCrypto path, on the path every new token takes.
    const [encodedHeader = '', encodedPayload = '', encodedSignature = ''] = token.split('.');
    const signingInput = Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii');
    if (!verifyBytes(trusted, signingInput, Buffer.from(encodedSignature, 'base64url'))) {
      throw new CstError('CST_BAD_SIGNATURE', 'the token signature does not verify');
    }
    const claims = this.#parseClaims(Buffer.from(encodedPayload, 'base64url'));
    this.#checkTime(claims);
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(this.#options.audience)) {
      throw new CstError('CST_WRONG_AUDIENCE', `the token is not for audience ${this.#options.audience}`);
    }
    if (claims.job !== this.#options.job) throw new CstError('CST_WRONG_JOB', 'the token is bound to another job');
    if (wpc.policy.runtime.cst_policy_hash_pin && claims.wpc_hash !== wpc.hash) {
      throw new CstError('CST_POLICY_MISMATCH', 'the token pins another WPC than the one in force', {
        token_wpc: claims.wpc_hash,
        wpc_in_force: wpc.hash,
      });
    }
    const ttl = claims.exp - Math.min(claims.iat, claims.nbf);
    if (ttl > wpc.policy.runtime.max_ttl_seconds) {
      throw new CstError('CST_TTL_EXCEEDS_WPC', `the token lives ${ttl}s, above the WPC's ${wpc.policy.runtime.max_ttl_seconds}s`);
    }
    if (hashOfJson(claims.scope) !== claims.scope_hash) {
      throw new CstError('CST_SCOPE_HASH_MISMATCH', 'scope_hash is not the hash of the scope');
    }
    const excess = scopeExcess(claims.scope, wpc.policy);
    if (excess.length > 0) {
      throw new CstError('CST_SCOPE_EXCEEDS_WPC', `the token's scope is wider than the WPC: ${excess.join(', ')}`);
    }
    return { claims, tokenHash, kid: trusted.kid };
  }

  #checkHeader(token: string): ProtectedHeaderParameters {
    if (!isCanonicalCompactJws(token)) {
      throw new CstError('CST_MALFORMED', 'the token is not a canonical compact JWS');
    }
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new CstError('CST_MALFORMED', 'the token header cannot be decoded');
    }
    // RFC 8725: an algorithm allowlist of one. `none`, HS* (with the public key as secret) and any other are refused.
    if (header.alg !== 'EdDSA') throw new CstError('CST_BAD_SIGNATURE', `algorithm ${String(header.alg)} is not accepted`);
    for (const name of FORBIDDEN_HEADERS) {
      if (name in header) throw new CstError('CST_BAD_SIGNATURE', `header parameter ${name} is not accepted`);
    }
    if (header.typ !== CST_TYP) throw new CstError('CST_MALFORMED', `token type must be ${CST_TYP}`);
    if (typeof header.kid !== 'string' || header.kid === '') throw new CstError('CST_MALFORMED', 'the token has no kid');
    return header;
  }

  #parseClaims(payload: Uint8Array): CstClaims {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
    } catch {
      throw new CstError('CST_MALFORMED', 'the token payload is not JSON');
    }
    const parsed = CstClaimsSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new CstError('CST_MALFORMED', `invalid claim ${issue ? issue.path.join('.') || '(root)' : ''}: ${issue?.message ?? ''}`);
    }
    if (parsed.data.exp <= parsed.data.nbf) throw new CstError('CST_MALFORMED', 'exp must be after nbf');
    return parsed.data;
  }

  #checkTime(claims: CstClaims): void {
    const now = Math.floor(this.#options.now().getTime() / 1000);
    const skew = this.#options.clockSkewSeconds;
    if (now >= claims.exp + skew) throw new CstError('CST_EXPIRED', 'the token has expired');
    if (now + skew < claims.nbf || now + skew < claims.iat) {
      throw new CstError('CST_NOT_YET_VALID', 'the token is not valid yet');
    }
  }

  async #checkLive(claims: CstClaims): Promise<void> {
    if (await this.#options.revocation.isRevoked(claims.jti)) throw new CstError('CST_REVOKED', 'the token has been revoked');
    if (this.#claimed.has(claims.jti)) return;
    await this.#options.replay.claim(claims.jti, claims.job, claims.exp, this.#options.now());
    this.#claimed.add(claims.jti);
  }
}
