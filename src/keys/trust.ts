import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ClawError } from '../util/errors.js';
import { KEY_ROLES, type KeyRole } from './roles.js';
import { PublicJwkSchema, verifyingKeyFromJwk, type PublicJwk, type VerifyingKey } from './ed25519.js';
import { didKeyFromJwkX } from '../claw/did-key.js';

export const TrustFileSchema = z.strictObject({
  version: z.literal(1),
  keys: z.array(
    z.strictObject({
      role: z.enum(KEY_ROLES),
      kid: z.string(),
      jwk: PublicJwkSchema,
      /** The same Ed25519 key as a did:key (the Claw protocol's name for it); optional, checked when present. */
      did: z.string().optional(),
      created_at: z.string().optional(),
    }),
  ),
});
export type TrustFile = z.infer<typeof TrustFileSchema>;

export interface TrustedKey extends VerifyingKey {
  readonly role: KeyRole;
  /** did:key of the same Ed25519 key: what Claw envelopes name as `signer_did`. */
  readonly did: string;
}

/**
 * The public keys a verifier accepts, each bound to one role. A key trusted for one role is never accepted
 * for another: a receipt key cannot sign a policy.
 */
export class TrustStore {
  readonly #byKid = new Map<string, TrustedKey>();

  private constructor(keys: TrustedKey[]) {
    for (const key of keys) this.#byKid.set(key.kid, key);
  }

  static async fromFile(file: TrustFile): Promise<TrustStore> {
    const keys: TrustedKey[] = [];
    for (const entry of file.keys) {
      const key = await verifyingKeyFromJwk(entry.jwk);
      if (key.kid !== entry.kid) {
        throw new ClawError('TRUST_INVALID', `trust entry ${entry.kid} does not match its key's thumbprint`);
      }
      const did = didKeyFromJwkX(key.publicJwk.x);
      // A did that names another key would let a Claw verifier trust a key the JWK does not hold.
      if (entry.did !== undefined && entry.did !== did) {
        throw new ClawError('TRUST_INVALID', `trust entry ${entry.kid} names a did:key that is not its key`);
      }
      keys.push({ ...key, role: entry.role, did });
    }
    return new TrustStore(keys);
  }

  /** Load a trust file; a folder (a CLAW_HOME, or a bundle's keys/) means its trust.json. */
  static async load(path: string): Promise<TrustStore> {
    let raw: string;
    try {
      if (statSync(path).isDirectory()) path = join(path, 'trust.json');
      raw = readFileSync(path, 'utf8');
    } catch {
      throw new ClawError('TRUST_UNREADABLE', `cannot read trust file ${path}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new ClawError('TRUST_INVALID', `trust file ${path} is not JSON`);
    }
    const parsed = TrustFileSchema.safeParse(json);
    if (!parsed.success) throw new ClawError('TRUST_INVALID', `trust file ${path} is not a claw-jira trust file`);
    return TrustStore.fromFile(parsed.data);
  }

  /** The key with this id, only if it is trusted for this role. */
  get(kid: string, role: KeyRole): TrustedKey | undefined {
    const key = this.#byKid.get(kid);
    return key && key.role === role ? key : undefined;
  }

  /** The key named by this did:key, only if it is trusted for this role. */
  getByDid(did: string, role: KeyRole): TrustedKey | undefined {
    return this.list(role).find((key) => key.did === did);
  }

  list(role?: KeyRole): TrustedKey[] {
    return [...this.#byKid.values()].filter((key) => role === undefined || key.role === role);
  }

  toFile(): TrustFile {
    return {
      version: 1,
      keys: this.list().map((key) => ({ role: key.role, kid: key.kid, jwk: key.publicJwk as PublicJwk, did: key.did })),
    };
  }
}
