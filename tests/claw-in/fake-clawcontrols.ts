/**
 * A local clawcontrols (Claw's WPC registry) on loopback, following its API as PROTOCOL.md §2.3 states it:
 *   POST /v1/wpc {"wpc": <WPC v1>}  strict v1 shape (v2 refused INVALID_WPC), ≤64 KiB; 201 {ok, existed: false,
 *                                    policy_hash_b64u, envelope} or 200 {existed: true}; content addressed
 *   GET  /v1/wpc/:policy_hash_b64u   200 {ok, policy_hash_b64u, envelope}; {ok: false, error: {code, message}} with
 *                                    INVALID_POLICY_HASH (400), WPC_NOT_FOUND (404), WPC_CORRUPTED (500, re-hashed on read)
 *   GET  /health
 * The envelope: `work_policy_contract`, payload_hash_b64u = policy_hash_b64u = sha256_b64u(JCS(payload)), signed by
 * the registry's did:key. Auth for POST is the legacy admin bearer (CONTROL_REQUIRE_CANONICAL_CST=false): the
 * canonical-CST path needs clawverify, which the tests do not run.
 * Test-only: `serve(hash, body)` makes the registry answer anything (a compromised or buggy registry).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createEnvelope, envelopeSigner, type EnvelopeSigner } from '../../src/claw/envelope.js';
import { jcsHashB64u } from '../../src/claw/hash.js';
import { generateSigningKey, signingKeyFromJwk } from '../../src/keys/ed25519.js';
import { startStub } from '../helpers/stub.js';

export interface FakeClawcontrols {
  url: string;
  did: string;
  adminToken: string;
  signer: EnvelopeSigner;
  publish(wpc: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Answer GET /v1/wpc/<hash> with this status and body, whatever is stored. */
  serve(hash: string, status: number, body: unknown): void;
  /** Change a stored payload behind the registry's back (its re-hash on read then answers WPC_CORRUPTED). */
  corrupt(hash: string): void;
  close(): Promise<void>;
}

export async function newEnvelopeSigner(): Promise<EnvelopeSigner> {
  return envelopeSigner(await signingKeyFromJwk((await generateSigningKey()).privateJwk));
}

export async function startFakeClawcontrols(): Promise<FakeClawcontrols> {
  const signer = await newEnvelopeSigner();
  const adminToken = randomUUID();
  const stored = new Map<string, { payload: Record<string, unknown>; issued_at: string }>();
  const overrides = new Map<string, { status: number; body: unknown }>();

  const envelopeOf = (payload: Record<string, unknown>, issuedAt: string) => createEnvelope('work_policy_contract', payload, signer, { issuedAt, hashMode: 'jcs' });
  const error = (code: string, message: string) => ({ ok: false, error: { code, message } });

  const handle = (req: IncomingMessage, body: string): [number, unknown] => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (req.method === 'GET' && path === '/health') return [200, { ok: true, service: 'clawcontrols' }];
    if (req.method === 'POST' && path === '/v1/wpc') {
      if (req.headers.authorization !== `Bearer ${adminToken}`) return [401, error('UNAUTHORIZED', 'admin token required')];
      if (body.length > 64 * 1024) return [413, error('PAYLOAD_TOO_LARGE', 'body over 64 KiB')];
      let parsed: { wpc?: Record<string, unknown> };
      try {
        parsed = JSON.parse(body) as { wpc?: Record<string, unknown> };
      } catch {
        return [400, error('INVALID_JSON', 'body is not JSON')];
      }
      const wpc = parsed.wpc;
      if (!wpc || wpc.policy_version !== '1' || typeof wpc.policy_id !== 'string' || typeof wpc.issuer_did !== 'string' || !wpc.issuer_did.startsWith('did:')) {
        return [400, error('INVALID_WPC', 'not a WPC v1')];
      }
      const hash = jcsHashB64u(wpc);
      const existing = stored.get(hash);
      const record = existing ?? { payload: wpc, issued_at: new Date().toISOString() };
      stored.set(hash, record);
      return [existing ? 200 : 201, { ok: true, existed: existing !== undefined, policy_hash_b64u: hash, envelope: envelopeOf(record.payload, record.issued_at) }];
    }
    const match = /^\/v1\/wpc\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && match) {
      const hash = match[1] as string;
      const override = overrides.get(hash);
      if (override) return [override.status, override.body];
      if (!/^[A-Za-z0-9_-]{43}$/.test(hash)) return [400, error('INVALID_POLICY_HASH', 'policy_hash_b64u must be 43 base64url characters')];
      const record = stored.get(hash);
      if (!record) return [404, error('WPC_NOT_FOUND', 'no such WPC')];
      if (jcsHashB64u(record.payload) !== hash) return [500, error('WPC_CORRUPTED', 'stored WPC does not hash to its address')];
      return [200, { ok: true, policy_hash_b64u: hash, envelope: envelopeOf(record.payload, record.issued_at) }];
    }
    return [404, error('NOT_FOUND', 'no such route')];
  };

  const server = await startStub((recorded, res, req) => {
    const [status, value] = handle(req, recorded.body);
    res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
    res.end(typeof value === 'string' ? value : JSON.stringify(value));
  });
  const url = server.url;
  return {
    url,
    did: signer.did,
    adminToken,
    signer,
    publish: async (wpc) => {
      const response = await fetch(`${url}/v1/wpc`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ wpc }) });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    serve: (hash, status, body) => overrides.set(hash, { status, body }),
    corrupt: (hash) => {
      const record = stored.get(hash);
      if (record) record.payload = { ...record.payload, policy_id: `${String(record.payload.policy_id)}-changed` };
    },
    close: () => server.close(),
  };
}
