import { ClawError } from '../util/errors.js';

export type WpcErrorCode =
  | 'WPC_NOT_FOUND'
  | 'WPC_UNREADABLE'
  | 'WPC_INVALID'
  | 'WPC_NOT_CANONICAL'
  | 'WPC_HASH_MISMATCH'
  | 'WPC_SIGNATURE_INVALID'
  | 'WPC_UNTRUSTED_SIGNER'
  | 'WPC_CHANGED'
  // clawcontrols registry (src/claw/clawcontrols.ts)
  | 'WPC_ENVELOPE_INVALID'
  | 'WPC_REGISTRY_SIGNER_NOT_ALLOWED'
  | 'WPC_REGISTRY_SIGNATURE_INVALID'
  | 'WPC_AUTHOR_SIGNATURE_MISSING'
  | 'WPC_ISSUER_MISMATCH';

export class WpcError extends ClawError {
  declare readonly code: WpcErrorCode;
  constructor(code: WpcErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
    this.name = 'WpcError';
  }
}
