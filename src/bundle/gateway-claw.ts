import { z } from 'zod';
import { verifyEnvelope } from '../claw/envelope.js';
import { BundleError } from './errors.js';
import type { GatewayEntry, GatewayKeys, GatewayProblem } from './gateway-types.js';

/**
 * clawproxy's gateway receipts, natively (PROTOCOL.md §4): SignedEnvelope `gateway_receipt`, the signer a did:key
 * of the operator's allowlist, `payload_hash_b64u = sha256_b64u(JSON.stringify(payload))` and Ed25519 over that
 * hash string. Each receipt is kept as the exact text clawproxy wrote: re-serialising a foreign envelope can
 * change its JSON.stringify order and so its hash.
 */
type Problem = Omit<GatewayProblem, 'line'>;
type Entry = Omit<GatewayEntry, 'line'>;

const b64u = z.string().min(8).regex(/^[A-Za-z0-9_-]+$/);
/** gateway_receipt.v1.json, strict at the top as the schema is. */
const GatewayReceiptPayload = z.strictObject({
  receipt_version: z.literal('1'),
  receipt_id: z.string().min(1),
  gateway_id: z.string().min(1),
  provider: z.string().min(1),
  model: z.string().min(1),
  request_hash_b64u: b64u,
  response_hash_b64u: b64u,
  tokens_input: z.number(),
  tokens_output: z.number(),
  latency_ms: z.number(),
  timestamp: z.string().refine((t) => Number.isFinite(Date.parse(t)), 'a date-time'),
  binding: z.looseObject({ run_id: z.string().optional(), event_hash_b64u: z.string().optional() }).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Read one stored receipt line without checking its signature (review and report show it; verify checks it). */
export function decodeClawReceipt(line: string): { entry: Entry; envelope: Record<string, unknown> } | Problem {
  const envelope = parseObject(line);
  if (!envelope || envelope.envelope_type !== 'gateway_receipt') return { code: 'GATEWAY_MALFORMED', message: 'not a clawproxy gateway_receipt envelope' };
  const payload = GatewayReceiptPayload.safeParse(envelope.payload);
  if (!payload.success) {
    const issue = payload.error.issues[0];
    return { code: 'GATEWAY_PAYLOAD_INVALID', message: `not a gateway_receipt v1 payload: ${issue ? issue.path.join('.') || '(root)' : ''}: ${issue?.message ?? ''}`, reason_code: 'SCHEMA_VALIDATION_FAILED' };
  }
  const p = payload.data;
  const binding = p.binding
    ? { ...(p.binding.run_id !== undefined ? { run_id: p.binding.run_id } : {}), ...(p.binding.event_hash_b64u !== undefined ? { event_hash_b64u: p.binding.event_hash_b64u } : {}) }
    : undefined;
  return {
    envelope,
    entry: {
      kid: typeof envelope.signer_did === 'string' ? envelope.signer_did : '',
      receipt_id: p.receipt_id,
      ...(binding ? { binding } : {}),
      time: new Date(Date.parse(p.timestamp)).toISOString(),
      model: p.model,
      provider: p.provider,
      request_hash: p.request_hash_b64u,
      response_hash: p.response_hash_b64u,
      payload: p as Record<string, unknown>,
    },
  };
}

/** Verify one receipt line: allowlisted signer, then the envelope exactly as the Claw verifier checks it. */
export function verifyClawReceipt(line: string, keys: GatewayKeys): Entry | Problem {
  const decoded = decodeClawReceipt(line);
  if ('code' in decoded) return decoded;
  const signer = decoded.entry.kid;
  if (!keys.dids.has(signer)) {
    return { code: 'GATEWAY_UNKNOWN_KEY', message: `signed by ${signer.slice(0, 80)}, not in the gateway signer allowlist`, reason_code: 'CLAIM_NOT_FOUND' };
  }
  const checked = verifyEnvelope(decoded.envelope, { expectedType: 'gateway_receipt' });
  if (!checked.ok) {
    const code = checked.reason_code === 'HASH_MISMATCH' ? 'GATEWAY_HASH_MISMATCH' : checked.reason_code === 'SIGNATURE_INVALID' ? 'GATEWAY_BAD_SIGNATURE' : 'GATEWAY_MALFORMED';
    return { code, message: `${checked.reason_code}: ${checked.message}`, reason_code: checked.reason_code };
  }
  return decoded.entry;
}

const SSE_ENVELOPE_PREFIX = ':clawproxy_receipt_envelope_b64u=';

/**
 * The receipt envelopes in what clawproxy emitted, each as the exact JSON text it wrote, one per line:
 * - an SSE stream: the comment line `:clawproxy_receipt_envelope_b64u=<base64url(JSON)>` (decoded bytes kept);
 * - a JSON response carrying `_receipt_envelope` (a pretty-printed one is written compactly: key order and every
 *   value kept, which is all the verifier's hash depends on; counted in `reserialized`);
 * - JSONL: one envelope or one JSON response per line (lines kept as they are).
 * Undefined when the text is none of these (the JWS-per-line format then applies).
 */
export function extractClawproxyReceipts(text: string): { lines: string[]; reserialized: number } | undefined {
  const lines: string[] = [];
  let reserialized = 0;
  if (text.includes(SSE_ENVELOPE_PREFIX)) {
    for (const raw of text.split(/\r?\n/)) {
      if (!raw.startsWith(SSE_ENVELOPE_PREFIX)) continue;
      const encoded = raw.slice(SSE_ENVELOPE_PREFIX.length).trim();
      const json = Buffer.from(encoded, 'base64url').toString('utf8');
      if (!/^[A-Za-z0-9_-]+$/.test(encoded) || parseObject(json) === undefined || json.includes('\n')) {
        throw new BundleError('GATEWAY_INVALID', 'an SSE receipt comment line does not hold base64url JSON');
      }
      lines.push(json);
    }
    return { lines, reserialized };
  }
  const first = text.trimStart();
  if (!first.startsWith('{')) return undefined;
  const whole = parseObject(text);
  if (whole) {
    const envelope = whole._receipt_envelope ?? (whole.envelope_type !== undefined ? whole : undefined);
    if (envelope === undefined) throw new BundleError('GATEWAY_INVALID', 'the JSON response carries no _receipt_envelope');
    const compact = JSON.stringify(envelope);
    if (!text.includes(compact)) reserialized += 1;
    lines.push(compact);
    return { lines, reserialized };
  }
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const value = parseObject(line);
    if (!value) throw new BundleError('GATEWAY_INVALID', `line ${i + 1} is not a JSON object`);
    if (value._receipt_envelope !== undefined) {
      const compact = JSON.stringify(value._receipt_envelope);
      if (!line.includes(compact)) reserialized += 1;
      lines.push(compact);
    } else lines.push(line.trim());
  });
  return { lines, reserialized };
}
