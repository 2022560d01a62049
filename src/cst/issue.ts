import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { hashOfJson } from '../util/canonical.js';
import { ClawError } from '../util/errors.js';
import type { SigningKey } from '../keys/ed25519.js';
import type { VerifiedWpc } from '../wpc/registry.js';
import { CST_TYP, DEFAULT_AUDIENCE, CstClaimsSchema, type CstClaims } from './claims.js';
import type { Scope } from './scope.js';
import { scopeExcess } from './scope-check.js';
import { effectiveOperations, effectiveProjects, effectiveWritableFields } from '../policy/effective.js';

export interface IssueCstOptions {
  wpc: VerifiedWpc;
  job: string;
  subject: string;
  /** Default: the whole effective scope of the WPC. */
  scope?: Scope;
  audience?: string | string[];
  issuer?: string;
  /** Default and maximum: the WPC's `runtime.max_ttl_seconds`. */
  ttlSeconds?: number;
  now?: Date;
}

export interface IssuedCst {
  token: string;
  claims: CstClaims;
}

/** The widest scope a WPC permits: what a token gets when the caller does not narrow it. */
export function wpcScope(wpc: VerifiedWpc): Scope {
  const fields = effectiveWritableFields(wpc.policy);
  return {
    operations: effectiveOperations(wpc.policy),
    projects: effectiveProjects(wpc.policy),
    ...(fields !== undefined ? { fields_write: fields } : {}),
  };
}

export async function issueCst(key: SigningKey, options: IssueCstOptions): Promise<IssuedCst> {
  const maxTtl = options.wpc.policy.runtime.max_ttl_seconds;
  const ttl = options.ttlSeconds ?? maxTtl;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new ClawError('CST_TTL_INVALID', 'the TTL must be a positive number of seconds');
  // Refuse at issue time what every verifier would refuse anyway: fail early, with the reason.
  if (ttl > maxTtl) throw new ClawError('CST_TTL_EXCEEDS_WPC', `TTL ${ttl}s is above the WPC's max_ttl_seconds (${maxTtl}s)`);
  const scope = options.scope ?? wpcScope(options.wpc);
  const excess = scopeExcess(scope, options.wpc.policy);
  if (excess.length > 0) throw new ClawError('CST_SCOPE_EXCEEDS_WPC', `scope is wider than the WPC allows: ${excess.join(', ')}`);
  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const claims: CstClaims = CstClaimsSchema.parse({
    iss: options.issuer ?? 'claw-jira',
    sub: options.subject,
    aud: options.audience ?? DEFAULT_AUDIENCE,
    iat,
    nbf: iat,
    exp: iat + ttl,
    jti: randomBytes(16).toString('base64url'),
    job: options.job,
    scope,
    scope_hash: hashOfJson(scope),
    wpc_hash: options.wpc.hash,
  });
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', typ: CST_TYP, kid: key.kid })
    .sign(key.privateKey);
  return { token, claims };
}
