import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { thumbprint, PublicJwkSchema } from '../keys/ed25519.js';
import { didKeyFromJwkX, publicKeyFromDidKey } from '../claw/did-key.js';
import { b64uEncode } from '../claw/hash.js';
import { decodeClawReceipt, extractClawproxyReceipts, verifyClawReceipt } from './gateway-claw.js';
import { writeFileAtomic } from '../util/files.js';
import { BundleError } from './errors.js';
import { BUNDLE, gatewayJwksPath, isSealed } from './layout.js';
import type { GatewayEntry, GatewayKeys, GatewayProblem } from './gateway-types.js';

/**
 * Model-gateway receipts (one signed record per model call, as an LLM gateway such as clawproxy emits them).
 * Format accepted here: one compact JWS per line, `alg: EdDSA` with a `kid` naming a key of the gateway's
 * JWKS; the payload is a JSON object with the call's time (`timestamp` ISO string, or `ts`/`iat`), `model`,
 * and the request and response hashes (`requestHash`/`request_hash`, `responseHash`/`response_hash`); clawproxy's
 * other members (`provider`, `latencyMs`, `binding.runId`, `binding.policyHash`, ...) are kept as they are.
 */
export type { GatewayEntry, GatewayKeys, GatewayProblem } from './gateway-types.js';

const JwksSchema = z.looseObject({ keys: z.array(z.unknown()).min(1) });
const JwkEntrySchema = z.looseObject({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string().optional() });

const ClawAllowlistSchema = z.looseObject({
  allowlists: z.looseObject({ gateway_receipt_signer_dids: z.array(z.string()).min(1) }).optional(),
  gateway_receipt_signer_dids: z.array(z.string()).min(1).optional(),
});

/**
 * The gateway keys an operator or auditor trusts: a JWKS (kids of JWS receipts; each key's did:key is also an
 * allowed envelope signer, and a JWKS entry may name its did:key as kid), or a Claw allowlist in clawverify's
 * config shape (`{"config_version":"1","allowlists":{"gateway_receipt_signer_dids":[…]}}`) or the bare
 * `{"gateway_receipt_signer_dids":[…]}`.
 */
export async function parseGatewayKeys(json: unknown, extraDids: readonly string[] = []): Promise<GatewayKeys> {
  const keys = new Map<string, KeyObject>();
  const dids = new Set<string>();
  const addDid = (did: string): void => {
    try {
      publicKeyFromDidKey(did);
    } catch {
      throw new BundleError('GATEWAY_KEYS_INVALID', `gateway signer ${did.slice(0, 80)} is not an Ed25519 did:key`);
    }
    dids.add(did);
  };
  extraDids.forEach(addDid);
  const allowlist = ClawAllowlistSchema.safeParse(json);
  const listed = allowlist.success ? (allowlist.data.allowlists?.gateway_receipt_signer_dids ?? allowlist.data.gateway_receipt_signer_dids) : undefined;
  if (listed) {
    listed.forEach(addDid);
    return { keys, dids, jwks: didJwks([...dids]) };
  }
  if (json === undefined && dids.size > 0) return { keys, dids, jwks: didJwks([...dids]) };
  const parsed = JwksSchema.safeParse(json);
  if (!parsed.success) throw new BundleError('GATEWAY_KEYS_INVALID', 'the gateway keys are neither a JWKS ({"keys":[...]}) nor a Claw allowlist (gateway_receipt_signer_dids)');
  for (const raw of parsed.data.keys) {
    const entry = JwkEntrySchema.safeParse(raw);
    // Keys of other types may share a JWKS; only Ed25519 keys can verify EdDSA receipts.
    if (!entry.success) continue;
    const pub = PublicJwkSchema.safeParse({ kty: 'OKP', crv: 'Ed25519', x: entry.data.x });
    if (!pub.success) throw new BundleError('GATEWAY_KEYS_INVALID', 'a gateway key is not a valid Ed25519 public JWK');
    const did = didKeyFromJwkX(pub.data.x);
    if (entry.data.kid?.startsWith('did:') && entry.data.kid !== did) {
      throw new BundleError('GATEWAY_KEYS_INVALID', `gateway JWKS kid ${entry.data.kid.slice(0, 80)} is not the did:key of its key`);
    }
    const kid = entry.data.kid ?? (await thumbprint(pub.data));
    keys.set(kid, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pub.data.x }, format: 'jwk' }));
    dids.add(did);
  }
  if (keys.size === 0 && dids.size === 0) throw new BundleError('GATEWAY_KEYS_INVALID', 'the gateway JWKS holds no Ed25519 key');
  return { keys, dids, jwks: parsed.data };
}

