import type { IncomingMessage } from 'node:http';
import { decodeProtectedHeader } from 'jose';
import { isCanonicalCompactJws } from '../keys/base64url.js';
import { verifyBytes } from '../keys/ed25519.js';
import type { TrustStore } from '../keys/trust.js';
import { CstError } from '../cst/errors.js';
import { HASH_ADDRESS } from '../util/canonical.js';

/** RFC 6750 §2.1: the one way this service accepts a token. Query strings and bodies are never read for it. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header.trim());
  if (!match) throw new CstError('CST_MALFORMED', 'the Authorization header is not "Bearer <token>"');
  return match[1];
}

/** What routes a request before the gate verifies it: which job's gate, under which pinned WPC. */
export interface TokenRoute {
  job: string;
  wpcHash: string;
}

const JOB = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Read the route from the token, and check that a trusted issuer signed it, before any gate (and any bundle
 * folder) exists for the job it names: a forged token can never make the service open a job. Everything
 * else (time, audience, job, pin, scope, revocation, replay) is the gate's full verification, done next.
 */
export function routeOf(token: string, trust: TrustStore): TokenRoute {
  if (!isCanonicalCompactJws(token)) throw new CstError('CST_MALFORMED', 'the token is not a canonical compact JWS');
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new CstError('CST_MALFORMED', 'the token header cannot be decoded');
  }
  const [encodedHeader = '', encodedPayload = '', encodedSignature = ''] = token.split('.');
  const key = header.alg === 'EdDSA' && typeof header.kid === 'string' ? trust.get(header.kid, 'issuer') : undefined;
  if (!key || !verifyBytes(key, Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii'), Buffer.from(encodedSignature, 'base64url'))) {
    throw new CstError('CST_BAD_SIGNATURE', 'the token is not signed by a trusted issuer');
  }
  let claims: { job?: unknown; wpc_hash?: unknown };
  try {
    claims = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    throw new CstError('CST_MALFORMED', 'the token payload is not JSON');
  }
  if (typeof claims.job !== 'string' || !JOB.test(claims.job)) throw new CstError('CST_MALFORMED', 'the token names no valid job');
  if (typeof claims.wpc_hash !== 'string' || !HASH_ADDRESS.test(claims.wpc_hash)) throw new CstError('CST_MALFORMED', 'the token pins no WPC hash');
  return { job: claims.job, wpcHash: claims.wpc_hash };
}
