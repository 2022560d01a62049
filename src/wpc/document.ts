import type { z } from 'zod';
import { canonicalBytes, canonicalJson, hashAddress } from '../util/canonical.js';
import { WpcError } from './errors.js';
import { WpcSchema, type Wpc, type WpcInput } from './schema.js';

/** A WPC as written (what is hashed and signed), its policy with defaults, and its address. */
export interface WpcDocument {
  readonly hash: string;
  readonly bytes: Uint8Array;
  readonly source: WpcInput;
  readonly policy: Wpc;
}

export interface WpcProblem {
  path: string;
  message: string;
}

/** `$.allow.operations[2]` from zod's path, the form `wpc lint` prints. */
export function jsonPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : `${acc}.${String(part)}`),
    '$',
  );
}

export function wpcProblems(error: z.ZodError): WpcProblem[] {
  return error.issues.map((issue) => ({ path: jsonPath(issue.path), message: issue.message }));
}

export function parseWpcJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new WpcError('WPC_INVALID', 'the WPC is not valid JSON');
  }
}

/** Validate a parsed WPC and compute its canonical bytes and address. */
export function wpcDocument(value: unknown): WpcDocument {
  const parsed = WpcSchema.safeParse(value);
  if (!parsed.success) {
    const problems = wpcProblems(parsed.error);
    const first = problems[0];
    throw new WpcError('WPC_INVALID', `invalid WPC: ${first ? `${first.path}: ${first.message}` : 'unknown problem'}`, {
      problems,
    });
  }
  const bytes = canonicalBytes(value);
  return { hash: hashAddress(bytes), bytes, source: value as WpcInput, policy: parsed.data };
}

/**
 * Stored bytes must be the canonical form of themselves: otherwise two different byte strings could claim
 * one policy and the address would not identify what was read.
 */
export function wpcDocumentFromBytes(bytes: Uint8Array, expectedHash?: string): WpcDocument {
  const actual = hashAddress(bytes);
  if (expectedHash !== undefined && actual !== expectedHash) {
    throw new WpcError('WPC_HASH_MISMATCH', `WPC bytes hash to ${actual}, not ${expectedHash}`);
  }
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  const value = parseWpcJson(text);
  if (canonicalJson(value) !== text) {
    throw new WpcError('WPC_NOT_CANONICAL', 'stored WPC bytes are not in RFC 8785 canonical form');
  }
  return wpcDocument(value);
}
