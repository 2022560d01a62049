/**
 * A local clawscope on loopback, following its API as PROTOCOL.md §3.2 states it (routes, bodies, errors):
 *   GET  /v1/jwks                      {keys: [{kty, crv, x, kid, alg, use, ext}]}, cache-control max-age=300
 *   GET  /v1/did                       {did: "did:web:clawscope.com", kid, public_key_b64u}
 *   POST /v1/tokens/issue[/canonical]  admin-gated; {sub, aud, scope[], ttl_sec | exp, …claims} →
 *                                      {token, token_hash (hex), token_lane, policy_hash_b64u, token_scope_hash_b64u, kid, iat, exp, claims}
 *   POST /v1/tokens/revoke             protected (X-CST with control:token:revoke); {token | token_hash, reason?} →
 *                                      {status: revoked|already_revoked, token_hash, revoked_at, revoked_at_iso, event_key}
 *   POST /v1/tokens/introspect         {token} → {active, revoked, token_hash, …claims, kid, kid_source, revoked_at?}
 *                                      errors {error: CODE, message}
 * Tokens: JWS `{alg: EdDSA, typ: JWT, kid}`, kid = 16 hex of SHA-256 of the raw key, jti and nonce random UUIDs.
 * Test-only switch: `outage` (the service answers 503, or drops the connection).
 */
import { createHash, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { canonicalize } from 'json-canonicalize';
import { startStub } from '../helpers/stub.js';

export interface ScopeKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  raw: Buffer;
  kid: string;
}