/** A JWKS naming each did:key signer (kid = the did): the informative copy written beside claw receipts. */
function didJwks(dids: string[]): { keys: unknown[] } {
  return { keys: [...new Set(dids)].sort().map((did) => ({ kty: 'OKP', crv: 'Ed25519', x: b64uEncode(publicKeyFromDidKey(did)), kid: did, use: 'sig' })) };
}

export async function loadGatewayKeys(path: string | undefined, extraDids: readonly string[] = []): Promise<GatewayKeys> {
  let json: unknown;
  if (path !== undefined) {
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      throw new BundleError('GATEWAY_KEYS_INVALID', `cannot read the gateway keys ${path}`);
    }
  }
  return parseGatewayKeys(json, extraDids);
}

const hashLike = z.string().min(8).max(256);
const PayloadSchema = z.looseObject({
  timestamp: z.union([z.string(), z.number()]).optional(),
  ts: z.union([z.string(), z.number()]).optional(),
  iat: z.number().optional(),
  model: z.string().min(1).max(256),
  provider: z.string().max(128).optional(),
  requestHash: hashLike.optional(),
  request_hash: hashLike.optional(),
  responseHash: hashLike.optional(),
  response_hash: hashLike.optional(),
});

/** Verify every line of a gateway receipt file against the keys; problems name the line. */
export function verifyGatewayText(text: string, keys: GatewayKeys): { entries: GatewayEntry[]; problems: GatewayProblem[] } {
  const entries: GatewayEntry[] = [];
  const problems: GatewayProblem[] = [];
  if (text.length === 0) return { entries, problems: [{ line: 1, code: 'GATEWAY_EMPTY', message: 'the gateway receipt file is empty' }] };
  const lines = text.split('\n');
  const truncated = lines.at(-1) !== '';
  if (!truncated) lines.pop();
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (truncated && i === lines.length - 1) {
      problems.push({ line, code: 'GATEWAY_TRUNCATED', message: 'the last line is incomplete (no final newline)' });
      return;
    }
    const result = raw.trim().startsWith('{') ? verifyClawReceipt(raw.trim(), keys) : verifyGatewayLine(raw.trim(), keys);
    if ('code' in result) problems.push({ line, ...result });
    else entries.push({ line, ...result });
  });
  return { entries, problems };
}

type LineResult = Omit<GatewayEntry, 'line'> | Omit<GatewayProblem, 'line'>;

function verifyGatewayLine(jws: string, keys: GatewayKeys): LineResult {
  const parts = jws.split('.');
  if (parts.length !== 3) return { code: 'GATEWAY_MALFORMED', message: 'not a compact JWS' };
  const [h, p, s] = parts as [string, string, string];
  const header = decodeHeader(h);
  if ('code' in header) return header;
  const key = keys.keys.get(header.kid);
  if (!key) return { code: 'GATEWAY_UNKNOWN_KEY', message: `signed by key ${header.kid}, not in the gateway JWKS` };
  let ok = false;
  try {
    ok = verify(null, Buffer.from(`${h}.${p}`, 'ascii'), key, Buffer.from(s, 'base64url'));
  } catch {
    ok = false;
  }
  if (!ok) return { code: 'GATEWAY_BAD_SIGNATURE', message: 'the signature does not verify (content changed)' };
  return decodePayload(header.kid, p);
}

/** Read gateway receipts without checking signatures (review and report show them; verify checks them). */
export function readGatewayEntries(text: string): GatewayEntry[] {
  const entries: GatewayEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim().startsWith('{')) {
      const claw = decodeClawReceipt(raw.trim());
      if (!('code' in claw)) entries.push({ line: i + 1, ...claw.entry });
      return;
    }
    const parts = raw.trim().split('.');
    if (parts.length !== 3) return;
    const header = decodeHeader(parts[0] as string);
    if ('code' in header) return;
    const result = decodePayload(header.kid, parts[1] as string);
    if (!('code' in result)) entries.push({ line: i + 1, ...result });
  });
  return entries;
}

