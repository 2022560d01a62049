import { z } from 'zod';
import { ScopeSchema } from './scope.js';

export const CST_TYP = 'cst+jwt';
export const DEFAULT_AUDIENCE = 'claw-jira';

const seconds = z.number().int().nonnegative();

/** Claims of a CST. Strict: a claim we do not know is a token we do not understand, so it is refused. */
export const CstClaimsSchema = z.strictObject({
  iss: z.string().min(1).max(255),
  sub: z.string().min(1).max(255),
  aud: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  iat: seconds,
  nbf: seconds,
  exp: seconds,
  jti: z.string().min(16).max(128),
  job: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
  scope: ScopeSchema,
  scope_hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  wpc_hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
});
export type CstClaims = z.infer<typeof CstClaimsSchema>;
