import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ky from 'ky';
import { HASH_ADDRESS } from '../util/canonical.js';
import { writeFileAtomic } from '../util/files.js';
import type { TrustStore } from '../keys/trust.js';
import { wpcDocumentFromBytes, type WpcDocument } from './document.js';
import { WpcError } from './errors.js';
import { verifyWpcSignature, type WpcSignaturePayload } from './signature.js';

/** A WPC whose bytes hash to its address and whose signature verifies against a trusted policy key. */
export interface VerifiedWpc extends WpcDocument {
  readonly signature: string;
  readonly signer: WpcSignaturePayload;
}

/** Raw storage by address. Backends only move bytes; all checking happens in `WpcRegistry`. */
export interface RegistryBackend {
  readonly location: string;
  get(hex: string): Promise<{ bytes: Uint8Array; signature: string } | undefined>;
}

export function addressHex(hash: string): string {
  if (!HASH_ADDRESS.test(hash)) throw new WpcError('WPC_NOT_FOUND', `not a WPC address: ${hash.slice(0, 80)}`);
  return hash.slice('sha256:'.length);
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

export function registryBackend(location: string): RegistryBackend {
  return /^https?:\/\//i.test(location) ? new HttpRegistryBackend(location) : new LocalRegistryBackend(location);
}

/** Fetch by address, verify hash and signature, cache what verified. Nothing unverified is ever returned. */
export class WpcRegistry {
  readonly #cache = new Map<string, VerifiedWpc>();

  constructor(
    readonly backend: RegistryBackend,
    readonly trust: TrustStore,
  ) {}

  async get(hash: string): Promise<VerifiedWpc> {
    const cached = this.#cache.get(hash);
    if (cached) return cached;
    const stored = await this.backend.get(addressHex(hash));
    if (!stored) throw new WpcError('WPC_NOT_FOUND', `WPC ${hash} is not in the registry at ${this.backend.location}`);
    const document = wpcDocumentFromBytes(stored.bytes, hash);
    if (stored.signature.trim() === '') throw new WpcError('WPC_SIGNATURE_INVALID', `WPC ${hash} has no signature`);
    const signer = await verifyWpcSignature(stored.signature, hash, this.trust);
    const verified: VerifiedWpc = { ...document, signature: stored.signature.trim(), signer };
    this.#cache.set(hash, verified);
    return verified;
  }
}
