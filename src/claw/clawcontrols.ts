import ky from 'ky';
import { z } from 'zod';
import { canonicalBytes, hashAddress } from '../util/canonical.js';
import { WpcError } from '../wpc/errors.js';
import type { RegistryBackend, ResolvedWpc } from '../wpc/registry-backend.js';
import { verifyEnvelope } from './envelope.js';
import { isValidDidFormat } from './did-key.js';
import { sortKeysDeep } from './hash.js';
import { isLoopbackUrl } from './clawin-url.js';

/**
 * clawcontrols, Claw's WPC registry (PROTOCOL.md §2.3), as a claw-jira registry backend. A Jira WPC travels as a
 * Claw WPC v1 whose `metadata.claw_jira` carries it with its author's signature:
 *
 *   { policy_version: "1", policy_id, issuer_did: <policy author's did:key>,
 *     metadata: { claw_jira: { wpc: <Jira WPC>, wpc_hash: "sha256:<hex>", signature: <author's wpc-sig+jws> } } }
 *
 * `GET /v1/wpc/<policy_hash_b64u>` answers `{ok, policy_hash_b64u, envelope}`, the envelope signed by the
 * registry's did:key. Checked here, in clawproxy's order: the envelope names the requested hash, its JCS hash
 * recomputes, its signer is the pinned registry did, its signature verifies. The registry only vouches that it
 * stored these bytes: the author's own signature is checked after, against the trust file's policy keys
 * (WpcRegistry), and a WPC signed by the registry alone is refused (WPC_AUTHOR_SIGNATURE_MISSING).
 */
const MAX_BODY = 1024 * 1024;

