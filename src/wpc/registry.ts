import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ky from 'ky';
import { HASH_ADDRESS } from '../util/canonical.js';
import { writeFileAtomic } from '../util/files.js';
import { isCanonicalBase64url } from '../keys/base64url.js';
import { clawControlsFromLocation } from '../claw/clawcontrols.js';
import { didKeyFromJwkX } from '../claw/did-key.js';
import type { TrustStore } from '../keys/trust.js';
import { wpcDocumentFromBytes, type WpcDocument } from './document.js';
import { WpcError } from './errors.js';
import { verifyWpcSignature, type WpcSignaturePayload } from './signature.js';
import type { RegistryBackend, ResolvedWpc } from './registry-backend.js';

/** A WPC whose bytes hash to its address and whose signature verifies against a trusted policy key. */
export interface VerifiedWpc extends WpcDocument {
  readonly signature: string;
  readonly signer: WpcSignaturePayload;
  /** Set when the WPC came from a clawcontrols registry: its Claw WPC v1 address and the registry that signed it. */
  readonly claw?: { readonly policy_hash_b64u: string; readonly registry_did: string };
}

/**
 * A WPC has one SHA-256 digest (of its RFC 8785 bytes) written two ways: claw-jira's `sha256:<hex>` and the
 * Claw protocol's unpadded base64url (`policy_hash_b64u` form, 43 characters). Both are accepted wherever an
 * address is; a clawcontrols registry also knows the WPC by the hash of its Claw WPC v1 form (`claw` below).
 */
export const B64U_ADDRESS = /^[A-Za-z0-9_-]{43}$/;

export function isWpcAddress(address: string): boolean {
  return HASH_ADDRESS.test(address) || (B64U_ADDRESS.test(address) && isCanonicalBase64url(address));
}

export function addressHex(hash: string): string {
  if (HASH_ADDRESS.test(hash)) return hash.slice('sha256:'.length);
  if (B64U_ADDRESS.test(hash) && isCanonicalBase64url(hash)) return Buffer.from(hash, 'base64url').toString('hex');
  throw new WpcError('WPC_NOT_FOUND', `not a WPC address (sha256:<hex> or 43-character base64url): ${hash.slice(0, 80)}`);
}

/** `sha256:<hex>` for either form. */
export function hexAddress(address: string): string {
  return `sha256:${addressHex(address)}`;
}

/** The base64url form of an address (the same digest). */
export function b64uAddress(address: string): string {
  return Buffer.from(addressHex(address), 'hex').toString('base64url');
}

/** Every Claw-form hash that names this WPC: its digest in base64url and, from clawcontrols, its Claw WPC v1 hash. */
export function wpcClawAddresses(wpc: VerifiedWpc): string[] {
  return [b64uAddress(wpc.hash), ...(wpc.claw ? [wpc.claw.policy_hash_b64u] : [])];
}

export class LocalRegistryBackend implements RegistryBackend {
  constructor(readonly location: string) {}

  async get(hex: string): Promise<{ bytes: Uint8Array; signature: string } | undefined> {
    const body = join(this.location, `${hex}.json`);
    const sig = join(this.location, `${hex}.sig`);
    if (!existsSync(body)) return undefined;
    try {
      return { bytes: new Uint8Array(readFileSync(body)), signature: existsSync(sig) ? readFileSync(sig, 'utf8') : '' };
    } catch {
      throw new WpcError('WPC_UNREADABLE', `cannot read WPC ${hex} from ${this.location}`);
    }
  }

  /** Store canonical bytes and signature under the address. Publishing the same WPC twice is harmless. */
  put(document: WpcDocument, signature: string): string {
    const hex = addressHex(document.hash);
    writeFileAtomic(join(this.location, `${hex}.json`), document.bytes);
    writeFileAtomic(join(this.location, `${hex}.sig`), `${signature}\n`);
    return join(this.location, `${hex}.json`);
  }
}

const MAX_WPC_BYTES = 1024 * 1024;

/**
 * Any static host (nginx, S3, GitHub Pages) serving `<hex>.json` and `<hex>.sig` side by side. Read-only:
 * publishing is an upload with that host's own tools. HTTPS is required except on loopback (tests).
 */
