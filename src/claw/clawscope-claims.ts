import { z } from 'zod';
import { jcsHashB64u } from './hash.js';

/**
 * Scoped-token claims v1 as clawscope mints them (PROTOCOL.md §3.1, `schema/auth/scoped_token_claims.v1.json`).
 * Strict like the schema: a claim it does not define is a token we do not understand. No `iss`, no `nbf`.
 */
const did = z.string().regex(/^did:[a-z0-9]+:[a-zA-Z0-9._%-]+$/);
const hash43 = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

export const ClawscopeClaimsSchema = z.strictObject({
  token_version: z.literal('1'),
  sub: z.string(),
  owner_ref: z.string().optional(),
  owner_did: did.optional(),
  controller_did: did.optional(),
  agent_did: did.optional(),
  aud: z.union([z.string(), z.array(z.string())]),
  scope: z.array(z.string()).min(1),
  policy_hash_b64u: hash43.optional(),
  control_plane_policy_hash_b64u: hash43.optional(),
  token_scope_hash_b64u: hash43.optional(),
  payment_account_did: did.optional(),
  spend_cap: z.number().min(0).optional(),
  mission_id: z.string().optional(),
  delegation_id: z.string().optional(),
  delegator_did: did.optional(),
  delegate_did: did.optional(),
  delegation_policy_hash_b64u: hash43.optional(),
  delegation_spend_cap_minor: z.string().regex(/^[0-9]+$/).optional(),
  delegation_expires_at: z.number().int().optional(),
  token_lane: z.enum(['legacy', 'canonical']).optional(),
  jti: z.string().optional(),
  iat: z.number().int(),
  exp: z.number().int(),
  nonce: z.string().optional(),
});
export type ClawscopeClaims = z.infer<typeof ClawscopeClaimsSchema>;

const OPTIONAL_STRINGS = [
  'owner_ref',
  'owner_did',
  'controller_did',
  'agent_did',
  'policy_hash_b64u',
  'control_plane_policy_hash_b64u',
  'payment_account_did',
] as const;
const OPTIONAL_STRINGS_2 = ['mission_id', 'delegation_id', 'delegator_did', 'delegate_did', 'delegation_policy_hash_b64u'] as const;

function sortedUnique(values: string[]): string[] {
  return [...new Set(values.map((v) => v.trim()).filter((v) => v !== ''))].sort();
}

/**
 * `token_scope_hash_b64u` as clawscope and clawproxy compute it: the authorization-relevant claims only
 * (never iat/exp/jti/nonce), audiences and scopes sorted and de-duplicated, optional claims only when set.
 */
export function tokenScopeHashInput(claims: ClawscopeClaims): Record<string, unknown> {
  const aud = sortedUnique(Array.isArray(claims.aud) ? claims.aud : [claims.aud]);
  const input: Record<string, unknown> = { token_version: '1', sub: claims.sub.trim(), aud, scope: sortedUnique(claims.scope) };
  for (const name of OPTIONAL_STRINGS) {
    const value = claims[name]?.trim();
    if (value) input[name] = value;
  }
  if (claims.spend_cap !== undefined && Number.isFinite(claims.spend_cap) && claims.spend_cap >= 0) input.spend_cap = claims.spend_cap;
  for (const name of OPTIONAL_STRINGS_2) {
    const value = claims[name]?.trim();
    if (value) input[name] = value;
  }
  if (claims.delegation_spend_cap_minor !== undefined && /^[0-9]+$/.test(claims.delegation_spend_cap_minor)) {
    input.delegation_spend_cap_minor = claims.delegation_spend_cap_minor;
  }
  if (claims.delegation_expires_at !== undefined && Math.floor(claims.delegation_expires_at) > 0) {
    input.delegation_expires_at = Math.floor(claims.delegation_expires_at);
  }
  return input;
}

export function tokenScopeHash(claims: ClawscopeClaims): string {
  return jcsHashB64u(tokenScopeHashInput(claims));
}
