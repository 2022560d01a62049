import { createPrivateKey, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  base58btcDecode, base58btcEncode, createEnvelope, didKeyFromPublicKey, envelopeSigner, jcsHashB64u,
  publicKeyFromDidKey, sha256B64u, stringifyHashB64u, verifyEnvelope, type EnvelopeSigner,
} from '../../src/claw/index.js';
import { ClawProtocolError } from '../../src/claw/errors.js';
import { generateSigningKey, signingKeyFromJwk } from '../../src/keys/ed25519.js';
import { canonicalJson } from '../../src/util/canonical.js';
import { readClawJson } from './schema-path.js';

interface Golden {
  seed_hex: string;
  public_key_hex: string;
  did: string;
  signature_envelope: Record<string, unknown>;
  canonical_jcs: string;
  signature_hex: string;
}
const golden = readClawJson<Golden>('fixtures/protocol-m-golden-vector.v1.json');

function signerFromSeed(seedHex: string): EnvelopeSigner & { publicKey: Uint8Array } {
  // PKCS#8 prefix for a raw Ed25519 seed: lets node import the golden vector's seed as a private key.
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const x = privateKey.export({ format: 'jwk' }).x ?? '';
  const publicKey = new Uint8Array(Buffer.from(x, 'base64url'));
  return { did: didKeyFromPublicKey(publicKey), publicKey, sign: (m) => new Uint8Array(sign(null, m, privateKey)) };
}

describe('did:key (Ed25519)', () => {
  it('encodes the golden vector public key to its did and back', () => {
    const raw = new Uint8Array(Buffer.from(golden.public_key_hex, 'hex'));
    expect(didKeyFromPublicKey(raw)).toBe(golden.did);
    expect(Buffer.from(publicKeyFromDidKey(golden.did)).toString('hex')).toBe(golden.public_key_hex);
  });

  it('derives the golden did from the golden seed, and the golden JCS signature verifies', () => {
    const signer = signerFromSeed(golden.seed_hex);
    expect(signer.did).toBe(golden.did);
    const unsigned = { ...golden.signature_envelope, signature: '' };
    expect(canonicalJson(unsigned)).toBe(golden.canonical_jcs);
    expect(Buffer.from(signer.sign(new TextEncoder().encode(golden.canonical_jcs))).toString('hex')).toBe(golden.signature_hex);
  });

  it('refuses non-did:key, other key types, bad base58 and non-canonical spellings with stable codes', () => {
    const code = (did: string): string => {
      try {
        publicKeyFromDidKey(did);
        return 'ACCEPTED';
      } catch (error) {
        expect(error).toBeInstanceOf(ClawProtocolError);
        return (error as ClawProtocolError).code;
      }
    };
    expect(code('did:web:clawproxy.com')).toBe('CLAW_DID_UNSUPPORTED');
    expect(code('not-a-did')).toBe('CLAW_DID_INVALID');
    expect(code('did:key:z0OIl')).toBe('CLAW_DID_INVALID');
    // secp256k1 multicodec (0xe7 0x01) with 33 bytes: a real did:key, not Ed25519.
    const secp = 'did:key:z' + base58btcEncode(Uint8Array.from([0xe7, 0x01, ...new Array<number>(32).fill(7)]));
    expect(code(secp)).toBe('CLAW_DID_UNSUPPORTED');
    // A leading zero byte spelled before the multicodec: no longer a 34-byte Ed25519 did:key.
    expect(code(golden.did.replace('did:key:z', 'did:key:z1'))).toBe('CLAW_DID_INVALID');
    expect(() => didKeyFromPublicKey(new Uint8Array(31))).toThrow(ClawProtocolError);
  });

  it('keeps leading zero bytes through base58btc', () => {
    const bytes = Uint8Array.from([0, 0, 1, 2, 255]);
    expect(base58btcEncode(bytes).startsWith('11')).toBe(true);
    expect([...base58btcDecode(base58btcEncode(bytes))]).toEqual([...bytes]);
    expect(base58btcEncode(new Uint8Array())).toBe('');
  });

  it('names the receipt key (a JWK) by the same Ed25519 key as did:key', async () => {
    const { privateJwk } = await generateSigningKey();
    const signer = envelopeSigner(await signingKeyFromJwk(privateJwk));
    expect(Buffer.from(publicKeyFromDidKey(signer.did)).toString('base64url')).toBe(privateJwk.x);
  });
});

