import type { ConfigProblem } from '../config/problem.js';
import type { ReplayClaims } from '../cst/replay-store.js';
import { ClawError } from '../util/errors.js';
import { publicKeyFromDidKey } from './did-key.js';
import { ClawscopeIntrospection } from './clawscope-introspect.js';
import { ClawscopeVerifier, issuerKeyFromRaw, loadIssuerJwks, type ClawscopeIssuerKey } from './clawscope.js';
import { DEFAULT_SCOPE_PREFIX } from './clawscope-scope.js';
import { isLoopbackUrl } from './clawin-url.js';

/**
 * The clawscope lane's settings (all CLAW_SCOPE_*). Setting CLAW_SCOPE_URL turns the lane on; the issuer
 * key is then pinned by the operator with exactly one of CLAW_SCOPE_JWKS (a file) or CLAW_SCOPE_DID (a did:key),
 * never fetched from clawscope at run time (whoever answers that URL must not choose the key that signs tokens).
 */
export interface ClawscopeConfig {
  url: string;
  jwksFile?: string;
  did?: string;
  jobClaim: string;
  prefix: string;
  cacheSeconds: number;
}

const CLAIM = /^[a-z][a-z0-9_]{0,63}$/;

export function loadClawscopeConfig(get: (name: string) => string | undefined, problems: ConfigProblem[]): ClawscopeConfig | undefined {
  const url = get('CLAW_SCOPE_URL');
  const jwksFile = get('CLAW_SCOPE_JWKS');
  const did = get('CLAW_SCOPE_DID');
  if (url === undefined) {
    if (jwksFile !== undefined || did !== undefined) problems.push({ variable: 'CLAW_SCOPE_URL', message: 'is not set: the clawscope lane needs its introspection endpoint' });
    return undefined;
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    problems.push({ variable: 'CLAW_SCOPE_URL', message: 'is not a URL' });
  }
  if (parsed && parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && isLoopbackUrl(parsed))) {
    problems.push({ variable: 'CLAW_SCOPE_URL', message: 'must use https (plain http only on loopback)' });
  }
  if ((jwksFile === undefined) === (did === undefined)) {
    problems.push({ variable: 'CLAW_SCOPE_JWKS', message: 'or CLAW_SCOPE_DID: set exactly one, the clawscope issuer key you trust' });
  }
  const jobClaim = get('CLAW_SCOPE_JOB_CLAIM') ?? 'mission_id';
  if (!CLAIM.test(jobClaim)) problems.push({ variable: 'CLAW_SCOPE_JOB_CLAIM', message: 'must be a claim name (lower case, digits, underscore)' });
  const prefix = get('CLAW_SCOPE_PREFIX') ?? DEFAULT_SCOPE_PREFIX;
  if (!/^[a-z][a-z0-9_-]{0,31}$/.test(prefix)) problems.push({ variable: 'CLAW_SCOPE_PREFIX', message: 'must be lower-case letters, digits, dash or underscore' });
  const cacheRaw = get('CLAW_SCOPE_CACHE_SECONDS');
  let cacheSeconds = 10;
  if (cacheRaw !== undefined) {
    const n = Number(cacheRaw);
    if (!Number.isInteger(n) || n < 0 || n > 300) problems.push({ variable: 'CLAW_SCOPE_CACHE_SECONDS', message: 'must be a whole number of seconds from 0 to 300' });
    else cacheSeconds = n;
  }
  return { url, ...(jwksFile !== undefined ? { jwksFile } : {}), ...(did !== undefined ? { did } : {}), jobClaim, prefix, cacheSeconds };
}

export function clawscopeIssuerKeys(config: ClawscopeConfig): ClawscopeIssuerKey[] {
  if (config.jwksFile !== undefined) return loadIssuerJwks(config.jwksFile);
  if (config.did !== undefined) {
    let raw: Uint8Array;
    try {
      raw = publicKeyFromDidKey(config.did);
    } catch {
      throw new ClawError('CLAWSCOPE_KEYS_INVALID', 'CLAW_SCOPE_DID is not an Ed25519 did:key');
    }
    return [issuerKeyFromRaw(raw)];
  }
  throw new ClawError('CLAWSCOPE_KEYS_INVALID', 'no clawscope issuer key is pinned (CLAW_SCOPE_JWKS or CLAW_SCOPE_DID)');
}

/** The lane as the gate opens it at start: pinned keys, the introspection client, the shared replay store. */
export function openClawscopeLane(
  config: ClawscopeConfig,
  options: { audience: string; job: string; replay: ReplayClaims; clockSkewSeconds: number; now: () => Date },
): ClawscopeVerifier {
  return new ClawscopeVerifier({
    issuer: clawscopeIssuerKeys(config),
    introspection: new ClawscopeIntrospection(config.url, { cacheSeconds: config.cacheSeconds, now: options.now }),
    audience: options.audience,
    job: options.job,
    jobClaim: config.jobClaim,
    scopePrefix: config.prefix,
    replay: options.replay,
    clockSkewSeconds: options.clockSkewSeconds,
    now: options.now,
  });
}
