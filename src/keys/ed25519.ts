import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { z } from 'zod';
import { ClawError } from '../util/errors.js';

export const PublicJwkSchema = z.strictObject({
  kty: z.literal('OKP'),
  crv: z.literal('Ed25519'),
  x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  kid: z.string().optional(),
  alg: z.enum(['EdDSA', 'Ed25519']).optional(),
  use: z.literal('sig').optional(),
});
export type PublicJwk = z.infer<typeof PublicJwkSchema>;

export const PrivateJwkSchema = PublicJwkSchema.extend({ d: z.string().regex(/^[A-Za-z0-9_-]{43}$/) });
export type PrivateJwk = z.infer<typeof PrivateJwkSchema>;

/** A signing key ready for use: the node KeyObject (fast, synchronous signing) and its RFC 7638 key id. */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: PublicJwk;
}

export interface VerifyingKey {
  readonly kid: string;
  readonly publicKey: KeyObject;
  readonly publicJwk: PublicJwk;
}

/** RFC 7638 thumbprint (SHA-256, base64url) over the required members only. */
export async function thumbprint(jwk: PublicJwk): Promise<string> {
  return calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }, 'sha256');
}

export async function generateSigningKey(): Promise<{ privateJwk: PrivateJwk; publicJwk: PublicJwk; kid: string }> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const exported = privateKey.export({ format: 'jwk' });
  const privateJwk = PrivateJwkSchema.parse({ kty: exported.kty, crv: exported.crv, x: exported.x, d: exported.d });
  const publicJwk: PublicJwk = { kty: 'OKP', crv: 'Ed25519', x: privateJwk.x };
  const kid = await thumbprint(publicJwk);
  return { privateJwk: { ...privateJwk, kid }, publicJwk: { ...publicJwk, kid }, kid };
}

export async function signingKeyFromJwk(input: unknown): Promise<SigningKey> {
  const parsed = PrivateJwkSchema.safeParse(input);
  if (!parsed.success) throw new ClawError('KEY_INVALID', 'not an Ed25519 private JWK');
  const jwk = parsed.data;
  const publicJwk: PublicJwk = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
  const kid = await thumbprint(publicJwk);
  const privateKey = createPrivateKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d }, format: 'jwk' });
  return { kid, privateKey, publicJwk: { ...publicJwk, kid } };
}

export async function verifyingKeyFromJwk(input: unknown): Promise<VerifyingKey> {
  const parsed = PublicJwkSchema.safeParse(input);
  if (!parsed.success) throw new ClawError('KEY_INVALID', 'not an Ed25519 public JWK');
  const publicJwk: PublicJwk = { kty: 'OKP', crv: 'Ed25519', x: parsed.data.x };
  const kid = await thumbprint(publicJwk);
  if (parsed.data.kid !== undefined && parsed.data.kid !== kid) {
    throw new ClawError('KEY_INVALID', `key id ${parsed.data.kid} is not the RFC 7638 thumbprint of the key`);
  }
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicJwk.x }, format: 'jwk' });
  return { kid, publicKey, publicJwk: { ...publicJwk, kid } };
}

export function signBytes(key: SigningKey, bytes: Uint8Array): Uint8Array {
  return sign(null, bytes, key.privateKey);
}

/**
 * The same signature computed on libuv's thread pool (node's callback form of `sign`), so a busy event loop
 * does not spend ~45 us per Ed25519 signature itself; it pays a thread hand-off instead.
 */
export function signBytesOffThread(key: SigningKey, bytes: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    sign(null, bytes, key.privateKey, (error, signature) => (error ? reject(error) : resolve(signature)));
  });
}

export function verifyBytes(key: VerifyingKey, bytes: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, bytes, key.publicKey, signature);
  } catch {
    return false;
  }
}
