import { createPublicKey, type KeyObject } from 'node:crypto';
import { base58btcDecode, base58btcEncode } from './base58.js';
import { ClawProtocolError } from './errors.js';
import { b64uDecode, b64uEncode } from './hash.js';

/**
 * did:key for Ed25519 (PROTOCOL.md §1): `did:key:z` + base58btc(0xED 0x01 || 32-byte public key).
 * 0xED 0x01 is the unsigned-varint multicodec `ed25519-pub` (0xED). Other key types are refused: the
 * protocol signs with Ed25519 only.
 */
const PREFIX = 'did:key:z';
const ED25519_MULTICODEC = [0xed, 0x01] as const;
const KEY_LENGTH = 32;

/** The DID shape the reference verifier accepts before it tries to extract a key (`isValidDidFormat`). */
export const DID_FORMAT = /^did:(key|web):[a-zA-Z0-9._%-]+$/;

export function isValidDidFormat(did: string): boolean {
  return DID_FORMAT.test(did);
}

export function didKeyFromPublicKey(raw: Uint8Array): string {
  if (raw.length !== KEY_LENGTH) {
    throw new ClawProtocolError('CLAW_KEY_INVALID', `an Ed25519 public key is ${KEY_LENGTH} bytes, got ${raw.length}`);
  }
  return PREFIX + base58btcEncode(Uint8Array.from([...ED25519_MULTICODEC, ...raw]));
}

export function publicKeyFromDidKey(did: string): Uint8Array {
  if (!did.startsWith(PREFIX)) {
    // did:web and other methods are well formed DIDs but carry no key the protocol can check against.
    const code = did.startsWith('did:') ? 'CLAW_DID_UNSUPPORTED' : 'CLAW_DID_INVALID';
    throw new ClawProtocolError(code, 'not an Ed25519 did:key (did:key:z…)');
  }
  let decoded: Uint8Array;
  try {
    decoded = base58btcDecode(did.slice(PREFIX.length));
  } catch {
    throw new ClawProtocolError('CLAW_DID_INVALID', 'did:key is not base58btc');
  }
  if (decoded.length !== ED25519_MULTICODEC.length + KEY_LENGTH) {
    throw new ClawProtocolError('CLAW_DID_INVALID', 'did:key does not hold a 32-byte key');
  }
  if (decoded[0] !== ED25519_MULTICODEC[0] || decoded[1] !== ED25519_MULTICODEC[1]) {
    throw new ClawProtocolError('CLAW_DID_UNSUPPORTED', 'did:key is not an Ed25519 key (multicodec 0xed01)');
  }
  const raw = decoded.slice(ED25519_MULTICODEC.length);
  // Re-encode and compare: base58 has one spelling per byte string, so anything else is not this key's did.
  if (didKeyFromPublicKey(raw) !== did) throw new ClawProtocolError('CLAW_DID_INVALID', 'did:key is not canonical');
  return raw;
}

/** The did:key of a public JWK's `x` (the same Ed25519 key claw-jira names by its RFC 7638 thumbprint). */
export function didKeyFromJwkX(x: string): string {
  try {
    return didKeyFromPublicKey(b64uDecode(x));
  } catch (error) {
    if (error instanceof ClawProtocolError && error.code === 'CLAW_KEY_INVALID') throw error;
    throw new ClawProtocolError('CLAW_KEY_INVALID', 'JWK x is not a base64url Ed25519 public key');
  }
}

/** A node KeyObject for a did:key, ready for `crypto.verify`. */
export function keyObjectFromDidKey(did: string): KeyObject {
  const raw = publicKeyFromDidKey(did);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64uEncode(raw) }, format: 'jwk' });
}