const ClawWpcV1 = z.looseObject({
  policy_version: z.literal('1'),
  policy_id: z.string().min(1).max(128),
  issuer_did: z.string().regex(/^did:/).min(4).max(256),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

const CarriedWpc = z.looseObject({
  wpc: z.record(z.string(), z.unknown()),
  wpc_hash: z.string().optional(),
  signature: z.string().optional(),
});

export class ClawControlsBackend implements RegistryBackend {
  readonly location: string;
  readonly #timeoutMs: number;

  constructor(
    baseUrl: string,
    readonly registryDid: string,
    options: { timeoutMs?: number } = {},
  ) {
    const url = new URL(baseUrl);
    url.hash = '';
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackUrl(url))) {
      throw new WpcError('WPC_UNREADABLE', 'a clawcontrols registry must use https (plain http only on loopback)');
    }
    if (!registryDid.startsWith('did:key:') || !isValidDidFormat(registryDid)) {
      throw new WpcError('WPC_REGISTRY_SIGNER_NOT_ALLOWED', 'the pinned clawcontrols signer must be a did:key');
    }
    this.location = url.href.endsWith('/') ? url.href : `${url.href}/`;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Not addressable by claw-jira's hex form: clawcontrols stores by the Claw WPC v1 hash (see resolve). */
  async get(): Promise<undefined> {
    return undefined;
  }

  async resolve(address: string): Promise<ResolvedWpc | undefined> {
    const body = await this.#fetch(address);
    if (body === undefined) return undefined;
    const envelope = body.envelope as Record<string, unknown> | undefined;
    if (body.ok !== true || typeof envelope !== 'object' || envelope === null) {
      throw new WpcError('WPC_ENVELOPE_INVALID', 'clawcontrols answered without an envelope');
    }
    if (body.policy_hash_b64u !== address || envelope.payload_hash_b64u !== address) {
      throw new WpcError('WPC_HASH_MISMATCH', `clawcontrols answered for another policy than ${address}`);
    }
    if (envelope.signer_did !== this.registryDid) {
      throw new WpcError('WPC_REGISTRY_SIGNER_NOT_ALLOWED', `the WPC envelope is signed by ${String(envelope.signer_did).slice(0, 80)}, not the pinned registry did`);
    }
    const checked = verifyEnvelope(envelope, { expectedType: 'work_policy_contract', hashMode: 'jcs' });
    if (!checked.ok) {
      if (checked.reason_code === 'HASH_MISMATCH') throw new WpcError('WPC_HASH_MISMATCH', 'the WPC envelope payload does not hash to its address');
      if (checked.reason_code === 'SIGNATURE_INVALID') throw new WpcError('WPC_REGISTRY_SIGNATURE_INVALID', 'the registry signature on the WPC envelope does not verify');
      throw new WpcError('WPC_ENVELOPE_INVALID', `the WPC envelope is not valid: ${checked.reason_code}: ${checked.message}`);
    }
    const payload = ClawWpcV1.safeParse(envelope.payload);
    if (!payload.success) throw new WpcError('WPC_ENVELOPE_INVALID', 'the envelope payload is not a Claw WPC v1');
    const carried = CarriedWpc.safeParse(payload.data.metadata?.claw_jira);
    if (!carried.success) throw new WpcError('WPC_ENVELOPE_INVALID', 'the Claw WPC carries no claw-jira WPC (metadata.claw_jira.wpc)');
    const bytes = canonicalBytes(carried.data.wpc);
    const hash = hashAddress(bytes);
    if (carried.data.wpc_hash !== undefined && carried.data.wpc_hash !== hash) {
      throw new WpcError('WPC_HASH_MISMATCH', 'metadata.claw_jira.wpc_hash is not the hash of the WPC it carries');
    }
    if (carried.data.signature === undefined || carried.data.signature.trim() === '') {
      throw new WpcError('WPC_AUTHOR_SIGNATURE_MISSING', 'the WPC is signed by the registry only: its author\'s signature (metadata.claw_jira.signature) is missing');
    }
    return {
      bytes,
      signature: carried.data.signature,
      hash,
      issuerDid: payload.data.issuer_did,
      claw: { policy_hash_b64u: address, registry_did: this.registryDid },
    };
  }

  async #fetch(address: string): Promise<Record<string, unknown> | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(address)) throw new WpcError('WPC_NOT_FOUND', 'a clawcontrols address is a 43-character policy_hash_b64u');
    let status: number;
    let text: string;
    try {
      const response = await ky.get(new URL(`v1/wpc/${address}`, this.location), {
        timeout: this.#timeoutMs,
        retry: { limit: 2, methods: ['get'] },
        throwHttpErrors: false,
        redirect: 'error',
      });
      status = response.status;
      text = await response.text();
    } catch {
      throw new WpcError('WPC_UNREADABLE', `cannot reach the clawcontrols registry at ${this.location}`);
    }
    if (text.length > MAX_BODY) throw new WpcError('WPC_UNREADABLE', 'the clawcontrols answer is larger than 1 MiB');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new WpcError('WPC_UNREADABLE', `clawcontrols answered ${status} with a body that is not JSON`);
    }
    const record = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    if (status === 404) return undefined;
    if (status !== 200) {
      const error = record.error as { code?: unknown } | undefined;
      const code = typeof error?.code === 'string' ? error.code.slice(0, 64) : `HTTP_${status}`;
      throw new WpcError('WPC_UNREADABLE', `clawcontrols refused the lookup (${status} ${code})`);
    }
    return record;
  }
}

/** The Claw WPC v1 form of a signed Jira WPC: the body to POST to clawcontrols as `{"wpc": …}`. Keys sorted. */
export function clawWpcForm(wpc: { hash: string; source: unknown; signature: string }, authorDid: string): Record<string, unknown> {
  return sortKeysDeep({
    policy_version: '1',
    policy_id: `claw-jira.${wpc.hash.slice('sha256:'.length, 'sha256:'.length + 32)}`,
    issuer_did: authorDid,
    metadata: { claw_jira: { wpc: wpc.source, wpc_hash: wpc.hash, signature: wpc.signature } },
  });
}

/**
 * `https://clawcontrols.example#did:key:z…`: a registry URL whose fragment pins the registry's did:key names a
 * clawcontrols registry. The fragment never leaves this process (it is not part of the request).
 */
export function clawControlsFromLocation(location: string): ClawControlsBackend | undefined {
  const hashAt = location.indexOf('#');
  if (!/^https?:\/\//i.test(location) || hashAt < 0) return undefined;
  const did = decodeURIComponent(location.slice(hashAt + 1));
  if (!did.startsWith('did:')) return undefined;
  return new ClawControlsBackend(location.slice(0, hashAt), did);
}
