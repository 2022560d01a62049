import { canonicalJson } from '../util/canonical.js';
import { isValidDidFormat, keyObjectFromDidKey } from './did-key.js';
import { ENVELOPE_TYPES, didSignatureValid, verifyEnvelope } from './envelope.js';
import { sha256B64u, stringifyHashB64u } from './hash.js';
import type { ClawReasonCode } from './reason-codes.js';
import { B64U, isDateTime, isRecord, proofBundleShapeProblem } from './verify-shape.js';

/**
 * claw-jira's implementation of the reference verifier's proof-bundle rules (clawverify-core
 * `verifyProofBundle` plus the CLI's strict gateway rule), from PROTOCOL.md §6.3, as a pipeline of named steps.
 * Each step either passes or fails with the protocol's reason code; the first failure decides, as in the
 * reference. Where the spec prose and the verifier disagree (PROTOCOL.md §9) this follows the verifier, with
 * one deliberate exception: a raw (non-envelope) payload is refused (`requireEnvelope`, default true), where
 * the reference would PASS it unsigned.
 */
export const CLAW_VERIFY_STEPS = [
  'envelope',
  'schema',
  'payload',
  'signature',
  'event_chain',
  'rate_limits',
  'urm',
  'gateway_receipts',
  'tool_receipts',
  'side_effects',
  'human_approvals',
  'causal',
] as const;
export type ClawVerifyStep = (typeof CLAW_VERIFY_STEPS)[number];

export interface ClawVerifyOptions {
  /** Gateway receipt signer dids (the CLI's `gateway_receipt_signer_dids`). */
  gatewaySignerDids?: readonly string[];
  /** Verification time (ms); tests pin it for vectors with an expiry. */
  now?: number;
  requireEnvelope?: boolean;
  /** Causal connectivity mode; the reference CLI's default is enforce. */
  causalMode?: 'enforce' | 'observe';
}

export interface ClawVerifyResult {
  status: 'PASS' | 'FAIL';
  reason_code: ClawReasonCode;
  reason: string;
  /** The step that failed, or the last step run. */
  step: ClawVerifyStep;
  steps: { step: ClawVerifyStep; ok: boolean }[];
  proof_tier: 'unknown' | 'self' | 'gateway';
  run_id: string | null;
  agent_did: string | null;
  counts: { events: number; gateway_receipts: number; gateway_receipts_verified: number; tool_receipts: number; side_effect_receipts: number; human_approval_receipts: number };
}