export class HttpRegistryBackend implements RegistryBackend {
  readonly location: string;
  readonly #timeoutMs: number;

  constructor(baseUrl: string, options: { timeoutMs?: number } = {}) {
    const url = new URL(baseUrl);
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
      throw new WpcError('WPC_UNREADABLE', 'a remote WPC registry must use https');
    }
    this.location = url.href.endsWith('/') ? url.href : `${url.href}/`;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  async get(hex: string): Promise<{ bytes: Uint8Array; signature: string } | undefined> {
    const fetchBytes = async (name: string): Promise<Uint8Array | undefined> => {
      const response = await ky.get(new URL(name, this.location), {
        timeout: this.#timeoutMs,
        retry: { limit: 2, methods: ['get'] },
        throwHttpErrors: false,
        redirect: 'error',
      });
      if (response.status === 404) return undefined;
      if (!response.ok) throw new WpcError('WPC_UNREADABLE', `registry answered ${response.status} for ${name}`);
      const buffer = new Uint8Array(await response.arrayBuffer());
      if (buffer.byteLength > MAX_WPC_BYTES) throw new WpcError('WPC_UNREADABLE', `${name} is larger than 1 MiB`);
      return buffer;
    };
    try {
      const bytes = await fetchBytes(`${hex}.json`);
      if (!bytes) return undefined;
      const signature = await fetchBytes(`${hex}.sig`);
      return { bytes, signature: signature ? new TextDecoder().decode(signature) : '' };
    } catch (error) {
      if (error instanceof WpcError) throw error;
      throw new WpcError('WPC_UNREADABLE', `cannot reach the WPC registry at ${this.location}`);
    }
  }
}

/** A folder, a static HTTPS host, or a clawcontrols base URL whose fragment pins its did:key (`https://…#did:key:z…`). */
export function registryBackend(location: string): RegistryBackend {
  const clawcontrols = clawControlsFromLocation(location);
  if (clawcontrols) return clawcontrols;
  return /^https?:\/\//i.test(location) ? new HttpRegistryBackend(location) : new LocalRegistryBackend(location);
}

/** Fetch by address, verify hash and signature, cache what verified. Nothing unverified is ever returned. */
export class WpcRegistry {
  readonly #cache = new Map<string, VerifiedWpc>();

  constructor(
    readonly backend: RegistryBackend,
    readonly trust: TrustStore,
  ) {}

  /** By `sha256:<hex>` or its base64url form; from clawcontrols by the Claw WPC v1 hash. */
  async get(address: string): Promise<VerifiedWpc> {
    const cached = this.#cache.get(address);
    if (cached) return cached;
    let stored: { bytes: Uint8Array; signature: string } | undefined;
    let hash: string;
    let resolved: ResolvedWpc | undefined;
    if (this.backend.resolve) {
      resolved = await this.backend.resolve(address);
      stored = resolved;
      hash = resolved?.hash ?? address;
    } else {
      hash = hexAddress(address);
      stored = await this.backend.get(addressHex(hash));
    }
    if (!stored) throw new WpcError('WPC_NOT_FOUND', `WPC ${address} is not in the registry at ${this.backend.location}`);
    const document = wpcDocumentFromBytes(stored.bytes, hash);
    if (stored.signature.trim() === '') throw new WpcError('WPC_SIGNATURE_INVALID', `WPC ${hash} has no signature`);
    const signer = await verifyWpcSignature(stored.signature, hash, this.trust);
    if (resolved) {
      const key = this.trust.get(signer.kid, 'policy');
      if (!key || didKeyFromJwkX(key.publicJwk.x) !== resolved.issuerDid) {
        throw new WpcError('WPC_ISSUER_MISMATCH', 'the Claw WPC names another issuer_did than the policy key that signed it');
      }
    }
    const verified: VerifiedWpc = { ...document, signature: stored.signature.trim(), signer, ...(resolved ? { claw: resolved.claw } : {}) };
    this.#cache.set(address, verified);
    return verified;
  }
}
