import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CstError } from '../cst/errors.js';
import type { ReplayClaims } from '../cst/replay-store.js';
import { scopeExcess } from '../cst/scope-check.js';
import type { VerifiedCst } from '../cst/verify.js';
import { isCanonicalCompactJws } from '../keys/base64url.js';
import { hashOfJson, sha256Hex } from '../util/canonical.js';
import { ClawError } from '../util/errors.js';
import { wpcClawAddresses, type VerifiedWpc } from '../wpc/registry.js';
import { ClawscopeClaimsSchema, tokenScopeHash, type ClawscopeClaims } from './clawscope-claims.js';
import type { ClawscopeIntrospection } from './clawscope-introspect.js';
import { DEFAULT_SCOPE_PREFIX, mapClawscopeScope } from './clawscope-scope.js';

/**
 * The second CST lane: capability tokens minted by Claw's clawscope, beside claw-jira's own CSTs. Same
 * pipeline and the same refusal codes as src/cst/verify.ts, so a refused call reads the same whichever lane
 * the token came from. What differs is where the facts live:
 *
 *   issuer key   the operator's pinned clawscope JWKS or did:key, by `kid` (16 hex of SHA-256 of the key)
 *   job          the `mission_id` claim (or CLAW_SCOPE_JOB_CLAIM)
 *   WPC pin      `policy_hash_b64u`, the WPC's Claw-form hash
 *   scope        flat strings `jira:<operation>:<PROJECT>` (src/claw/clawscope-scope.ts)
 *   scope hash   `token_scope_hash_b64u`, recomputed (required)
 *   revocation   clawscope's introspection endpoint, on every call (briefly cached), fail closed
 */
export interface ClawscopeIssuerKey {
  kid: string;
  publicKey: KeyObject;
}

export interface ClawscopeVerifierOptions {
  issuer: ClawscopeIssuerKey[];
  introspection: ClawscopeIntrospection;
  audience: string;
  job: string;
  /** The claim naming the job (default `mission_id`). */
  jobClaim?: string;
  scopePrefix?: string;
  replay: ReplayClaims;
  clockSkewSeconds?: number;
  now?: () => Date;
}

/** clawscope's key id: the first 16 hex characters of SHA-256 of the raw 32-byte Ed25519 public key. */
export function clawscopeKeyId(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}

export function issuerKeyFromRaw(raw: Uint8Array): ClawscopeIssuerKey {
  if (raw.length !== 32) throw new ClawError('CLAWSCOPE_KEYS_INVALID', 'a clawscope key must be a 32-byte Ed25519 public key');
  const x = Buffer.from(raw).toString('base64url');
  return { kid: clawscopeKeyId(raw), publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }) };
}

const JwkSchema = z.looseObject({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string().regex(/^[A-Za-z0-9_-]{43}$/), kid: z.string().optional() });

/** The keys of a clawscope JWKS (`GET /v1/jwks`), each kid checked against the key it names. */
export function issuerKeysFromJwks(json: unknown): ClawscopeIssuerKey[] {
  const parsed = z.looseObject({ keys: z.array(z.unknown()) }).safeParse(json);
  if (!parsed.success) throw new ClawError('CLAWSCOPE_KEYS_INVALID', 'the clawscope keys are not a JWKS ({"keys":[...]})');
  const keys: ClawscopeIssuerKey[] = [];
  for (const raw of parsed.data.keys) {
    const jwk = JwkSchema.safeParse(raw);
    if (!jwk.success) continue;
    const key = issuerKeyFromRaw(Buffer.from(jwk.data.x, 'base64url'));
    if (jwk.data.kid !== undefined && jwk.data.kid !== key.kid) {
      throw new ClawError('CLAWSCOPE_KEYS_INVALID', `clawscope JWKS kid ${jwk.data.kid.slice(0, 32)} is not the key id of its key (${key.kid})`);
    }
    keys.push(key);
  }
  if (keys.length === 0) throw new ClawError('CLAWSCOPE_KEYS_INVALID', 'the clawscope JWKS holds no Ed25519 key');
  return keys;
}