function decodeHeader(h: string): { kid: string } | Omit<GatewayProblem, 'line'> {
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return { code: 'GATEWAY_MALFORMED', message: 'the JWS header is not JSON' };
  }
  if (header.alg !== 'EdDSA' || typeof header.kid !== 'string' || 'crit' in header || header.b64 === false) {
    return { code: 'GATEWAY_MALFORMED', message: 'the JWS header must be alg EdDSA with a kid' };
  }
  return { kid: header.kid };
}

function decodePayload(kid: string, p: string): LineResult {
  let payload: z.infer<typeof PayloadSchema>;
  try {
    payload = PayloadSchema.parse(JSON.parse(Buffer.from(p, 'base64url').toString('utf8')));
  } catch {
    return { code: 'GATEWAY_PAYLOAD_INVALID', message: 'the payload needs model, request and response hashes and a time' };
  }
  const time = callTime(payload);
  const request = payload.requestHash ?? payload.request_hash;
  const response = payload.responseHash ?? payload.response_hash;
  if (time === undefined || request === undefined || response === undefined) {
    return { code: 'GATEWAY_PAYLOAD_INVALID', message: 'the payload needs model, request and response hashes and a time' };
  }
  return {
    kid,
    time,
    model: payload.model,
    ...(payload.provider !== undefined ? { provider: payload.provider } : {}),
    request_hash: request,
    response_hash: response,
    payload: payload as Record<string, unknown>,
  };
}

/** The call's time as ISO 8601, from an ISO string or epoch seconds/milliseconds. */
function callTime(payload: z.infer<typeof PayloadSchema>): string | undefined {
  const raw = payload.timestamp ?? payload.ts ?? payload.iat;
  if (raw === undefined) return undefined;
  const ms = typeof raw === 'number' ? (raw < 1e11 ? raw * 1000 : raw) : Date.parse(raw);
  if (!Number.isFinite(ms)) return undefined;
  return new Date(ms).toISOString();
}

export interface ImportGatewayOptions {
  keys: GatewayKeys;
  /** File name in gateway/ (default: the source's base name). */
  name?: string;
}

export interface ImportedGateway {
  path: string;
  jwksPath: string;
  count: number;
  entries: GatewayEntry[];
  /** clawproxy receipts taken from a pretty-printed JSON response and written compactly (key order and values kept). */
  reserialized?: number;
}

/** Where clawproxy receipt envelopes live in a bundle, one per line, bytes as clawproxy wrote them (the Claw export reads it). */
const CLAW_RECEIPTS_FILE = `${BUNDLE.gateway}/claw-receipts.jsonl`;

/**
 * Verify clawproxy receipt envelopes and add them to gateway/claw-receipts.jsonl (appended: several imports
 * before the seal accumulate; a receipt id seen twice is refused). All or nothing, like the JWS import.
 */
function importClawReceipts(bundleDir: string, sourceName: string, claw: { lines: string[]; reserialized: number }, keys: GatewayKeys): ImportedGateway {
  if (claw.lines.length === 0) throw new BundleError('GATEWAY_INVALID', `${sourceName}: no clawproxy receipt envelope found`);
  const file = join(bundleDir, CLAW_RECEIPTS_FILE);
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const seen = new Set(readGatewayEntries(existing).map((e) => e.receipt_id).filter((id): id is string => id !== undefined));
  const entries: GatewayEntry[] = [];
  const problems: GatewayProblem[] = [];
  claw.lines.forEach((text, i) => {
    const result = verifyClawReceipt(text, keys);
    if ('code' in result) problems.push({ line: i + 1, ...result });
    else if (result.receipt_id !== undefined && seen.has(result.receipt_id)) {
      problems.push({ line: i + 1, code: 'GATEWAY_DUPLICATE', message: `receipt ${result.receipt_id.slice(0, 80)} is already in the bundle (replayed)` });
    } else {
      if (result.receipt_id !== undefined) seen.add(result.receipt_id);
      entries.push({ line: i + 1, ...result });
    }
  });
  const first = problems[0];
  if (first) {
    throw new BundleError('GATEWAY_INVALID', `${sourceName}:${first.line}: ${first.code}: ${first.message}`, { problems });
  }
  const jwksPath = gatewayJwksPath(CLAW_RECEIPTS_FILE);
  const signers = new Set([...gatewayKids(existing), ...entries.map((e) => e.kid)]);
  // Informative only: verify checks against the auditor's own keys, never this copy.
  writeFileAtomic(join(bundleDir, jwksPath), `${JSON.stringify(didJwks([...signers]), null, 2)}\n`);
  const prefix = existing === '' || existing.endsWith('\n') ? existing : `${existing}\n`;
  writeFileAtomic(join(bundleDir, CLAW_RECEIPTS_FILE), `${prefix}${claw.lines.join('\n')}\n`);
  return { path: CLAW_RECEIPTS_FILE, jwksPath, count: entries.length, entries, ...(claw.reserialized > 0 ? { reserialized: claw.reserialized } : {}) };
}

