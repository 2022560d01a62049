import { ClawError } from '../util/errors.js';

/**
 * Codes of claw-jira's own Claw-protocol primitives (did:key, base58btc, base64url, envelopes). They are
 * claw-jira codes, distinct from the reason codes the Claw verifier reports (see verify-codes.ts), so that a
 * caller can tell "this input is not a did:key" from "the bundle failed verification with reason X".
 */
export type ClawProtocolErrorCode =
  | 'CLAW_DID_INVALID'
  | 'CLAW_DID_UNSUPPORTED'
  | 'CLAW_BASE58_INVALID'
  | 'CLAW_BASE64URL_INVALID'
  | 'CLAW_KEY_INVALID'
  | 'CLAW_JSON_INVALID';

export class ClawProtocolError extends ClawError {
  declare readonly code: ClawProtocolErrorCode;
  constructor(code: ClawProtocolErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
    this.name = 'ClawProtocolError';
  }
}
