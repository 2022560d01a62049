import { createHash } from 'node:crypto';

const encoder = new TextEncoder();

/**
 * RFC 8785 (JCS) canonical JSON text of a value: members sorted by UTF-16 code units, strings and numbers as
 * ECMAScript's JSON.stringify writes them (which is what JCS specifies), no whitespace. It gives the text
 * json-canonicalize gave (tested against it on generated values, undefined members, array holes and toJSON
 * included), without building a path string per member: it runs over every receipt and every hashed result.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, new Set());
}

/** Text JSON.stringify writes as is: no quote, backslash, control character or surrogate (paired ones included). */
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** A string's JSON text; most keys and values need no escaping, and skip the call into JSON.stringify. */
function quote(text: string): string {
  return PLAIN.test(text) ? `"${text}"` : JSON.stringify(text);
}

function serialize(value: unknown, ancestors: Set<object>): string {
  if (typeof value === 'string') return quote(value);
  if (value === null || typeof value !== 'object' || (value as { toJSON?: unknown }).toJSON != null) {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new Error(`Non-finite number (${value}) is not permitted in JSON (RFC 8785 \u00a73.2.2.3)`);
    }
    // A function or symbol has no JSON text; the old serializer wrote the word, kept for identical output.
    return JSON.stringify(value) ?? 'undefined';
  }
  if (ancestors.has(value)) throw new Error('Circular reference detected');
  ancestors.add(value);
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) {
      // Holes are skipped (as forEach does); an undefined element is null.
      if (!(i in value)) continue;
      if (out.length > 1) out += ',';
      const element: unknown = value[i];
      out += element === undefined ? 'null' : serialize(element, ancestors);
    }
    out += ']';
  } else {
    const record = value as Record<string, unknown>;
    out = '{';
    for (const key of Object.keys(record).sort()) {
      const member = record[key];
      if (member === undefined) continue;
      if (out.length > 1) out += ',';
      out += `${quote(key)}:${serialize(member, ancestors)}`;
    }
    out += '}';
  }
  ancestors.delete(value);
  return out;
}

/** RFC 8785 canonical bytes (UTF-8) of a value. */
export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalJson(value));
}

/** node's SHA-256 (a pure-JS one cost ~10x as much on every hashed receipt and result); the same digest. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
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
