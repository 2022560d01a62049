import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { canonicalJson, hashOfJson, sha256Hex } from '../../src/util/canonical.js';

describe('canonical JSON (RFC 8785)', () => {
  it('orders members by UTF-16 code units, integer-like names included, and writes RFC 8785 numbers', () => {
    expect(canonicalJson({ 10: 'a', 2: 'b', 1: 'c', b: [undefined, -0, 1e21], a: { z: 1, undef: undefined } })).toBe(
      '{"1":"c","10":"a","2":"b","a":{"z":1},"b":[null,0,1e+21]}',
    );
    // The RFC's own ordering example: code units, so U+20AC sorts after U+00E9 and the emoji's surrogates after U+FB33.
    expect(canonicalJson({ '€': 1, '\r': 2, 'דּ': 3, '1': 4, '😀': 5, '\u0080': 6, 'ö': 7 })).toBe('{"\\r":2,"1":4,"\u0080":6,"ö":7,"€":1,"😀":5,"דּ":3}');
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