/**
 * Verify a gateway receipt file and copy it, byte for byte, into gateway/<name>.jsonl with the JWKS it was
 * checked against beside it. All or nothing: one bad line refuses the whole import, naming the line. Only an
 * unsealed bundle takes imports: what the seal covers cannot grow.
 */
export function importGatewayReceipts(bundleDir: string, source: string, options: ImportGatewayOptions): ImportedGateway {
  if (!existsSync(bundleDir)) throw new BundleError('BUNDLE_NOT_FOUND', `no bundle folder at ${bundleDir}`);
  if (isSealed(bundleDir)) throw new BundleError('BUNDLE_ALREADY_SEALED', 'the bundle is sealed: import gateway receipts before sealing');
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch {
    throw new BundleError('GATEWAY_INVALID', `cannot read ${source}`);
  }
  const claw = extractClawproxyReceipts(text);
  if (claw) return importClawReceipts(bundleDir, basename(source), claw, options.keys);
  const { entries, problems } = verifyGatewayText(text, options.keys);
  const first = problems[0];
  if (first) {
    throw new BundleError('GATEWAY_INVALID', `${basename(source)}:${first.line}: ${first.code}: ${first.message}`, { problems });
  }
  const name = (options.name ?? basename(source).replace(/\.[^.]*$/, '')).replace(/[^A-Za-z0-9._-]/g, '_');
  if (name === '' || name.startsWith('.')) throw new BundleError('GATEWAY_INVALID', 'the gateway file name must not be empty or start with a dot');
  const path = `${BUNDLE.gateway}/${name}.jsonl`;
  const jwksPath = gatewayJwksPath(path);
  if (existsSync(join(bundleDir, path))) throw new BundleError('GATEWAY_INVALID', `${path} already exists; choose another --name`);
  writeFileAtomic(join(bundleDir, jwksPath), `${JSON.stringify(options.keys.jwks, null, 2)}\n`, { exclusive: true });
  writeFileAtomic(join(bundleDir, path), text, { exclusive: true });
  return { path, jwksPath, count: entries.length, entries };
}

/** kids named by the JWS headers of a gateway file, without verifying (for the manifest's key list). */
export function gatewayKids(text: string): string[] {
  const kids = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.trim().startsWith('{')) {
      const claw = decodeClawReceipt(line.trim());
      if (!('code' in claw)) kids.add(claw.entry.kid);
      continue;
    }
    const h = line.trim().split('.')[0];
    if (!h) continue;
    try {
      const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { kid?: unknown };
      if (typeof header.kid === 'string') kids.add(header.kid);
    } catch {
      // Not a JWS line: verify reports it.
    }
  }
  return [...kids].sort();
}

/** What the bundle's informative key copy lists that the verifier's own key set does not (a warning, never a key). */
export function gatewayCopyNotes(path: string, jwksPath: string, bytes: Uint8Array, own: GatewayKeys): string[] {
  let listed: string[];
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as { keys?: Array<{ kid?: unknown; x?: unknown }> };
    listed = (json.keys ?? []).flatMap((k) => (typeof k.kid === 'string' ? [k.kid] : typeof k.x === 'string' ? [didKeyFromJwkX(k.x)] : []));
  } catch {
    return [`${jwksPath} (the bundle's copy of the gateway keys of ${path}) is not readable; it is informative only`];
  }
  const unknown = listed.filter((kid) => !own.keys.has(kid) && !own.dids.has(kid));
  return unknown.length === 0 ? [] : [`${jwksPath} lists gateway key(s) your gateway key set does not trust: ${unknown.join(', ')} (informative only; receipts were checked against your keys)`];
}