class StepFailure extends Error {
  constructor(
    readonly code: ClawReasonCode,
    message: string,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

const fail = (code: ClawReasonCode, message: string): never => {
  throw new StepFailure(code, message);
};

function arr(p: Json, key: string): unknown[] {
  const value = p[key];
  return Array.isArray(value) ? value : [];
}

function stepEnvelope(input: unknown, options: ClawVerifyOptions): void {
  const isEnvelope = isRecord(input) && 'envelope_version' in input && 'payload' in input && 'signature_b64u' in input;
  if (!isEnvelope) {
    if (options.requireEnvelope === false) return;
    fail('MALFORMED_ENVELOPE', 'not a signed proof bundle envelope (a raw payload carries no signature)');
  }
  const e = input as Json;
  for (const key of ['envelope_version', 'envelope_type', 'payload', 'payload_hash_b64u', 'hash_algorithm', 'signature_b64u', 'algorithm', 'signer_did', 'issued_at']) {
    if (!(key in e)) fail('MALFORMED_ENVELOPE', `envelope is missing ${key}`);
  }
  if (e.envelope_version !== '1') fail('UNKNOWN_ENVELOPE_VERSION', `envelope_version ${JSON.stringify(e.envelope_version)} is not supported`);
  if (typeof e.envelope_type !== 'string' || !ENVELOPE_TYPES.includes(e.envelope_type) || e.envelope_type !== 'proof_bundle') {
    fail('UNKNOWN_ENVELOPE_TYPE', 'envelope_type must be proof_bundle');
  }
  if (e.algorithm !== 'Ed25519') fail('UNKNOWN_ALGORITHM', 'algorithm must be Ed25519');
  if (e.hash_algorithm !== 'SHA-256') fail('UNKNOWN_HASH_ALGORITHM', 'hash_algorithm must be SHA-256');
  if (typeof e.signer_did !== 'string' || !isValidDidFormat(e.signer_did)) fail('INVALID_DID_FORMAT', 'signer_did is not a did:key or did:web');
  if (!isDateTime(e.issued_at)) fail('MALFORMED_ENVELOPE', 'issued_at is not a date-time');
  if (e.expires_at !== undefined) {
    if (!isDateTime(e.expires_at)) fail('MALFORMED_ENVELOPE', 'expires_at is not a date-time');
    if ((options.now ?? Date.now()) > Date.parse(e.expires_at as string)) fail('EXPIRED_TTL', 'the proof bundle envelope has expired');
  }
  if (typeof e.payload_hash_b64u !== 'string' || !B64U.test(e.payload_hash_b64u)) fail('MALFORMED_ENVELOPE', 'payload_hash_b64u is not base64url');
  if (typeof e.signature_b64u !== 'string' || !B64U.test(e.signature_b64u)) fail('MALFORMED_ENVELOPE', 'signature_b64u is not base64url');
}

function stepPayload(envelope: Json | undefined, p: Json): void {
  if (p.bundle_version !== '1' || typeof p.bundle_id !== 'string' || p.bundle_id === '' || typeof p.agent_did !== 'string') {
    fail('MALFORMED_ENVELOPE', 'payload needs bundle_version "1", bundle_id and agent_did');
  }
  const has = (key: string): boolean => (key === 'urm' ? p.urm !== undefined : arr(p, key).length > 0);
  if (!['urm', 'event_chain', 'receipts', 'attestations'].some(has)) fail('MALFORMED_ENVELOPE', 'payload has none of urm, event_chain, receipts, attestations');
  if (arr(p, 'event_chain').length > 1000) fail('MALFORMED_ENVELOPE', 'event_chain exceeds 1000 entries');
  if (arr(p, 'receipts').length > 1000) fail('MALFORMED_ENVELOPE', 'receipts exceeds 1000 entries');
  if (arr(p, 'attestations').length > 100) fail('MALFORMED_ENVELOPE', 'attestations exceeds 100 entries');
  const size = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? '');
  if (p.metadata !== undefined && size(p.metadata) > 16 * 1024) fail('MALFORMED_ENVELOPE', 'payload.metadata exceeds 16 KiB');
  for (const receipt of arr(p, 'receipts')) {
    const md = isRecord(receipt) && isRecord(receipt.payload) ? receipt.payload.metadata : undefined;
    if (md !== undefined && size(md) > 16 * 1024) fail('MALFORMED_ENVELOPE', 'a gateway receipt metadata exceeds 16 KiB');
  }
  const ids = new Set<string>();
  for (const e of arr(p, 'event_chain')) {
    const id = (e as Json).event_id as string;
    if (ids.has(id)) fail('MALFORMED_ENVELOPE', `duplicate event_id ${id}`);
    ids.add(id);
  }
  if (!isValidDidFormat(p.agent_did as string)) fail('INVALID_DID_FORMAT', 'agent_did is not a did:key or did:web');
  if (envelope && envelope.signer_did !== p.agent_did) fail('INVALID_DID_FORMAT', 'signer_did must equal payload.agent_did');
}

function stepSignature(envelope: Json): void {
  if (stringifyHashB64u(envelope.payload) !== envelope.payload_hash_b64u) fail('HASH_MISMATCH', 'payload_hash_b64u does not match the payload');
  try {
    keyObjectFromDidKey(envelope.signer_did as string);
  } catch {
    fail('INVALID_DID_FORMAT', 'signer_did carries no Ed25519 key (did:key required)');
  }
  const message = new TextEncoder().encode(envelope.payload_hash_b64u as string);
  if (!didSignatureValid(envelope.signer_did as string, message, envelope.signature_b64u as string)) fail('SIGNATURE_INVALID', 'the bundle signature does not verify');
}

function stepEventChain(events: Json[]): void {
  let prev: string | null = null;
  const runId = events[0]?.run_id;
  events.forEach((e, i) => {
    if (e.run_id !== runId) fail('MALFORMED_ENVELOPE', `event ${i}: inconsistent run_id`);
    if (i === 0 ? e.prev_hash_b64u !== null && e.prev_hash_b64u !== '' : e.prev_hash_b64u !== prev) fail('MALFORMED_ENVELOPE', `event ${i}: hash chain break`);
    prev = e.event_hash_b64u as string;
  });
  events.forEach((e, i) => {
    const header = { event_id: e.event_id, run_id: e.run_id, event_type: e.event_type, timestamp: e.timestamp, payload_hash_b64u: e.payload_hash_b64u, prev_hash_b64u: e.prev_hash_b64u ?? null };
    if (stringifyHashB64u(header) !== e.event_hash_b64u) fail('HASH_MISMATCH', `event ${i}: event_hash_b64u does not match its header`);
  });
}

function stepRateLimits(claims: Json[], runId: string | null): void {
  claims.forEach((c, i) => {
    const start = Date.parse(c.window_start as string);
    const end = Date.parse(c.window_end as string);
    if (start > end) fail('RATE_LIMIT_WINDOW_INVALID', `rate_limit_claims[${i}]: window_start after window_end`);
    if ((c.observed_requests as number) > (c.max_requests as number)) fail('RATE_LIMIT_EXCEEDED', `rate_limit_claims[${i}]: observed_requests exceeds max_requests`);
    for (const label of ['tokens_input', 'tokens_output']) {
      const max = c[`max_${label}`];
      const observed = c[`observed_${label}`];
      if ((max === undefined) !== (observed === undefined)) fail('RATE_LIMIT_CLAIM_INCONSISTENT', `rate_limit_claims[${i}]: max_${label} and observed_${label} go together`);
      if (typeof max === 'number' && typeof observed === 'number' && observed > max) fail('RATE_LIMIT_EXCEEDED', `rate_limit_claims[${i}]: observed_${label} exceeds max_${label}`);
    }
    if (runId !== null && c.run_id !== undefined && c.run_id !== runId) fail('RATE_LIMIT_CLAIM_INCONSISTENT', `rate_limit_claims[${i}]: run_id is not the bundle's`);
  });
}

/** Gateway receipts as the CLI's strict rule checks them: with a binding they must verify and bind. */
function stepGateway(receipts: Json[], runId: string | null, eventHashes: Set<string>, options: ClawVerifyOptions): number {
  let verified = 0;
  const anyBound = receipts.some((r) => isRecord(r.payload) && isRecord(r.payload.binding));
  if (anyBound && (options.gatewaySignerDids === undefined || options.gatewaySignerDids.length === 0)) {
    fail('DEPENDENCY_NOT_CONFIGURED', 'the bundle has bound gateway receipts but no gateway signer allowlist is configured');
  }
  receipts.forEach((r, i) => {
    const binding = isRecord(r.payload) && isRecord(r.payload.binding) ? r.payload.binding : undefined;
    const signed = verifyEnvelope(r, { expectedType: 'gateway_receipt', ...(options.now !== undefined ? { now: options.now } : {}) });
    const allowlisted = options.gatewaySignerDids?.includes(r.signer_did as string) === true;
    if (!signed.ok || !allowlisted) {
      if (binding) {
        const why = !signed.ok ? `${signed.reason_code}: ${signed.message}` : 'signer_did is not in the gateway allowlist';
        fail('RECEIPT_VERIFICATION_FAILED', `receipts[${i}] does not verify (${why})`);
      }
      return;
    }
    if (!binding) return;
    if (binding.run_id !== runId || typeof binding.event_hash_b64u !== 'string' || !eventHashes.has(binding.event_hash_b64u)) {
      fail('RECEIPT_BINDING_MISMATCH', `receipts[${i}] is not bound to this run's event chain`);
    }
    verified += 1;
  });
  return verified;
}

function disclosureCheck(disclosure: Json, expectedRoot: unknown, where: string): void {
  if (disclosure.disclosure_algorithm !== 'vir_v2_typed_lexicographical') fail('DISCLOSURE_ALGORITHM_UNKNOWN', `${where}: unknown disclosure algorithm`);
  if (disclosure.merkle_root_b64u !== expectedRoot) fail('DISCLOSURE_ROOT_MISMATCH', `${where}: merkle root is not the committed hash`);
  const leaves = Array.isArray(disclosure.redacted_leaf_hashes_b64u) ? [...(disclosure.redacted_leaf_hashes_b64u as string[])] : [];
  const disclosed = isRecord(disclosure.disclosed_leaves) ? disclosure.disclosed_leaves : {};
  for (const [path, leaf] of Object.entries(disclosed)) {
    const l = leaf as Json;
    const type = l.value === null ? 'null' : Array.isArray(l.value) ? 'array' : typeof l.value;
    if (type !== l.type) fail('DISCLOSURE_TYPE_MISMATCH', `${where}: leaf ${path} is not of its declared type`);
    leaves.push(sha256B64u(`${path}:${canonicalJson({ type: l.type, value: l.value, salt_b64u: l.salt_b64u })}`));
  }
  leaves.sort();
  if (sha256B64u(canonicalJson(leaves)) !== disclosure.merkle_root_b64u) fail('DISCLOSURE_ROOT_MISMATCH', `${where}: merkle root mismatch`);
}

function stepToolReceipts(entries: Json[], agentDid: string, runId: string | null, eventHashes: Set<string>, options: ClawVerifyOptions): void {
  entries.forEach((entry, i) => {
    const isEnvelope = 'envelope_version' in entry;
    const payload = (isEnvelope ? entry.payload : entry) as Json;
    if (payload.agent_did !== agentDid) fail('PROOF_BUNDLE_AGENT_MISMATCH', `tool_receipts[${i}].agent_did is not the bundle's agent`);
    const binding = isRecord(payload.binding) ? payload.binding : undefined;
    if (binding && runId !== null) {
      if (typeof binding.run_id === 'string' && binding.run_id !== '' && binding.run_id !== runId) fail('RECEIPT_BINDING_MISMATCH', `tool_receipts[${i}] is bound to another run`);
      if (binding.event_hash_b64u !== undefined) {
        if (typeof binding.event_hash_b64u !== 'string' || !B64U.test(binding.event_hash_b64u)) fail('SCHEMA_VALIDATION_FAILED', `tool_receipts[${i}].binding.event_hash_b64u is not base64url`);
        if (!eventHashes.has(binding.event_hash_b64u as string)) fail('RECEIPT_BINDING_MISMATCH', `tool_receipts[${i}] names an event not in the chain`);
      }
    }
    if (isEnvelope) {
      if (entry.expires_at !== undefined && (options.now ?? Date.now()) > Date.parse(entry.expires_at as string)) fail('EXPIRED_TTL', `tool_receipts[${i}] has expired`);
      if (stringifyHashB64u(entry.payload) !== entry.payload_hash_b64u) fail('HASH_MISMATCH', `tool_receipts[${i}] payload hash mismatch`);
      const message = new TextEncoder().encode(entry.payload_hash_b64u as string);
      if (!didSignatureValid(entry.signer_did as string, message, entry.signature_b64u as string)) fail('SIGNATURE_INVALID', `tool_receipts[${i}] signature does not verify`);
      if (entry.envelope_version === '2' && Array.isArray(entry.co_signatures)) {
        (entry.co_signatures as Json[]).forEach((co, j) => {
          if (co.algorithm !== 'Ed25519' || !didSignatureValid(co.signer_did as string, message, co.signature_b64u as string)) {
            fail('CO_SIGNATURE_INVALID', `tool_receipts[${i}].co_signatures[${j}] does not verify`);
          }
        });
      }
    }
    if (payload.receipt_version === '2') {
      if (isRecord(payload.args_disclosure)) disclosureCheck(payload.args_disclosure, payload.args_hash_b64u, `tool_receipts[${i}].args_disclosure`);
      if (isRecord(payload.result_disclosure)) disclosureCheck(payload.result_disclosure, payload.result_hash_b64u, `tool_receipts[${i}].result_disclosure`);
    }
  });
}

function stepRaw(entries: Json[], key: string, agentDid: string, enumKey: string, allowed: readonly string[]): void {
  entries.forEach((r, i) => {
    if (r.receipt_version !== undefined && r.receipt_version !== '1') fail('UNKNOWN_VERSION', `${key}[${i}]: unknown receipt_version`);
    if (r.hash_algorithm !== undefined && r.hash_algorithm !== 'SHA-256') fail('UNKNOWN_HASH_ALGORITHM', `${key}[${i}]: hash_algorithm must be SHA-256`);
    if (r[enumKey] !== undefined && !allowed.includes(r[enumKey] as string)) fail('SCHEMA_VALIDATION_FAILED', `${key}[${i}].${enumKey} is not allowed`);
    if (r.agent_did !== undefined && r.agent_did !== agentDid) fail('PROOF_BUNDLE_AGENT_MISMATCH', `${key}[${i}].agent_did is not the bundle's agent`);
  });
}

/** Side-effect and approval receipts must point (tool_span_id ?? parent_span_id ?? span_id) at a span a gateway receipt declares. */
function stepCausal(p: Json, options: ClawVerifyOptions): void {
  if ((options.causalMode ?? 'enforce') !== 'enforce') return;
  const spans = new Set<string>();
  for (const r of arr(p, 'receipts')) {
    const b = isRecord(r) && isRecord(r.payload) && isRecord(r.payload.binding) ? r.payload.binding : undefined;
    const span = b?.span_id ?? b?.spanId;
    if (typeof span === 'string') spans.add(span);
  }
  const pointsAtSpan = (r: unknown): boolean => {
    const b = isRecord(r) && isRecord(r.binding) ? r.binding : {};
    const ref = b.tool_span_id ?? b.toolSpanId ?? b.parent_span_id ?? b.parentSpanId ?? b.span_id ?? b.spanId;
    return typeof ref === 'string' && spans.has(ref);
  };
  if (!arr(p, 'side_effect_receipts').every(pointsAtSpan)) fail('CAUSAL_SIDE_EFFECT_ORPHANED', 'a side-effect receipt names no span declared by a gateway receipt in the bundle');
  if (!arr(p, 'human_approval_receipts').every(pointsAtSpan)) fail('CAUSAL_HUMAN_APPROVAL_ORPHANED', 'a human-approval receipt names no span declared by a gateway receipt in the bundle');
}

export function verifyClawBundle(input: unknown, options: ClawVerifyOptions = {}): ClawVerifyResult {
  const steps: { step: ClawVerifyStep; ok: boolean }[] = [];
  const counts = { events: 0, gateway_receipts: 0, gateway_receipts_verified: 0, tool_receipts: 0, side_effect_receipts: 0, human_approval_receipts: 0 };
  let current: ClawVerifyStep = 'envelope';
  let runId: string | null = null;
  let agentDid: string | null = null;
  const run = (step: ClawVerifyStep, fn: () => void): void => {
    current = step;
    fn();
    steps.push({ step, ok: true });
  };
  try {
    run('envelope', () => stepEnvelope(input, options));
    const envelope = isRecord(input) && 'payload' in input && 'signature_b64u' in input ? input : undefined;
    const p = (envelope ? envelope.payload : input) as Json;
    run('schema', () => {
      const problem = envelope ? proofBundleShapeProblem(envelope) : proofBundleShapeProblem({ ...SYNTHETIC_ENVELOPE, payload: p });
      if (problem) fail('SCHEMA_VALIDATION_FAILED', problem);
    });
    run('payload', () => stepPayload(envelope, p));
    agentDid = p.agent_did as string;
    run('signature', () => {
      if (envelope) stepSignature(envelope);
    });
    const events = arr(p, 'event_chain') as Json[];
    counts.events = events.length;
    run('event_chain', () => {
      if (events.length > 0) stepEventChain(events);
    });
    runId = events.length > 0 ? (events[0]?.run_id as string) : null;
    const eventHashes = new Set(events.map((e) => e.event_hash_b64u as string));
    run('rate_limits', () => stepRateLimits(arr(p, 'rate_limit_claims') as Json[], runId));
    run('urm', () => {
      if (p.urm !== undefined) fail('URM_MISSING', 'the bundle references a URM document, which this verifier is not given');
    });
    counts.gateway_receipts = arr(p, 'receipts').length;
    run('gateway_receipts', () => {
      counts.gateway_receipts_verified = stepGateway(arr(p, 'receipts') as Json[], runId, eventHashes, options);
    });
    counts.tool_receipts = arr(p, 'tool_receipts').length;
    run('tool_receipts', () => stepToolReceipts(arr(p, 'tool_receipts') as Json[], agentDid as string, runId, eventHashes, options));
    counts.side_effect_receipts = arr(p, 'side_effect_receipts').length;
    run('side_effects', () => stepRaw(arr(p, 'side_effect_receipts') as Json[], 'side_effect_receipts', agentDid as string, 'effect_class', ['network_egress', 'filesystem_write', 'external_api_write']));
    counts.human_approval_receipts = arr(p, 'human_approval_receipts').length;
    run('human_approvals', () => stepRaw(arr(p, 'human_approval_receipts') as Json[], 'human_approval_receipts', agentDid as string, 'approval_type', ['explicit_approve', 'explicit_deny', 'auto_approve', 'timeout_deny']));
    run('causal', () => stepCausal(p, options));
  } catch (error) {
    const failure = error instanceof StepFailure ? error : new StepFailure('MALFORMED_ENVELOPE', 'the input could not be read as a proof bundle');
    steps.push({ step: current, ok: false });
    return { status: 'FAIL', reason_code: failure.code, reason: failure.message, step: current, steps, proof_tier: 'unknown', run_id: runId, agent_did: agentDid, counts };
  }
  return {
    status: 'PASS',
    reason_code: 'OK',
    reason: 'the proof bundle verifies',
    step: current,
    steps,
    proof_tier: counts.gateway_receipts_verified > 0 ? 'gateway' : 'self',
    run_id: runId,
    agent_did: agentDid,
    counts,
  };
}

/** Only for the shape check of a raw payload (requireEnvelope: false): the envelope members are not its concern. */
const SYNTHETIC_ENVELOPE = {
  envelope_version: '1',
  envelope_type: 'proof_bundle',
  payload_hash_b64u: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  hash_algorithm: 'SHA-256',
  signature_b64u: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  algorithm: 'Ed25519',
  signer_did: 'did:key:z',
  issued_at: '1970-01-01T00:00:00.000Z',
};