export function loadIssuerJwks(path: string): ClawscopeIssuerKey[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new ClawError('CLAWSCOPE_KEYS_INVALID', `cannot read the clawscope JWKS ${path}`);
  }
  return issuerKeysFromJwks(json);
}

/** A clawscope token says `typ: JWT`; claw-jira's own say `cst+jwt`. The lane is chosen by it, then each lane checks everything itself. */
export function isClawscopeToken(token: string): boolean {
  const head = token.split('.')[0] ?? '';
  try {
    const header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { typ?: unknown };
    return header.typ === 'JWT';
  } catch {
    return false;
  }
}

const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'crit', 'b64'] as const;

export interface VerifiedClawscopeToken extends VerifiedCst {
  clawscope: { token_scope_hash_b64u: string; policy_hash_b64u?: string; scopes: string[] };
}

export class ClawscopeVerifier {
  readonly #cache = new Map<string, VerifiedClawscopeToken>();
  readonly #claimed = new Set<string>();
  readonly #options: Required<Omit<ClawscopeVerifierOptions, 'now'>> & { now: () => Date };
  readonly #keys: Map<string, KeyObject>;

  constructor(options: ClawscopeVerifierOptions) {
    this.#options = { jobClaim: 'mission_id', scopePrefix: DEFAULT_SCOPE_PREFIX, clockSkewSeconds: 60, now: () => new Date(), ...options };
    this.#keys = new Map(options.issuer.map((key) => [key.kid, key.publicKey]));
  }

