import { sha256 } from '@noble/hashes/sha2.js';
import { isCanonicalBase64url } from '../keys/base64url.js';
import { canonicalJson } from '../util/canonical.js';
import { ClawProtocolError } from './errors.js';

/**
 * The Claw protocol's hashing rules (PROTOCOL.md §1): SHA-256, written as unpadded base64url (`*_b64u`).
 * Two ways to turn JSON into bytes, and the protocol uses each in fixed places:
 * - `JSON.stringify` of the value as it is (envelope payload hashes, event hashes, args/result hashes):
 *   the reference verifier re-stringifies the parsed payload, so key order is part of the hash;
 * - JCS (RFC 8785) for the WPC hash, the CST scope hash, selective disclosure and model identity.
 */
const encoder = new TextEncoder();

export const B64U_PATTERN = /^[A-Za-z0-9_-]+$/;

export function b64uEncode(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** Strict decode: one spelling per byte string (see keys/base64url.ts), so a signature cannot be re-spelled. */
export function b64uDecode(text: string): Uint8Array {
  if (text.length === 0 || !isCanonicalBase64url(text)) {
    throw new ClawProtocolError('CLAW_BASE64URL_INVALID', 'not canonical unpadded base64url');
  }
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

export function sha256B64u(data: Uint8Array | string): string {
  return b64uEncode(sha256(typeof data === 'string' ? encoder.encode(data) : data));
}

/** `sha256_b64u(JSON.stringify(value))`: the hash the verifier recomputes from a parsed payload. */
export function stringifyHashB64u(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new ClawProtocolError('CLAW_JSON_INVALID', 'value has no JSON form');
  return sha256B64u(text);
}

/** `sha256_b64u(JCS(value))`: WPC `policy_hash_b64u`, `token_scope_hash_b64u`, disclosure and identity hashes. */
export function jcsHashB64u(value: unknown): string {
  return sha256B64u(canonicalJson(value));
}

/**
 * A copy of a JSON value with every object's keys in JCS (sorted) order. A producer builds payloads this way so
 * that `JSON.stringify` order equals JCS order and both readings of the payload hash agree (PROTOCOL.md §1).
 * Never apply it to an imported envelope: re-ordering a foreign payload breaks its hash.
 */
export function sortKeysDeep<T>(value: T): T {
  return sortValue(value) as T;
}

function sortValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortValue);
  if (value !== null && typeof value === 'object') {
    const source = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(source).sort()) {
      if (source[key] !== undefined) out[key] = sortValue(source[key]);
    }
    return out;
  }
  return value;
}
