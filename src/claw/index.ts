/** Claw protocol primitives shared by claw-jira's Claw export and Claw inputs (PROTOCOL.md §1). */
export { base58btcDecode, base58btcEncode } from './base58.js';
export { DID_FORMAT, didKeyFromJwkX, didKeyFromPublicKey, isValidDidFormat, keyObjectFromDidKey, publicKeyFromDidKey } from './did-key.js';
export { createEnvelope, didSignatureValid, ENVELOPE_TYPES, envelopeSigner, payloadHash, verifyEnvelope } from './envelope.js';
export type { CreateEnvelopeOptions, EnvelopeSigner, PayloadHashMode, SignedEnvelope, VerifyEnvelopeOptions } from './envelope.js';
export { ClawProtocolError, type ClawProtocolErrorCode } from './errors.js';
export { B64U_PATTERN, b64uDecode, b64uEncode, jcsHashB64u, sha256B64u, sortKeysDeep, stringifyHashB64u } from './hash.js';
export { fail, type ClawCheck, type ClawReasonCode } from './reason-codes.js';
