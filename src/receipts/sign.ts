import { canonicalBytes, canonicalJson, hashAddress } from '../util/canonical.js';
import { isCanonicalBase64url } from '../keys/base64url.js';
import { signBytes, verifyBytes, type SigningKey, type VerifyingKey } from '../keys/ed25519.js';
import type { Receipt, ReceiptBody } from './types.js';

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
  return hashAddress(line);
}
