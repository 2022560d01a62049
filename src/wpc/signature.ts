import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { z } from 'zod';
import { isCanonicalCompactJws } from '../keys/base64url.js';
import type { SigningKey } from '../keys/ed25519.js';
import type { TrustStore } from '../keys/trust.js';
import { WpcError } from './errors.js';

/**
 * A WPC signature is a compact JWS whose payload names the WPC's address. Signing the hash (not a file)
 * binds the signature to the exact canonical bytes, and the protected `kid` binds it to one policy key.
 */
export const WPC_SIGNATURE_TYP = 'wpc-sig+jws';

const PayloadSchema = z.strictObject({
  wpc_hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  kid: z.string(),
  iat: z.number().int(),
});
export type WpcSignaturePayload = z.infer<typeof PayloadSchema>;

const encoder = new TextEncoder();

export async function signWpcHash(hash: string, key: SigningKey, now: Date = new Date()): Promise<string> {
  const payload: WpcSignaturePayload = { wpc_hash: hash, kid: key.kid, iat: Math.floor(now.getTime() / 1000) };
  return new CompactSign(encoder.encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'EdDSA', typ: WPC_SIGNATURE_TYP, kid: key.kid })
    .sign(key.privateKey);
}

export async function verifyWpcSignature(jws: string, hash: string, trust: TrustStore): Promise<WpcSignaturePayload> {
  if (!isCanonicalCompactJws(jws.trim())) {
    throw new WpcError('WPC_SIGNATURE_INVALID', 'WPC signature is not a canonical compact JWS');
  }
  let header;
  try {
    header = decodeProtectedHeader(jws.trim());
  } catch {
    throw new WpcError('WPC_SIGNATURE_INVALID', 'WPC signature is not a compact JWS');
  }
  if (header.alg !== 'EdDSA' || header.typ !== WPC_SIGNATURE_TYP || typeof header.kid !== 'string') {
    throw new WpcError('WPC_SIGNATURE_INVALID', 'WPC signature header must be EdDSA, typ wpc-sig+jws, with a kid');
  }
  const key = trust.get(header.kid, 'policy');
  if (!key) throw new WpcError('WPC_UNTRUSTED_SIGNER', `WPC signed by key ${header.kid}, which is not a trusted policy key`);
  let payloadBytes: Uint8Array;
  try {
    ({ payload: payloadBytes } = await compactVerify(jws.trim(), key.publicKey, { algorithms: ['EdDSA'] }));
  } catch {
    throw new WpcError('WPC_SIGNATURE_INVALID', 'WPC signature does not verify');
  }
  let payload: WpcSignaturePayload;
  try {
    payload = PayloadSchema.parse(JSON.parse(new TextDecoder().decode(payloadBytes)));
  } catch {
    throw new WpcError('WPC_SIGNATURE_INVALID', 'WPC signature payload is malformed');
  }
  if (payload.wpc_hash !== hash) {
    throw new WpcError('WPC_SIGNATURE_INVALID', `WPC signature is for ${payload.wpc_hash}, not ${hash}`);
  }
  if (payload.kid !== key.kid) throw new WpcError('WPC_SIGNATURE_INVALID', 'WPC signature payload names another key');
  return payload;
}