  async verify(token: string, wpc: VerifiedWpc): Promise<VerifiedClawscopeToken> {
    if (typeof token !== 'string' || token.trim() === '') throw new CstError('CST_MISSING', 'no token was presented');
    const key = `${wpc.hash}|${token}`;
    let verified = this.#cache.get(key);
    if (verified) this.#checkTime(verified.claims.iat, verified.claims.exp);
    else {
      verified = this.#verifyStatic(token, wpc);
      if (this.#cache.size > 1000) this.#cache.clear();
      this.#cache.set(key, verified);
    }
    // Revocation and liveness first: a revoked token must not even claim its jti.
    await this.#options.introspection.check(token, verified.tokenHash.slice('sha256:'.length), verified.claims.exp);
    const { jti, job, exp } = verified.claims;
    if (!this.#claimed.has(jti)) {
      await this.#options.replay.claim(jti, job, exp, this.#options.now());
      this.#claimed.add(jti);
    }
    return verified;
  }

  #verifyStatic(token: string, wpc: VerifiedWpc): VerifiedClawscopeToken {
    if (!isCanonicalCompactJws(token)) throw new CstError('CST_MALFORMED', 'the token is not a canonical compact JWS');
    const [h = '', p = '', s = ''] = token.split('.');
    const header = decodeJson(h, 'header');
    // An allowlist of one algorithm: none, HS* and the rest are refused before any key is looked at.
    if (header.alg !== 'EdDSA') throw new CstError('CST_BAD_SIGNATURE', `algorithm ${String(header.alg).slice(0, 32)} is not accepted`);
    for (const name of FORBIDDEN_HEADERS) {
      if (name in header) throw new CstError('CST_BAD_SIGNATURE', `header parameter ${name} is not accepted`);
    }
    if (header.typ !== 'JWT') throw new CstError('CST_MALFORMED', 'a clawscope token has typ JWT');
    if (typeof header.kid !== 'string' || header.kid === '') throw new CstError('CST_MALFORMED', 'the token has no kid');
    const publicKey = this.#keys.get(header.kid);
    if (!publicKey) throw new CstError('CST_BAD_SIGNATURE', 'the token is signed by a key that is not the pinned clawscope issuer');
    if (!verifySignature(publicKey, `${h}.${p}`, s)) throw new CstError('CST_BAD_SIGNATURE', 'the token signature does not verify');

    const parsed = ClawscopeClaimsSchema.safeParse(decodeJson(p, 'payload'));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new CstError('CST_MALFORMED', `invalid claim ${issue ? issue.path.join('.') || '(root)' : ''}: ${issue?.message ?? ''}`);
    }
    const claims = parsed.data;
    if (claims.exp <= claims.iat) throw new CstError('CST_MALFORMED', 'exp must be after iat');
    if (claims.jti === undefined || claims.jti === '' || claims.jti.length > 128) throw new CstError('CST_MALFORMED', 'the token has no usable jti (replay protection needs one)');
    this.#checkTime(claims.iat, claims.exp);
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(this.#options.audience)) throw new CstError('CST_WRONG_AUDIENCE', `the token is not for audience ${this.#options.audience}`);
    const job = jobOf(claims, this.#options.jobClaim);
    if (job !== this.#options.job) throw new CstError('CST_WRONG_JOB', `the token is bound to another job (${this.#options.jobClaim})`);
    if (wpc.policy.runtime.cst_policy_hash_pin && (claims.policy_hash_b64u === undefined || !wpcClawAddresses(wpc).includes(claims.policy_hash_b64u))) {
      throw new CstError('CST_POLICY_MISMATCH', 'the token pins another WPC than the one in force', {
        token_wpc: claims.policy_hash_b64u ?? null,
        wpc_in_force: wpcClawAddresses(wpc),
      });
    }
    const ttl = claims.exp - claims.iat;
    if (ttl > wpc.policy.runtime.max_ttl_seconds) {
      throw new CstError('CST_TTL_EXCEEDS_WPC', `the token lives ${ttl}s, above the WPC's ${wpc.policy.runtime.max_ttl_seconds}s`);
    }
    const scopeHash = tokenScopeHash(claims);
    if (claims.token_scope_hash_b64u !== scopeHash) {
      throw new CstError('CST_SCOPE_HASH_MISMATCH', claims.token_scope_hash_b64u === undefined ? 'the token has no token_scope_hash_b64u' : 'token_scope_hash_b64u is not the hash of the token\'s scope claims');
    }
    const scope = mapClawscopeScope(claims.scope, this.#options.scopePrefix);
    const excess = scopeExcess(scope, wpc.policy);
    if (excess.length > 0) throw new CstError('CST_SCOPE_EXCEEDS_WPC', `the token's scope is wider than the WPC: ${excess.join(', ')}`);
    return {
      claims: {
        iss: 'clawscope',
        sub: claims.sub,
        aud: claims.aud,
        iat: claims.iat,
        nbf: claims.iat,
        exp: claims.exp,
        jti: claims.jti,
        job,
        scope,
        scope_hash: hashOfJson(scope),
        wpc_hash: wpc.hash,
      },
      tokenHash: `sha256:${sha256Hex(token)}`,
      kid: header.kid,
      clawscope: {
        token_scope_hash_b64u: scopeHash,
        ...(claims.policy_hash_b64u !== undefined ? { policy_hash_b64u: claims.policy_hash_b64u } : {}),
        scopes: claims.scope,
      },
    };
  }

  #checkTime(iat: number, exp: number): void {
    const now = Math.floor(this.#options.now().getTime() / 1000);
    const skew = this.#options.clockSkewSeconds;
    if (now >= exp + skew) throw new CstError('CST_EXPIRED', 'the token has expired');
    // clawscope tokens have no nbf: a token issued in the future (beyond the skew) is not valid yet.
    if (now + skew < iat) throw new CstError('CST_NOT_YET_VALID', 'the token is not valid yet');
  }
}

function jobOf(claims: ClawscopeClaims, claim: string): string {
  const value = (claims as Record<string, unknown>)[claim];
  if (typeof value !== 'string' || value === '') throw new CstError('CST_WRONG_JOB', `the token has no ${claim} claim naming its job`);
  return value;
}

function decodeJson(segment: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(segment, 'base64url')));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new CstError('CST_MALFORMED', `the token ${what} is not a JSON object`);
  }
}

function verifySignature(key: KeyObject, signingInput: string, signature: string): boolean {
  try {
    return cryptoVerify(null, Buffer.from(signingInput, 'ascii'), key, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}