export function scopeKey(): ScopeKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  return { privateKey, publicKey, raw, kid: createHash('sha256').update(raw).digest('hex').slice(0, 16) };
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Sign claims as clawscope does; `header` overrides let tests forge what clawscope never would. */
export function signToken(key: ScopeKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const input = `${b64({ alg: 'EdDSA', typ: 'JWT', kid: key.kid, ...header })}.${b64(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
}

/**
 * clawscope's scope hash, written here independently of src/claw (a second reading of PROTOCOL.md §3.1), so the
 * lane's recomputation is checked against something it did not produce.
 */
export function scopeHashOf(claims: Record<string, unknown>): string {
  const list = (v: unknown): string[] => [...new Set((Array.isArray(v) ? v : [v]).map((s) => String(s).trim()).filter(Boolean))].sort();
  const x: Record<string, unknown> = { token_version: '1', sub: String(claims.sub).trim(), aud: list(claims.aud), scope: list(claims.scope) };
  for (const k of ['owner_ref', 'owner_did', 'controller_did', 'agent_did', 'policy_hash_b64u', 'control_plane_policy_hash_b64u', 'payment_account_did', 'mission_id', 'delegation_id', 'delegator_did', 'delegate_did', 'delegation_policy_hash_b64u']) {
    if (typeof claims[k] === 'string' && (claims[k] as string).trim() !== '') x[k] = (claims[k] as string).trim();
  }
  if (typeof claims.spend_cap === 'number' && claims.spend_cap >= 0) x.spend_cap = claims.spend_cap;
  return createHash('sha256').update(canonicalize(x)).digest('base64url');
}

const hex = (token: string): string => createHash('sha256').update(token).digest('hex');

export interface IssuedScopeToken {
  token: string;
  token_hash: string;
  token_scope_hash_b64u: string;
  claims: Record<string, unknown>;
}

export interface FakeClawscope {
  url: string;
  key: ScopeKey;
  outage: 'none' | '503' | 'drop';
  introspections: number;
  /** Hex hashes of every token introspection was asked about. */
  introspected: Set<string>;
  /** Issue through the real route (admin-gated), as an operator's issuer would. */
  issue(body: Record<string, unknown>): Promise<IssuedScopeToken>;
  /** Revoke through the real route, authorised by a canonical CST carrying control:token:revoke. */
  revoke(token: string): Promise<{ status: string; token_hash: string }>;
  jwks(): Promise<unknown>;
  close(): Promise<void>;
}

const OPTIONAL = ['owner_ref', 'owner_did', 'controller_did', 'agent_did', 'policy_hash_b64u', 'payment_account_did', 'spend_cap', 'mission_id'];

export async function startFakeClawscope(): Promise<FakeClawscope> {
  const key = scopeKey();
  const adminToken = randomUUID();
  const revoked = new Map<string, number>();

  const mint = (body: Record<string, unknown>, lane: 'legacy' | 'canonical'): IssuedScopeToken & Record<string, unknown> => {
    const iat = Math.floor(Date.now() / 1000);
    const exp = typeof body.exp === 'number' ? body.exp : iat + (typeof body.ttl_sec === 'number' ? body.ttl_sec : 600);
    const claims: Record<string, unknown> = { token_version: '1', sub: body.sub, aud: body.aud, scope: body.scope, iat, exp, token_lane: lane };
    for (const k of OPTIONAL) if (body[k] !== undefined) claims[k] = body[k];
    claims.token_scope_hash_b64u = scopeHashOf(claims);
    claims.jti = randomUUID();
    claims.nonce = randomUUID();
    const token = signToken(key, claims);
    return {
      token,
      token_hash: hex(token),
      token_lane: lane,
      policy_hash_b64u: claims.policy_hash_b64u,
      token_scope_hash_b64u: claims.token_scope_hash_b64u as string,
      kid: key.kid,
      iat,
      exp,
      claims,
    };
  };

  /** clawscope's own check of a token (introspection and protected routes), with its error codes. */
  const check = (token: unknown): { ok: true; claims: Record<string, unknown> } | { ok: false; status: number; error: string } => {
    if (typeof token !== 'string' || token.split('.').length !== 3) return { ok: false, status: 400, error: 'TOKEN_MALFORMED' };
    const [h, p, s] = token.split('.') as [string, string, string];
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return { ok: false, status: 400, error: 'TOKEN_MALFORMED' };
    }
    if (header.alg !== 'EdDSA') return { ok: false, status: 400, error: 'TOKEN_UNSUPPORTED_ALG' };
    if (header.kid !== key.kid) return { ok: false, status: 401, error: 'TOKEN_UNKNOWN_KID' };
    if (!verify(null, Buffer.from(`${h}.${p}`), key.publicKey, Buffer.from(s, 'base64url'))) return { ok: false, status: 401, error: 'TOKEN_SIGNATURE_INVALID' };
    if (claims.token_version !== '1') return { ok: false, status: 400, error: 'TOKEN_UNKNOWN_VERSION' };
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || !Array.isArray(claims.scope)) return { ok: false, status: 400, error: 'TOKEN_INVALID_CLAIMS' };
    if (claims.exp <= Math.floor(Date.now() / 1000)) return { ok: false, status: 401, error: 'TOKEN_EXPIRED' };
    return { ok: true, claims };
  };

  function issueRoute(body: Record<string, unknown>, req: IncomingMessage, lane: 'legacy' | 'canonical'): [number, unknown] {
    if (req.headers.authorization !== `Bearer ${adminToken}`) return [401, { error: 'UNAUTHORIZED', message: 'admin token required' }];
    if (typeof body.sub !== 'string' || body.aud === undefined || !Array.isArray(body.scope) || body.scope.length === 0) {
      return [400, { error: 'INVALID_REQUEST', message: 'sub, aud and scope[] are required' }];
    }
    return [200, mint(body, lane)];
  }

  const routes: Record<string, (body: Record<string, unknown>, req: IncomingMessage) => [number, unknown]> = {
    'GET /v1/jwks': () => [200, { keys: [{ kty: 'OKP', crv: 'Ed25519', x: key.raw.toString('base64url'), kid: key.kid, alg: 'EdDSA', use: 'sig', ext: true }] }],
    'GET /v1/did': () => [200, { did: 'did:web:clawscope.com', kid: key.kid, public_key_b64u: key.raw.toString('base64url') }],
    'POST /v1/tokens/issue': (body, req) => issueRoute(body, req, 'legacy'),
    'POST /v1/tokens/issue/canonical': (body, req) => issueRoute(body, req, 'canonical'),
    'POST /v1/tokens/revoke': (body, req) => {
      const caller = check(req.headers['x-cst'] ?? req.headers['x-scoped-token']);
      if (!caller.ok) return [401, { error: 'UNAUTHORIZED', message: 'a canonical CST is required' }];
      if (!(caller.claims.scope as string[]).includes('control:token:revoke')) return [403, { error: 'TOKEN_INSUFFICIENT_SCOPE', message: 'control:token:revoke required' }];
      const tokenHash = typeof body.token === 'string' ? hex(body.token) : body.token_hash;
      if (typeof tokenHash !== 'string' || !/^[0-9a-f]{64}$/.test(tokenHash)) return [400, { error: 'INVALID_REQUEST', message: 'token or token_hash (64 hex) required' }];
      const already = revoked.has(tokenHash);
      const at = revoked.get(tokenHash) ?? Math.floor(Date.now() / 1000);
      revoked.set(tokenHash, at);
      return [200, { status: already ? 'already_revoked' : 'revoked', token_hash: tokenHash, revoked_at: at, revoked_at_iso: new Date(at * 1000).toISOString(), event_key: `revocation:${tokenHash}` }];
    },
    'POST /v1/tokens/introspect': (body) => {
      fake.introspections += 1;
      if (typeof body.token === 'string') fake.introspected.add(hex(body.token));
      const checked = check(body.token);
      if (!checked.ok) return [checked.status, { error: checked.error, message: `token refused: ${checked.error}` }];
      const tokenHash = hex(body.token as string);
      const at = revoked.get(tokenHash);
      return [
        200,
        {
          active: at === undefined,
          revoked: at !== undefined,
          token_hash: tokenHash,
          ...checked.claims,
          kid: key.kid,
          kid_source: 'header',
          ...(at !== undefined ? { revoked_at: at, revoked_at_iso: new Date(at * 1000).toISOString() } : {}),
        },
      ];
    },
  };

  const server = await startStub((recorded, res, req) => {
    if (fake.outage === 'drop') {
      req.socket.destroy();
      return;
    }
    const send = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(value));
    };
    if (fake.outage === '503') return send(503, { error: 'SERVICE_UNAVAILABLE', message: 'down for the test' });
    const route = routes[`${req.method} ${(req.url ?? '').split('?')[0]}`];
    if (!route) return send(404, { error: 'NOT_FOUND', message: 'no such route' });
    let body: Record<string, unknown> = {};
    if (req.method === 'POST') {
      try {
        body = JSON.parse(recorded.body || '{}') as Record<string, unknown>;
      } catch {
        return send(400, { error: 'INVALID_JSON', message: 'body is not JSON' });
      }
    }
    const [status, value] = route(body, req);
    send(status, value, req.url === '/v1/jwks' ? { 'cache-control': 'public, max-age=300' } : {});
  });
  const url = server.url;

  const post = async (path: string, body: unknown, headers: Record<string, string>): Promise<unknown> => {
    const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const json: unknown = await response.json();
    if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };

  const fake: FakeClawscope = {
    url,
    key,
    outage: 'none',
    introspections: 0,
    introspected: new Set(),
    issue: async (body) => (await post('/v1/tokens/issue/canonical', body, { authorization: `Bearer ${adminToken}` })) as IssuedScopeToken,
    revoke: async (token) => {
      const controller = mint({ sub: 'did:key:operator', aud: 'clawscope.com', scope: ['control:token:revoke'], ttl_sec: 60 }, 'canonical').token;
      return (await post('/v1/tokens/revoke', { token, reason: 'test' }, { 'x-cst': controller })) as { status: string; token_hash: string };
    },
    jwks: async () => (await fetch(`${url}/v1/jwks`)).json(),
    close: () => server.close(),
  };
  return fake;
}
