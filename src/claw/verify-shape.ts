/**
 * The structural part of the reference verifier's strict schema step (PROTOCOL.md §6.3 step 2, `proof_bundle`
 * envelope v1): required members, closed member sets, enums, base64url and date-time forms, for everything a
 * proof bundle may carry that claw-jira produces or reads (events, gateway receipts, tool receipts v1/v2 and
 * their envelopes, side-effect and approval receipts, rate-limit claims, harness metadata). Written from the
 * schemas' rules, not generated from them; the tests check it against ajv with the protocol's own schemas.
 */
type Json = Record<string, unknown>;

const B64U = /^[A-Za-z0-9_-]+$/;
const DID = /^did:/;

export function isRecord(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function isDateTime(value: unknown): value is string {
  return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(value) && Number.isFinite(Date.parse(value));
}

const isB64u = (v: unknown, min = 8): boolean => typeof v === 'string' && v.length >= min && B64U.test(v);
const isStr = (v: unknown, min = 1): boolean => typeof v === 'string' && v.length >= min;
const isNum = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** First problem as a JSON path, or undefined when the value has the shape. */
type Check = (value: unknown, path: string) => string | undefined;

function closed(value: unknown, path: string, allowed: readonly string[], required: readonly string[]): string | undefined {
  if (!isRecord(value)) return `${path} must be an object`;
  for (const key of Object.keys(value)) if (!allowed.includes(key)) return `${path}.${key} is not allowed`;
  for (const key of required) if (!(key in value)) return `${path}.${key} is required`;
  return undefined;
}

function fields(value: Json, path: string, rules: Record<string, (v: unknown) => boolean>): string | undefined {
  for (const [key, ok] of Object.entries(rules)) if (key in value && !ok(value[key])) return `${path}.${key} is invalid`;
  return undefined;
}

const ENVELOPE_KEYS = ['envelope_version', 'envelope_type', 'payload', 'payload_hash_b64u', 'hash_algorithm', 'signature_b64u', 'algorithm', 'signer_did', 'issued_at', 'expires_at'];
const ENVELOPE_REQUIRED = ENVELOPE_KEYS.filter((k) => k !== 'expires_at');
const envelopeRules = (version: string, type: string): Record<string, (v: unknown) => boolean> => ({
  envelope_version: (v) => v === version,
  envelope_type: (v) => v === type,
  payload_hash_b64u: (v) => isB64u(v),
  hash_algorithm: (v) => v === 'SHA-256' || v === 'BLAKE3',
  signature_b64u: (v) => isB64u(v),
  algorithm: (v) => v === 'Ed25519',
  signer_did: (v) => typeof v === 'string' && DID.test(v),
  issued_at: isDateTime,
  expires_at: isDateTime,
});

const event: Check = (value, path) => {
  const keys = ['event_id', 'run_id', 'event_type', 'timestamp', 'payload_hash_b64u', 'prev_hash_b64u', 'event_hash_b64u'];
  return closed(value, path, keys, keys) ?? fields(value as Json, path, {
    event_id: (v) => isStr(v), run_id: (v) => isStr(v), event_type: (v) => isStr(v), timestamp: isDateTime,
    payload_hash_b64u: (v) => isB64u(v), prev_hash_b64u: (v) => v === null || isB64u(v), event_hash_b64u: (v) => isB64u(v),
  });
};

const GATEWAY_PAYLOAD_KEYS = ['receipt_version', 'receipt_id', 'gateway_id', 'provider', 'model', 'request_hash_b64u', 'response_hash_b64u', 'tokens_input', 'tokens_output', 'latency_ms', 'timestamp', 'binding', 'metadata'];
const gatewayReceipt: Check = (value, path) => {
  const shape = closed(value, path, ENVELOPE_KEYS, ENVELOPE_REQUIRED) ?? fields(value as Json, path, envelopeRules('1', 'gateway_receipt'));
  if (shape) return shape;
  const p = (value as Json).payload;
  return closed(p, `${path}.payload`, GATEWAY_PAYLOAD_KEYS, GATEWAY_PAYLOAD_KEYS.slice(0, 11)) ?? fields(p as Json, `${path}.payload`, {
    receipt_version: (v) => v === '1', receipt_id: (v) => isStr(v), gateway_id: (v) => isStr(v), provider: (v) => isStr(v), model: (v) => isStr(v),
    request_hash_b64u: (v) => isB64u(v), response_hash_b64u: (v) => isB64u(v), tokens_input: isNum, tokens_output: isNum, latency_ms: isNum,
    timestamp: isDateTime, binding: isRecord, metadata: isRecord,
  });
};

const TOOL_V1_KEYS = ['receipt_version', 'receipt_id', 'tool_name', 'tool_version', 'args_hash_b64u', 'result_hash_b64u', 'result_status', 'hash_algorithm', 'agent_did', 'timestamp', 'latency_ms', 'binding'];
const TOOL_V1_REQUIRED = ['receipt_version', 'receipt_id', 'tool_name', 'args_hash_b64u', 'result_hash_b64u', 'hash_algorithm', 'agent_did', 'timestamp', 'latency_ms'];
const toolRules = (version: string): Record<string, (v: unknown) => boolean> => ({
  receipt_version: (v) => v === version, receipt_id: (v) => isStr(v), tool_name: (v) => isStr(v), tool_version: (v) => typeof v === 'string',
  args_hash_b64u: (v) => isStr(v), result_hash_b64u: (v) => isStr(v), result_status: (v) => v === 'success' || v === 'error' || v === 'timeout',
  hash_algorithm: (v) => v === 'SHA-256', agent_did: (v) => isStr(v), timestamp: isDateTime, latency_ms: isNum, binding: isRecord,
  args_salt_b64u: (v) => isB64u(v), result_salt_b64u: (v) => isB64u(v), args_disclosure: isRecord, result_disclosure: isRecord,
});
const toolV1: Check = (v, path) => closed(v, path, TOOL_V1_KEYS, TOOL_V1_REQUIRED) ?? fields(v as Json, path, toolRules('1'));
const TOOL_V2_KEYS = [...TOOL_V1_KEYS, 'args_salt_b64u', 'result_salt_b64u', 'args_disclosure', 'result_disclosure'];
const toolV2: Check = (v, path) => closed(v, path, TOOL_V2_KEYS, [...TOOL_V1_REQUIRED, 'args_salt_b64u', 'result_salt_b64u']) ?? fields(v as Json, path, toolRules('2'));
const toolEnvelope = (version: '1' | '2'): Check => (v, path) => {
  const keys = version === '2' ? [...ENVELOPE_KEYS, 'co_signatures'] : ENVELOPE_KEYS;
  const shape = closed(v, path, keys, ENVELOPE_REQUIRED) ?? fields(v as Json, path, { ...envelopeRules(version, 'tool_receipt'), co_signatures: Array.isArray });
  if (shape) return shape;
  const coSigs = (v as Json).co_signatures;
  if (Array.isArray(coSigs)) {
    for (const [i, co] of coSigs.entries()) {
      const cp = `${path}.co_signatures[${i}]`;
      const bad = closed(co, cp, ['signature_b64u', 'algorithm', 'signer_did', 'issued_at', 'role'], ['signature_b64u', 'algorithm', 'signer_did', 'issued_at', 'role'])
        ?? fields(co as Json, cp, { signature_b64u: (x) => isB64u(x), algorithm: (x) => x === 'Ed25519', signer_did: (x) => typeof x === 'string' && DID.test(x), issued_at: isDateTime, role: (x) => isStr(x) });
      if (bad) return bad;
    }
  }
  return (version === '2' ? toolV2 : toolV1)((v as Json).payload, `${path}.payload`);
};
const toolReceipt: Check = (v, path) => {
  const matches = [toolEnvelope('2'), toolEnvelope('1'), toolV2, toolV1].map((check) => check(v, path));
  return matches.some((m) => m === undefined) ? undefined : `${path} matches no tool receipt schema (${matches.at(-1) ?? ''})`;
};

const sideEffect: Check = (v, path) => {
  if (!isRecord(v)) return `${path} must be an object`;
  for (const key of ['receipt_version', 'receipt_id', 'effect_class', 'hash_algorithm', 'agent_did', 'timestamp']) if (!(key in v)) return `${path}.${key} is required`;
  return fields(v, path, {
    receipt_version: (x) => x === '1', receipt_id: (x) => isStr(x), effect_class: (x) => x === 'network_egress' || x === 'filesystem_write' || x === 'external_api_write',
    hash_algorithm: (x) => x === 'SHA-256' || x === 'BLAKE3', agent_did: (x) => typeof x === 'string' && DID.test(x), timestamp: isDateTime,
    bytes_written: isNum, binding: isRecord, target_digest: (x) => typeof x === 'string', request_digest: (x) => typeof x === 'string', response_digest: (x) => typeof x === 'string', vendor_id: (x) => typeof x === 'string',
  });
};

const humanApproval: Check = (v, path) => {
  if (!isRecord(v)) return `${path} must be an object`;
  for (const key of ['receipt_version', 'receipt_id', 'approval_type', 'agent_did', 'timestamp']) if (!(key in v)) return `${path}.${key} is required`;
  return fields(v, path, {
    receipt_version: (x) => x === '1', receipt_id: (x) => isStr(x), approval_type: (x) => ['explicit_approve', 'explicit_deny', 'auto_approve', 'timeout_deny'].includes(x as string),
    agent_did: (x) => typeof x === 'string' && DID.test(x), timestamp: isDateTime, binding: isRecord, scope_hash_b64u: (x) => typeof x === 'string',
    plan_hash_b64u: (x) => typeof x === 'string', approver_subject: (x) => typeof x === 'string', capability_minted: (x) => typeof x === 'boolean', policy_hash_b64u: (x) => typeof x === 'string',
  });
};

const RATE_KEYS = ['claim_version', 'scope', 'scope_key', 'window_start', 'window_end', 'max_requests', 'observed_requests', 'max_tokens_input', 'observed_tokens_input', 'max_tokens_output', 'observed_tokens_output', 'run_id'];
const rateLimit: Check = (v, path) => closed(v, path, RATE_KEYS, RATE_KEYS.slice(0, 7)) ?? fields(v as Json, path, {
  claim_version: (x) => x === '1', scope: (x) => x === 'agent' || x === 'model' || x === 'tool', scope_key: (x) => isStr(x), window_start: isDateTime, window_end: isDateTime,
  max_requests: isNum, observed_requests: isNum, max_tokens_input: isNum, observed_tokens_input: isNum, max_tokens_output: isNum, observed_tokens_output: isNum, run_id: (x) => isStr(x),
});

const PAYLOAD_KEYS = [
  'bundle_version', 'bundle_id', 'agent_did', 'eip8004_agent_id', 'eip8004_registry', 'urm', 'event_chain', 'vir_receipts', 'receipts', 'web_receipts',
  'coverage_attestations', 'binary_semantic_evidence_attestations', 'tool_receipts', 'side_effect_receipts', 'human_approval_receipts', 'delegation_receipts',
  'rate_limit_claims', 'attestations', 'metadata',
];
const COMPONENTS = ['urm', 'event_chain', 'receipts', 'vir_receipts', 'web_receipts', 'binary_semantic_evidence_attestations', 'tool_receipts', 'side_effect_receipts', 'human_approval_receipts', 'delegation_receipts', 'attestations'];

function list(payload: Json, key: string, path: string, item: Check, limits: { min?: number; max?: number }): string | undefined {
  if (!(key in payload)) return undefined;
  const value = payload[key];
  if (!Array.isArray(value)) return `${path}.${key} must be an array`;
  if (limits.min !== undefined && value.length < limits.min) return `${path}.${key} must have at least ${limits.min} item(s)`;
  if (limits.max !== undefined && value.length > limits.max) return `${path}.${key} must have at most ${limits.max} items`;
  for (const [i, entry] of value.entries()) {
    const bad = item(entry, `${path}.${key}[${i}]`);
    if (bad) return bad;
  }
  return undefined;
}

/** The strict shape of a proof bundle envelope v1 and its payload; undefined when it has that shape. */
export function proofBundleShapeProblem(envelope: unknown): string | undefined {
  const top = closed(envelope, 'envelope', ENVELOPE_KEYS, ENVELOPE_REQUIRED) ?? fields(envelope as Json, 'envelope', envelopeRules('1', 'proof_bundle'));
  if (top) return top;
  const payload = (envelope as Json).payload;
  const path = 'payload';
  const shape = closed(payload, path, PAYLOAD_KEYS, ['bundle_version', 'bundle_id', 'agent_did']);
  if (shape) return shape;
  const p = payload as Json;
  const bad = fields(p, path, { bundle_version: (v) => v === '1', bundle_id: (v) => isStr(v), agent_did: (v) => typeof v === 'string' && DID.test(v), metadata: isRecord });
  if (bad) return bad;
  if (!COMPONENTS.some((key) => key in p)) return `${path} must carry at least one of ${COMPONENTS.join(', ')}`;
  const harness = isRecord(p.metadata) ? p.metadata.harness : undefined;
  if (harness !== undefined && (!isRecord(harness) || !isStr(harness.id) || !isStr(harness.version))) return `${path}.metadata.harness needs id and version`;
  return (
    list(p, 'event_chain', path, event, { min: 1 }) ??
    list(p, 'receipts', path, gatewayReceipt, { min: 1 }) ??
    list(p, 'tool_receipts', path, toolReceipt, { max: 1000 }) ??
    list(p, 'side_effect_receipts', path, sideEffect, { max: 1000 }) ??
    list(p, 'human_approval_receipts', path, humanApproval, { max: 1000 }) ??
    list(p, 'rate_limit_claims', path, rateLimit, { max: 256 })
  );
}

export { B64U };
