import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { z } from 'zod';
import { canonicalJson, hashAddress, HASH_ADDRESS } from '../util/canonical.js';
import type { SigningKey } from '../keys/ed25519.js';
import type { TrustStore } from '../keys/trust.js';

const hash = z.string().regex(HASH_ADDRESS);
const count = z.number().int().min(0);
const path = z.string().min(1).max(512);

/**
 * The seal of a bundle. Everything an auditor checks is named here: the job and its time window, every receipt
 * file with its count and chain head, the Merkle root over all receipts, the WPCs, the tokens presented, the
 * keys, approvals and gateway receipts. Strict, so a field added by hand is refused.
 */
export const ManifestSchema = z.strictObject({
  v: z.literal(1),
  type: z.literal('claw-jira.bundle-manifest'),
  job: z.string().min(1),
  sealed_at: z.string(),
  time_window: z.strictObject({ first: z.string().nullable(), last: z.string().nullable() }),
  receipts: z.strictObject({
    total: count,
    /** RFC 9162 Merkle Tree Hash; leaves are the receipt lines ordered by file name, then line. */
    merkle_root: hash,
    leaf_order: z.literal('file-name,line'),
    files: z.array(
      z.strictObject({
        path,
        server: z.string(),
        session: z.string(),
        count,
        head: hash.nullable(),
        first_time: z.string().nullable(),
        last_time: z.string().nullable(),
        /** A final line cut by a crash mid-write, sealed as found: not a receipt, not a Merkle leaf. */
        torn_tail: z.strictObject({ bytes: z.number().int().min(1), sha256: hash }).optional(),
      }),
    ),
    kinds: z.strictObject({ decision: count, outcome: count, event: count }),
  }),
  wpcs: z.array(z.strictObject({ hash, path, sig_path: path, sig_sha256: hash, signer_kid: z.string().nullable() })),
  tokens: z.array(z.strictObject({ jti: z.string(), token_hash: z.string(), sub: z.string(), exp: z.number() })),
  keys: z.strictObject({
    manifest: z.string(),
    receipt: z.array(z.string()),
    policy: z.array(z.string()),
    approver: z.array(z.string()),
    gateway: z.array(z.string()),
    trust_file_sha256: hash.nullable(),
  }),
  approvals: z.array(z.strictObject({ path, request_id: z.string(), sha256: hash })),
  gateway: z.array(
    z.strictObject({ path, name: z.string(), count, sha256: hash, jwks_path: path, jwks_sha256: hash, kids: z.array(z.string()) }),
  ),
});
export type Manifest = z.infer<typeof ManifestSchema>;

/** The bytes of manifest.json: canonical JSON and a newline, so the file is readable and its hash is stable. */
export function manifestBytes(manifest: Manifest): Uint8Array {
  return new TextEncoder().encode(`${canonicalJson(manifest)}\n`);
}

const MANIFEST_SIG_TYP = 'claw-bundle-manifest+jws';

const SigPayloadSchema = z.strictObject({
  manifest_hash: hash,
  job: z.string(),
  merkle_root: hash,
  kid: z.string(),
  iat: z.number().int(),
});
export type ManifestSigPayload = z.infer<typeof SigPayloadSchema>;

/**
 * manifest.sig is a compact JWS by the receipt key over the manifest's address, like a WPC signature: it binds
 * the exact bytes of manifest.json, and the protected kid binds one key. The receipt key signs because the
 * seal attests what the servers recorded; it is the key an auditor already trusts for receipts.
 */
export async function signManifest(bytes: Uint8Array, manifest: Manifest, key: SigningKey, now: Date): Promise<string> {
  const payload: ManifestSigPayload = {
    manifest_hash: hashAddress(bytes),
    job: manifest.job,
    merkle_root: manifest.receipts.merkle_root,
    kid: key.kid,
    iat: Math.floor(now.getTime() / 1000),
  };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'EdDSA', typ: MANIFEST_SIG_TYP, kid: key.kid })
    .sign(key.privateKey);
}

export type ManifestSigCheck =
  | { ok: true; payload: ManifestSigPayload }
  | { ok: false; code: 'MANIFEST_SIGNATURE_INVALID' | 'MANIFEST_UNTRUSTED_SIGNER' | 'MANIFEST_HASH_MISMATCH'; message: string };

export async function verifyManifestSignature(jws: string, bytes: Uint8Array, trust: TrustStore): Promise<ManifestSigCheck> {
  const compact = jws.trim();
  let header;
  try {
    header = decodeProtectedHeader(compact);
  } catch {
    return { ok: false, code: 'MANIFEST_SIGNATURE_INVALID', message: 'manifest.sig is not a compact JWS' };
  }
  if (header.alg !== 'EdDSA' || header.typ !== MANIFEST_SIG_TYP || typeof header.kid !== 'string' || 'crit' in header) {
    return { ok: false, code: 'MANIFEST_SIGNATURE_INVALID', message: `manifest.sig must be EdDSA, typ ${MANIFEST_SIG_TYP}, with a kid` };
  }
  const key = trust.get(header.kid, 'receipt');
  if (!key) {
    return { ok: false, code: 'MANIFEST_UNTRUSTED_SIGNER', message: `the manifest is signed by key ${header.kid}, not a trusted receipt key` };
  }
  let payload: ManifestSigPayload;
  try {
    const verified = await compactVerify(compact, key.publicKey, { algorithms: ['EdDSA'] });
    payload = SigPayloadSchema.parse(JSON.parse(new TextDecoder().decode(verified.payload)));
  } catch {
    return { ok: false, code: 'MANIFEST_SIGNATURE_INVALID', message: 'the manifest signature does not verify' };
  }
  if (payload.kid !== key.kid) return { ok: false, code: 'MANIFEST_SIGNATURE_INVALID', message: 'the signature payload names another key' };
  const actual = hashAddress(bytes);
  if (payload.manifest_hash !== actual) {
    return {
      ok: false,
      code: 'MANIFEST_HASH_MISMATCH',
      message: `manifest.json hashes to ${actual} but the seal signed ${payload.manifest_hash}: the manifest was changed after sealing`,
    };
  }
  return { ok: true, payload };
}

export type ManifestParse = { ok: true; manifest: Manifest } | { ok: false; code: 'MANIFEST_MALFORMED' | 'MANIFEST_NOT_CANONICAL'; message: string };

export function parseManifest(bytes: Uint8Array): ManifestParse {
  let text: string;
  let json: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    json = JSON.parse(text);
  } catch {
    return { ok: false, code: 'MANIFEST_MALFORMED', message: 'manifest.json is not JSON' };
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, code: 'MANIFEST_MALFORMED', message: `manifest.json: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}` };
  }
  if (`${canonicalJson(json)}\n` !== text) {
    return { ok: false, code: 'MANIFEST_NOT_CANONICAL', message: 'manifest.json is not in canonical form (edited by hand?)' };
  }
  return { ok: true, manifest: parsed.data };
}
