import { canonicalize } from 'json-canonicalize';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

const encoder = new TextEncoder();

/** RFC 8785 (JCS) canonical JSON text of a value. */
export function canonicalJson(value: unknown): string {
  return canonicalize(value);
}

/** RFC 8785 canonical bytes (UTF-8) of a value. */
export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalize(value));
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return bytesToHex(sha256(typeof bytes === 'string' ? encoder.encode(bytes) : bytes));
}

/** Content address `sha256:<hex>` of raw bytes. */
export function hashAddress(bytes: Uint8Array | string): string {
  return `sha256:${sha256Hex(bytes)}`;
}

/** Content address of a JSON value: the hash of its canonical bytes. */
export function hashOfJson(value: unknown): string {
  return hashAddress(canonicalBytes(value));
}

export const HASH_ADDRESS = /^sha256:[0-9a-f]{64}$/;
