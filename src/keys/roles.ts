/**
 * Four keys with four jobs, so that stealing one does not give the others' powers: the policy signer cannot
 * mint tokens, the token issuer cannot approve, the receipt signer (held by the servers) can only attest.
 */
export const KEY_ROLES = ['policy', 'issuer', 'receipt', 'approver'] as const;
export type KeyRole = (typeof KEY_ROLES)[number];

/** The roles whose private keys never live in a server home: a person signs with each, not a server. */
export const ADMIN_ROLES = ['policy', 'issuer', 'approver'] as const satisfies readonly KeyRole[];
export type AdminRole = (typeof ADMIN_ROLES)[number];
