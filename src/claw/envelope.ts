import { sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { SigningKey } from '../keys/ed25519.js';
import { didKeyFromJwkX, isValidDidFormat, keyObjectFromDidKey } from './did-key.js';
import { B64U_PATTERN, b64uDecode, b64uEncode, jcsHashB64u, stringifyHashB64u } from './hash.js';
import { fail, type ClawCheck } from './reason-codes.js';

/**
 * SignedEnvelope (PROTOCOL.md §1): Ed25519 over the UTF-8 bytes of the `payload_hash_b64u` *string*, the signer
 * named by a did:key. The payload hash is `sha256_b64u(JSON.stringify(payload))`, except for the WPC envelope
 * where it is the JCS hash (= `policy_hash_b64u`): `hashMode` says which.
 */
export interface SignedEnvelope<T = unknown> {
  envelope_version: string;
  envelope_type: string;
  payload: T;
  payload_hash_b64u: string;
  hash_algorithm: 'SHA-256';
  signature_b64u: string;
  algorithm: 'Ed25519';
  signer_did: string;
  issued_at: string;
  expires_at?: string;
}

export type PayloadHashMode = 'stringify' | 'jcs';

/** The verifier's `ENVELOPE_TYPES`: the types it accepts when no specific type is expected. */
export const ENVELOPE_TYPES: readonly string[] = [
  'artifact_signature', 'message_signature', 'gateway_receipt', 'web_receipt', 'proof_bundle', 'event_chain',
  'owner_attestation', 'commit_proof', 'execution_attestation', 'derivation_attestation',
  'audit_result_attestation', 'export_bundle', 'aggregate_bundle', 'compiled_evidence_report', 'scoped_token',
  'policy_bundle',
];

/** Who signs: a did:key and the Ed25519 private key behind it. */
export interface EnvelopeSigner {
  readonly did: string;
  sign(message: Uint8Array): Uint8Array;
}

/** claw-jira's receipt key (a JWK-held Ed25519 key) as an envelope signer under its did:key. */
export function envelopeSigner(key: SigningKey): EnvelopeSigner {
  const privateKey: KeyObject = key.privateKey;
  return { did: didKeyFromJwkX(key.publicJwk.x), sign: (message) => new Uint8Array(sign(null, message, privateKey)) };
}

const encoder = new TextEncoder();

export function payloadHash(payload: unknown, mode: PayloadHashMode): string {
  return mode === 'jcs' ? jcsHashB64u(payload) : stringifyHashB64u(payload);
}

export interface CreateEnvelopeOptions {
  readonly issuedAt: string;
  readonly expiresAt?: string;
  readonly hashMode?: PayloadHashMode;
  readonly envelopeVersion?: string;
}

/**
 * Build and sign an envelope. The payload is hashed exactly as given (its key order is part of the hash), so a
 * producer passes objects built in sorted key order, and embedded foreign envelopes untouched. The stored payload
 * is the JSON round trip of the input, so what is written is what was hashed (no undefined members, no toJSON).
 */
export function createEnvelope<T>(envelopeType: string, payload: T, signer: EnvelopeSigner, options: CreateEnvelopeOptions): SignedEnvelope<T> {
  const stored = JSON.parse(JSON.stringify(payload)) as T;
  const hash = payloadHash(stored, options.hashMode ?? 'stringify');
  const signature = b64uEncode(signer.sign(encoder.encode(hash)));
  const envelope: SignedEnvelope<T> = {
    envelope_version: options.envelopeVersion ?? '1',
    envelope_type: envelopeType,
    payload: stored,
    payload_hash_b64u: hash,
    hash_algorithm: 'SHA-256',
    signature_b64u: signature,
    algorithm: 'Ed25519',
    signer_did: signer.did,
    issued_at: options.issuedAt,
  };
  if (options.expiresAt !== undefined) envelope.expires_at = options.expiresAt;
  return envelope;
}

/** Ed25519 check of a signature over a message, by a did:key; false for anything unreadable. */
export function didSignatureValid(did: string, message: Uint8Array, signatureB64u: string): boolean {
  try {
    return verify(null, message, keyObjectFromDidKey(did), b64uDecode(signatureB64u));
  } catch {
    return false;
  }
}

export interface VerifyEnvelopeOptions {
  /** The envelope type the caller expects; without it any of ENVELOPE_TYPES is accepted. */
  readonly expectedType?: string;
  readonly allowedVersions?: readonly string[];
  readonly hashMode?: PayloadHashMode;
  /** The verification time (ms since epoch) for `expires_at`; tests pin it for expired vectors. */
  readonly now?: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isDateTime(value: unknown): value is string {
  return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) && Number.isFinite(Date.parse(value));
}

/**
 * Verify one envelope the way the reference verifier does, in its order (PROTOCOL.md §6.3 steps 2–3): structure,
 * version, type, algorithms, signer DID format, timestamps and expiry, base64url fields, payload hash, did:key
 * extraction, signature. The first failing check names its reason code.
 */
export function verifyEnvelope(input: unknown, options: VerifyEnvelopeOptions = {}): ClawCheck<SignedEnvelope> {
  if (!isRecord(input) || !('payload' in input) || typeof input.signature_b64u !== 'string'
    || typeof input.envelope_version !== 'string' || typeof input.envelope_type !== 'string'
    || typeof input.payload_hash_b64u !== 'string' || typeof input.signer_did !== 'string') {
    return fail('MALFORMED_ENVELOPE', 'not a SignedEnvelope (missing or mistyped envelope fields)');
  }
  if (!(options.allowedVersions ?? ['1']).includes(input.envelope_version)) {
    return fail('UNKNOWN_ENVELOPE_VERSION', `envelope_version ${JSON.stringify(input.envelope_version)} is not supported`);
  }
  const typeOk = options.expectedType !== undefined ? input.envelope_type === options.expectedType : ENVELOPE_TYPES.includes(input.envelope_type);
  if (!typeOk) return fail('UNKNOWN_ENVELOPE_TYPE', `envelope_type ${JSON.stringify(input.envelope_type)} is not expected here`);
  if (input.algorithm !== 'Ed25519') return fail('UNKNOWN_ALGORITHM', 'algorithm must be Ed25519');
  if (input.hash_algorithm !== 'SHA-256') return fail('UNKNOWN_HASH_ALGORITHM', 'hash_algorithm must be SHA-256');
  if (!isValidDidFormat(input.signer_did)) return fail('INVALID_DID_FORMAT', 'signer_did is not a did:key or did:web');
  if (!isDateTime(input.issued_at)) return fail('MALFORMED_ENVELOPE', 'issued_at is not a date-time');
  if (input.expires_at !== undefined) {
    if (!isDateTime(input.expires_at)) return fail('MALFORMED_ENVELOPE', 'expires_at is not a date-time');
    if (Date.parse(input.expires_at) < (options.now ?? Date.now())) return fail('EXPIRED_TTL', 'the envelope has expired');
  }
  if (!B64U_PATTERN.test(input.payload_hash_b64u) || !B64U_PATTERN.test(input.signature_b64u)) {
    return fail('MALFORMED_ENVELOPE', 'payload_hash_b64u / signature_b64u are not base64url');
  }
  if (payloadHash(input.payload, options.hashMode ?? 'stringify') !== input.payload_hash_b64u) {
    return fail('HASH_MISMATCH', 'payload_hash_b64u does not match the payload');
  }
  let key: KeyObject;
  try {
    key = keyObjectFromDidKey(input.signer_did);
  } catch {
    return fail('INVALID_DID_FORMAT', 'signer_did carries no Ed25519 key (did:key required for signatures)');
  }
  let valid = false;
  try {
    valid = verify(null, encoder.encode(input.payload_hash_b64u), key, b64uDecode(input.signature_b64u));
  } catch {
    valid = false;
  }
  if (!valid) return fail('SIGNATURE_INVALID', 'the signature does not verify with signer_did');
  return { ok: true, value: input as unknown as SignedEnvelope };
}
