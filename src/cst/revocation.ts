import { readFileSync, statSync } from 'node:fs';
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import ky from 'ky';
import { z } from 'zod';
import { isCanonicalCompactJws } from '../keys/base64url.js';
import type { SigningKey } from '../keys/ed25519.js';
import type { TrustStore } from '../keys/trust.js';
import { isLoopbackHost } from '../util/loopback.js';
import { hashAddress } from '../util/canonical.js';
import { ClawError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { CstError } from './errors.js';
import { stampOf } from '../util/file-stamp.js';

/**
 * The revocation list is a compact JWS signed by the token issuer, so a server can trust a list fetched from
 * anywhere, and nobody without the issuer key can un-revoke a token by editing a file.
 */
export const REVOCATION_TYP = 'cst-revocations+jws';

export const RevocationListSchema = z.strictObject({
  v: z.literal(1),
  iat: z.number().int(),
  revoked: z.array(
    z.strictObject({
      jti: z.string(),
      revoked_at: z.string(),
      reason: z.string().max(500).optional(),
    }),
  ),
});
export type RevocationList = z.infer<typeof RevocationListSchema>;

const EMPTY: RevocationList = { v: 1, iat: 0, revoked: [] };

export async function signRevocationList(list: RevocationList, key: SigningKey): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(list)))
    .setProtectedHeader({ alg: 'EdDSA', typ: REVOCATION_TYP, kid: key.kid })
    .sign(key.privateKey);
}

export async function verifyRevocationList(jws: string, trust: TrustStore): Promise<RevocationList> {
  try {
    if (!isCanonicalCompactJws(jws.trim())) throw new Error('not canonical');
    const header = decodeProtectedHeader(jws.trim());
    if (header.alg !== 'EdDSA' || header.typ !== REVOCATION_TYP || typeof header.kid !== 'string') throw new Error('header');
    const key = trust.get(header.kid, 'issuer');
    if (!key) throw new Error('untrusted');
    const { payload } = await compactVerify(jws.trim(), key.publicKey, { algorithms: ['EdDSA'] });
    return RevocationListSchema.parse(JSON.parse(new TextDecoder().decode(payload)));
  } catch {
    throw new CstError('CST_REVOCATION_UNAVAILABLE', 'the revocation list does not verify against the trusted issuer keys');
  }
}

/** Add a revocation to the list in `file` (creating it) and re-sign it. Used by `claw-jira cst revoke`. */
export async function revokeInFile(
  file: string,
  trust: TrustStore,
  key: SigningKey,
  jti: string,
  reason?: string,
  now: Date = new Date(),
): Promise<RevocationList> {
  let list = EMPTY;
  try {
    list = await verifyRevocationList(readFileSync(file, 'utf8'), trust);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (!list.revoked.some((entry) => entry.jti === jti)) {
    list = {
      v: 1,
      // Strictly newer than the list it replaces, even within one second: servers refuse a list that is not.
      iat: Math.max(Math.floor(now.getTime() / 1000), list.iat + 1),
      revoked: [...list.revoked, { jti, revoked_at: now.toISOString(), ...(reason ? { reason } : {}) }],
    };
  }
  writeFileAtomic(file, `${await signRevocationList(list, key)}\n`);
  return list;
}

/**
 * Where a server keeps the newest list it has accepted, outside the list's own file (its state journal), so the
 * rollback check survives a restart: a list older than that one, or as old but different, is a replayed list.
 */
export interface RevocationAnchor {
  /** Throws REVOCATION_ROLLBACK for a list older than the newest accepted; records it when it is newer. */
  accept(list: { iat: number; hash: string }): Promise<void>;
}

/** Verify a list's text, refuse a rollback (in memory, then against the anchor), and record it. */
async function acceptList(text: string, trust: TrustStore, newestIat: number | undefined, anchor: RevocationAnchor | undefined): Promise<RevocationList> {
  const list = await verifyRevocationList(text, trust);
  if (newestIat !== undefined && list.iat < newestIat) throw rollback();
  await anchor?.accept({ iat: list.iat, hash: hashAddress(text.trim()) });
  return list;
}

export function rollback(): CstError {
  return new CstError('REVOCATION_ROLLBACK', 'the revocation list is older than one this server already accepted (an old list was put back): every token is refused until the newest list is restored');
}

/**
 * A revocation URL must be https: over plain http anyone on the path can serve an older (validly signed) list
 * or none. Loopback is the exception (a local sidecar, tests).
 */
export function checkRevocationUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ClawError('REVOCATION_URL_INSECURE', 'CLAW_REVOCATION_URL is not a URL');
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (parsed.protocol === 'https:' || (parsed.protocol === 'http:' && isLoopbackHost(host))) return;
  throw new ClawError('REVOCATION_URL_INSECURE', `CLAW_REVOCATION_URL must be https (plain http only to a loopback host), not ${parsed.protocol}//${host}`);
}

