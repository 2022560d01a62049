import { createHash } from 'node:crypto';
import { canonicalBytes, canonicalJson } from '../util/canonical.js';
import { isCanonicalBase64url } from '../keys/base64url.js';
import { signBytes, verifyBytes, type SigningKey, type VerifyingKey } from '../keys/ed25519.js';
import type { Receipt, ReceiptBody, ReceiptContent } from './types.js';

export function signReceipt(body: ReceiptBody, key: SigningKey): Receipt {
  const sig = Buffer.from(signBytes(key, canonicalBytes(body))).toString('base64url');
  return { ...body, sig };
}

export function verifyReceiptSignature(receipt: Receipt, key: VerifyingKey): boolean {
  const { sig, ...body } = receipt;
  if (typeof sig !== 'string' || !isCanonicalBase64url(sig)) return false;
  return verifyBytes(key, canonicalBytes(body), Buffer.from(sig, 'base64url'));
}

/** A receipt's line in its file: canonical JSON, so the bytes on disk are the bytes that were hashed. */
export function receiptLine(receipt: Receipt): string {
  return canonicalJson(receipt);
}

/** The hash the next receipt's `prev` names, and the Merkle leaf content. */
export function receiptHash(line: string): string {
  // node's SHA-256 rather than the pure-JS one: the same digest, on the path of every receipt.
  return `sha256:${createHash('sha256').update(line, 'utf8').digest('hex')}`;
}

/**
 * Sign a receipt and produce its line and hash, serialising each member once: the canonical text of every
 * top-level value is computed one time and assembled twice (the signed bytes without `sig`, the line with it).
 * RFC 8785 orders members by UTF-16 code units, which is JavaScript's default string order, and writes
 * member names as JSON.stringify does; `canonicalJson(signReceipt(body))` gives the same line (tested).
 */
export function signReceiptLine(body: ReceiptBody, key: SigningKey): { receipt: Receipt; line: string; hash: string } {
  const members: [string, string][] = [];
  for (const name of Object.keys(body).sort()) {
    const value = (body as unknown as Record<string, unknown>)[name];
    if (value === undefined) continue;
    members.push([name, `${JSON.stringify(name)}:${canonicalJson(value)}`]);
  }
  const signed = `{${members.map((member) => member[1]).join(',')}}`;
  const sig = Buffer.from(signBytes(key, Buffer.from(signed, 'utf8'))).toString('base64url');
  const sigMember = `"sig":${JSON.stringify(sig)}`;
  const at = members.findIndex(([name]) => name > 'sig');
  const parts = members.map((member) => member[1]);
  parts.splice(at === -1 ? parts.length : at, 0, sigMember);
  const line = `{${parts.join(',')}}`;
  return { receipt: { ...body, sig }, line, hash: receiptHash(line) };
}

/** Where a receipt sits: its job, server and session, its place in the chain, and the job's Claw run id. */
export interface ChainLink {
  job: string;
  server: string;
  session: string;
  seq: number;
  prev: string | null;
  runId?: string | undefined;
}

/**
 * A receipt's content stamped with its chain members and signed: the one place a session's next receipt is
 * made, whether its line goes to a session file (ReceiptLog) or a database row (the Postgres sink).
 */
export function signChained(content: ReceiptContent, link: ChainLink, key: SigningKey): { receipt: Receipt; line: string; hash: string } {
  return signReceiptLine(
    {
      ...content,
      ...(link.runId !== undefined ? { run_id: link.runId } : {}),
      v: 1,
      job: link.job,
      server: link.server,
      session: link.session,
      seq: link.seq,
      prev: link.prev,
      kid: key.kid,
    },
    key,
  );
}
