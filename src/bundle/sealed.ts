import { createHash } from 'node:crypto';

/**
 * What the seal states against what the folder holds, computed one way for seal and verify alike: which entries
 * the manifest lists that are gone, which are present but not sealed, and the pairs whose content the caller
 * compares. Every sealed-vs-present check of `bundle verify` (receipt files, WPCs, tokens, approvals, gateway
 * receipts, keys/trust.json) goes through `compareSealed`; the line and torn-tail hashes below are what seal
 * records and verify recomputes. No schema or JOSE import: the verify worker loads this module too.
 */
export interface SealedComparison<S, P> {
  /** Sealed entries with no present counterpart, in the manifest's order. */
  missing: S[];
  /** Present entries the seal does not list, in the folder's order. */
  added: P[];
  /** Entries in both, in the manifest's order: their content is the caller's to compare. */
  matched: { sealed: S; present: P }[];
}

export function compareSealed<S, P>(
  sealed: readonly S[],
  present: readonly P[],
  keyOfSealed: (entry: S) => string,
  keyOfPresent: (entry: P) => string,
): SealedComparison<S, P> {
  const byKey = new Map<string, P>();
  for (const entry of present) if (!byKey.has(keyOfPresent(entry))) byKey.set(keyOfPresent(entry), entry);
  const sealedKeys = new Set<string>();
  const missing: S[] = [];
  const matched: { sealed: S; present: P }[] = [];
  for (const entry of sealed) {
    const key = keyOfSealed(entry);
    sealedKeys.add(key);
    const found = byKey.get(key);
    if (found === undefined) missing.push(entry);
    else matched.push({ sealed: entry, present: found });
  }
  return { missing, added: present.filter((entry) => !sealedKeys.has(keyOfPresent(entry))), matched };
}

/** A presented token as the manifest lists it, and its one identity: the same jti with another hash, subject or expiry is another token. */
export interface TokenIdentity {
  jti: string;
  token_hash: string;
  sub: string;
  exp: number;
}

export function tokenKey(token: TokenIdentity): string {
  return `${token.jti}\u0000${token.token_hash}\u0000${token.sub}\u0000${token.exp}`;
}

const NEWLINE = 0x0a;

function sha256Address(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * The hash of the receipt at 1-based `line` (the bytes before its newline: the chain's line hash), null for line
 * 0 (no receipt yet) or a line with no newline after it (not a complete receipt).
 */
export function lineHashAt(buf: Uint8Array, line: number): string | null {
  if (line <= 0) return null;
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let start = 0;
  for (let i = 1; i < line; i++) {
    const next = bytes.indexOf(NEWLINE, start);
    if (next === -1) return null;
    start = next + 1;
  }
  const end = bytes.indexOf(NEWLINE, start);
  return end === -1 ? null : sha256Address(bytes.subarray(start, end));
}

/** The bytes after the last complete line, as the seal records a line torn by a crash mid-write; undefined when there are none. */
export function trailingBytes(buf: Uint8Array): { bytes: number; sha256: string } | undefined {
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const tail = bytes.subarray(bytes.lastIndexOf(NEWLINE) + 1);
  return tail.length === 0 ? undefined : { bytes: tail.length, sha256: sha256Address(tail) };
}

/** A time window widened to include `first`..`last` (ISO strings compare in time order); nulls widen nothing. */
export function widenWindow(window: { first: string | null; last: string | null }, first: string | null, last: string | null = first): void {
  if (first !== null && (window.first === null || first < window.first)) window.first = first;
  if (last !== null && (window.last === null || last > window.last)) window.last = last;
}