export interface RevocationSource {
  isRevoked(jti: string): Promise<boolean>;
}

/**
 * Checked on every call: a `stat` per call, a re-read and re-verify only when the file changed. A missing
 * file means nothing was revoked yet; a file that exists but does not verify refuses every token. Once a list
 * was seen, a file that disappears or an older signed list put back in its place would un-revoke tokens, so
 * both refuse every token too.
 */
export class FileRevocationSource implements RevocationSource {
  #stamp = '';
  #revoked = new Set<string>();
  #newestIat: number | undefined;

  constructor(
    readonly file: string,
    readonly trust: TrustStore,
    /**
     * Servers set this: `claw-jira init` writes a signed empty list, so a missing one means it was deleted,
     * and deleting it must not un-revoke tokens.
     */
    readonly options: { required?: boolean; anchor?: RevocationAnchor } = {},
  ) {}

  async isRevoked(jti: string): Promise<boolean> {
    let stamp: string;
    try {
      stamp = stampOf(statSync(this.file, { bigint: true }));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        if (this.#newestIat !== undefined) throw new CstError('CST_REVOCATION_UNAVAILABLE', 'the revocation list disappeared');
        if (this.options.required) {
          throw new CstError('CST_REVOCATION_UNAVAILABLE', "there is no revocation list (claw-jira init creates a signed empty one)");
        }
        this.#stamp = '';
        this.#revoked = new Set();
        return false;
      }
      throw new CstError('CST_REVOCATION_UNAVAILABLE', 'cannot read the revocation list');
    }
    if (stamp !== this.#stamp) {
      let text: string;
      try {
        text = readFileSync(this.file, 'utf8');
      } catch {
        throw new CstError('CST_REVOCATION_UNAVAILABLE', 'cannot read the revocation list');
      }
      const list = await acceptList(text, this.trust, this.#newestIat, this.options.anchor);
      this.#revoked = new Set(list.revoked.map((entry) => entry.jti));
      this.#newestIat = list.iat;
      this.#stamp = stamp;
    }
    return this.#revoked.has(jti);
  }
}

/**
 * A list published at a URL. Re-fetched when older than `maxAgeMs`; if the host is unreachable the last good
 * list is used for at most `staleMs`, then every token is refused (fail closed).
 */
export class UrlRevocationSource implements RevocationSource {
  #fetchedAt = 0;
  #revoked: Set<string> | undefined;
  #newestIat: number | undefined;

  constructor(
    readonly url: string,
    readonly trust: TrustStore,
    readonly options: { maxAgeMs?: number; staleMs?: number; now?: () => number; anchor?: RevocationAnchor } = {},
  ) {
    checkRevocationUrl(url);
  }

  async isRevoked(jti: string): Promise<boolean> {
    const now = (this.options.now ?? Date.now)();
    if (this.#revoked === undefined || now - this.#fetchedAt > (this.options.maxAgeMs ?? 5_000)) {
      try {
        const text = await ky.get(this.url, { timeout: 5_000, retry: 0, redirect: 'error' }).text();
        const list = await acceptList(text, this.trust, this.#newestIat, this.options.anchor);
        this.#revoked = new Set(list.revoked.map((entry) => entry.jti));
        this.#newestIat = list.iat;
        this.#fetchedAt = now;
      } catch (error) {
        // A rolled-back list is not an outage to ride out on the last good list: it is refused at once.
        if (error instanceof CstError && error.code === 'REVOCATION_ROLLBACK') throw error;
        if (this.#revoked === undefined || now - this.#fetchedAt > (this.options.staleMs ?? 60_000)) {
          throw new CstError('CST_REVOCATION_UNAVAILABLE', 'the revocation list cannot be fetched');
        }
      }
    }
    return this.#revoked.has(jti);
  }
}