describe('hashing rules', () => {
  it('stringify hash keeps key order; JCS hash does not', () => {
    expect(stringifyHashB64u({ b: 1, a: 2 })).not.toBe(stringifyHashB64u({ a: 2, b: 1 }));
    expect(jcsHashB64u({ b: 1, a: 2 })).toBe(jcsHashB64u({ a: 2, b: 1 }));
    expect(jcsHashB64u({ b: 1, a: 2 })).toBe(stringifyHashB64u({ a: 2, b: 1 }));
    expect(sha256B64u('')).toBe('47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU');
  });
});

describe('SignedEnvelope', () => {
  const conformance = readClawJson<Record<string, unknown> & { payload: { receipts: unknown[] } }>(
    'fixtures/protocol-conformance/proof_bundle_pass.v1.json',
  );

  it('verifies the conformance vector envelope and its embedded gateway receipt', () => {
    expect(verifyEnvelope(conformance, { expectedType: 'proof_bundle', now: Date.parse('2026-02-12T00:00:03Z') }).ok).toBe(true);
    expect(verifyEnvelope(conformance.payload.receipts[0], { expectedType: 'gateway_receipt' }).ok).toBe(true);
  });

  it('creates envelopes that verify, and names each tampering', () => {
    const signer = signerFromSeed(golden.seed_hex);
    const envelope = createEnvelope('message_signature', { a: 1, b: 'x' }, signer, { issuedAt: '2026-01-01T00:00:00.000Z' });
    expect(verifyEnvelope(envelope).ok).toBe(true);
    const reason = (value: unknown, now?: number): string => {
      const check = verifyEnvelope(value, { now });
      return check.ok ? 'OK' : check.reason_code;
    };
    expect(reason({ ...envelope, payload: { a: 2, b: 'x' } })).toBe('HASH_MISMATCH');
    expect(reason({ ...envelope, payload: { b: 'x', a: 1 } })).toBe('HASH_MISMATCH');
    const other = signerFromSeed('11'.repeat(32));
    expect(reason({ ...envelope, signer_did: other.did })).toBe('SIGNATURE_INVALID');
    expect(reason({ ...envelope, signer_did: 'did:web:example.com' })).toBe('INVALID_DID_FORMAT');
    expect(reason({ ...envelope, envelope_version: '2' })).toBe('UNKNOWN_ENVELOPE_VERSION');
    expect(reason({ ...envelope, envelope_type: 'nope' })).toBe('UNKNOWN_ENVELOPE_TYPE');
    expect(reason({ ...envelope, algorithm: 'ES256' })).toBe('UNKNOWN_ALGORITHM');
    expect(reason({ ...envelope, hash_algorithm: 'BLAKE3' })).toBe('UNKNOWN_HASH_ALGORITHM');
    expect(reason({ ...envelope, expires_at: '2026-01-02T00:00:00.000Z' }, Date.parse('2026-01-03T00:00:00Z'))).toBe('EXPIRED_TTL');
    const { signature_b64u: _dropped, ...unsigned } = envelope;
    expect(reason(unsigned)).toBe('MALFORMED_ENVELOPE');
  });

  it('signs the payload hash string, and hashes a WPC envelope with JCS', () => {
    const signer = signerFromSeed(golden.seed_hex);
    const envelope = createEnvelope('work_policy_contract', { z: 1, a: 2 }, signer, { issuedAt: '2026-01-01T00:00:00.000Z', hashMode: 'jcs' });
    expect(envelope.payload_hash_b64u).toBe(jcsHashB64u({ a: 2, z: 1 }));
    expect(verifyEnvelope(envelope, { expectedType: 'work_policy_contract', hashMode: 'jcs' }).ok).toBe(true);
    expect(verifyEnvelope(envelope, { expectedType: 'work_policy_contract' }).ok).toBe(false);
  });
});
