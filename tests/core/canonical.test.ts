import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalize } from 'json-canonicalize';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { canonicalJson, hashOfJson, sha256Hex } from '../../src/util/canonical.js';

/** A small deterministic generator (no dependency): the same values on every run. */
function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const STRINGS = ['', 'a', 'B', 'é', '€', '\u0000', '\u001f', '"', '\\', '\n\t\r\b\f', '😀', '\ud800', 'ﬀ', '10', '2', '-1', 'key with space', '\u2028'];
const NUMBERS = [0, -0, 1, -1, 0.1, 0.1 + 0.2, 1e21, 1e-7, 5e-324, 2 ** 53, -(2 ** 31), 123456789.125, 1.7976931348623157e308];

function value(next: () => number, depth: number): unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const kind = depth > 4 ? Math.floor(next() * 4) : Math.floor(next() * 7);
  switch (kind) {
    case 0:
      return pick(STRINGS);
    case 1:
      return pick(NUMBERS);
    case 2:
      return pick([true, false, null]);
    case 3:
      return pick([undefined, 'x', 7]);
    case 4: {
      const array: unknown[] = Array.from({ length: Math.floor(next() * 5) }, () => value(next, depth + 1));
      // A hole, as a sparse array has.
      if (next() < 0.2) array[array.length + 1] = 1;
      return array;
    }
    default: {
      const record: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 6); i > 0; i--) record[pick(STRINGS) + (next() < 0.3 ? pick(STRINGS) : '')] = value(next, depth + 1);
      if (next() < 0.05) record.when = new Date(Math.floor(next() * 2e12));
      return record;
    }
  }
}

describe('canonical JSON (RFC 8785)', () => {
  it('gives exactly the text json-canonicalize gives, on 5,000 generated values', () => {
    const next = rng(8785);
    for (let i = 0; i < 5000; i++) {
      const input = value(next, 0);
      expect(canonicalJson(input)).toBe(canonicalize(input));
    }
  });

  it('orders members by UTF-16 code units, integer-like names included, and writes RFC 8785 numbers', () => {
    expect(canonicalJson({ 10: 'a', 2: 'b', 1: 'c', b: [undefined, -0, 1e21], a: { z: 1, undef: undefined } })).toBe(
      '{"1":"c","10":"a","2":"b","a":{"z":1},"b":[null,0,1e+21]}',
    );
    // The RFC's own ordering example: code units, so U+20AC sorts after U+00E9 and the emoji's surrogates after U+FB33.
    expect(canonicalJson({ '€': 1, '\r': 2, 'דּ': 3, '1': 4, '😀': 5, '\u0080': 6, 'ö': 7 })).toBe(canonicalize({ '€': 1, '\r': 2, 'דּ': 3, '1': 4, '😀': 5, '\u0080': 6, 'ö': 7 }));
  });

  it('refuses what JCS cannot represent: non-finite numbers and cycles', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/Non-finite/);
    expect(() => canonicalJson([Number.POSITIVE_INFINITY])).toThrow(/Non-finite/);
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = { back: cycle };
    expect(() => canonicalJson(cycle)).toThrow(/Circular/);
    // The same object twice side by side is not a cycle.
    const shared = { k: 1 };
    expect(canonicalJson({ x: shared, y: [shared] })).toBe('{"x":{"k":1},"y":[{"k":1}]}');
  });

  it('hashes with the same SHA-256 digest as before (node crypto instead of the pure-JS one)', () => {
    for (const text of ['', 'abc', '😀 € \u0000', 'x'.repeat(100_000)]) {
      expect(sha256Hex(text)).toBe(bytesToHex(sha256(new TextEncoder().encode(text))));
      expect(sha256Hex(new TextEncoder().encode(text))).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
    }
    expect(hashOfJson({ b: 1, a: 'x' })).toBe(`sha256:${createHash('sha256').update('{"a":"x","b":1}').digest('hex')}`);
  });
});
