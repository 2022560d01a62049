import type { KeyObject } from 'node:crypto';

/**
 * The shapes of model-gateway receipts as verified (see gateway.ts), apart from the code so that the JWS path
 * (gateway.ts) and the clawproxy envelope path (gateway-claw.ts) share them without importing each other.
 */
export interface GatewayKeys {
  /** kid → key; a kid absent from the JWKS entry is its RFC 7638 thumbprint. */
  keys: Map<string, KeyObject>;
  /** did:key signers allowed for clawproxy receipt envelopes (every Ed25519 key of a JWKS is one too). */
  dids: Set<string>;
  jwks: { keys: unknown[] };
}

export interface GatewayEntry {
  line: number;
  /** The JWS kid, or for a clawproxy envelope its signer did:key. */
  kid: string;
  /** clawproxy envelopes only: the receipt id and what the receipt is bound to (X-Run-Id, X-Event-Hash). */
  receipt_id?: string;
  binding?: { run_id?: string; event_hash_b64u?: string };
  time: string;
  model: string;
  provider?: string;
  request_hash: string;
  response_hash: string;
  payload: Record<string, unknown>;
}

export interface GatewayProblem {
  line: number;
  code:
    | 'GATEWAY_MALFORMED'
    | 'GATEWAY_UNKNOWN_KEY'
    | 'GATEWAY_BAD_SIGNATURE'
    | 'GATEWAY_HASH_MISMATCH'
    | 'GATEWAY_DUPLICATE'
    | 'GATEWAY_PAYLOAD_INVALID'
    | 'GATEWAY_TRUNCATED'
    | 'GATEWAY_EMPTY';
  /** For a clawproxy envelope, the Claw verifier's reason code for the same failure. */
  reason_code?: string;
  message: string;
}
