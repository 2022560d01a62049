import type { BundleContents, LoadedReceipt } from '../bundle/contents.js';
import type { Receipt } from '../receipts/types.js';
import { isWriteOperation, type Operation } from '../wpc/operations.js';
import { VERSION } from '../version.js';
import { ClawError } from '../util/errors.js';
import { sha256B64u, sortKeysDeep, stringifyHashB64u } from './hash.js';
import { HASH_ADDRESS } from '../util/canonical.js';
import { b64uAddress } from '../wpc/registry.js';
import { buildTrustPulse, type TrustPulse } from './trust-pulse.js';
import { runAnchorEvent } from './run-anchor.js';
import { eventHash, type ClawEvent } from './event-chain.js';

export { eventHash, type ClawEvent } from './event-chain.js';

/**
 * claw-jira's sealed proof bundle as Clawsig proof bundle v1 payloads (PROTOCOL.md §5–§6). Pure and
 * deterministic: the same sealed bundle, agent did and options always give the same payloads, byte for byte.
 * That is what lets `bundle verify` check an export against the sealed bundle by rebuilding it.
 *
 * - The chain starts with the run's anchor event (run-anchor.ts), known to a harness while the job runs.
 * - Every server receipt is one event of one hash chain for the run, in recorded-time order (ties by file name,
 *   then line); its `payload_hash_b64u` is the SHA-256 of the receipt's line, so an auditor holding the claw-jira
 *   bundle can tie each event to its signed receipt. Each approval a call used is one more event
 *   (`human_approval`) just before that call, hashing the approval file.
 * - Every tool call (a decision receipt) is one `tool_receipt` bound to its event.
 * - Optionally, each Jira write a `side_effect_receipt` and each approval a `human_approval_receipt`.
 * - Imported clawproxy receipts (gateway/claw-receipts.jsonl) go into `receipts` exactly as parsed.
 */
export const CLAW_GATEWAY_FILE = 'gateway/claw-receipts.jsonl';

/** The reference verifier's limits (verify-proof-bundle.ts): larger runs are split into parts. */
export const CLAW_LIMITS = { events: 1000, receipts: 1000, toolReceipts: 1000, metadataBytes: 16 * 1024 } as const;

export type ClawExportErrorCode =
  | 'CLAW_EXPORT_UNSEALED'
  | 'CLAW_EXPORT_BUNDLE_INVALID'
  | 'CLAW_EXPORT_EMPTY'
  | 'CLAW_EXPORT_RUN_ID_CONFLICT'
  | 'CLAW_EXPORT_GATEWAY_INVALID'
  | 'CLAW_EXPORT_GATEWAY_UNBOUND'
  | 'CLAW_EXPORT_ORPHANED'
  | 'CLAW_EXPORT_TOO_LARGE'
  | 'CLAW_EXPORT_UNWRITABLE';

export class ClawExportError extends ClawError {
  declare readonly code: ClawExportErrorCode;
  constructor(code: ClawExportErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
    this.name = 'ClawExportError';
  }
}

export type JsonObject = Record<string, unknown>;

export interface ClawExportOptions {
  /** did:key of the receipt key: `agent_did` and the envelope's `signer_did`. */
  agentDid: string;
  /** Add side-effect and human-approval receipts (see README: the reference verifier needs a span for them). */
  sideEffectReceipts: boolean;
  /** Leave out gateway receipts that do not bind to this run instead of refusing the export. */
  omitUnboundGateway: boolean;
  /** The address (`sha256:<hex>`) of the sealed manifest.json the contents were read with. */
  manifestHash: string;
  /** Events per part; the verifier's limit unless a test asks for less. */
  maxEventsPerPart?: number;
}

export interface ClawPayloads {
  runId: string;
  payloads: JsonObject[];
  trustPulse: TrustPulse;
  omittedGateway: number;
}

/** Parsed lines of gateway/claw-receipts.jsonl, each kept as parsed (never re-ordered: that breaks its hash). */
export interface GatewayEnvelope {
  line: number;
  envelope: JsonObject;
}

/** `sha256:<hex>` (claw-jira's address form) as Claw's base64url form of the same digest. */
export function addressToB64u(address: string): string {
  // Not a digest address (e.g. the gate's marker for arguments it could not canonicalise): hash the text itself.
  return HASH_ADDRESS.test(address) ? b64uAddress(address) : sha256B64u(address);
}

/** The run id the receipts carry; for bundles older than run ids, one derived from the job. */
export function runIdOf(contents: BundleContents): string {
  const ids = new Set<string>();
  for (const { receipt } of contents.receipts) if (typeof receipt.run_id === 'string') ids.add(receipt.run_id);
  if (ids.size > 1) {
    throw new ClawExportError('CLAW_EXPORT_RUN_ID_CONFLICT', `the receipts name ${ids.size} run ids; one job is one run`, { run_ids: [...ids].sort() });
  }
  const [only] = ids;
  return only ?? `run_cj_${sha256B64u(`claw-jira job:${contents.job ?? ''}`)}`;
}

function chronological(a: LoadedReceipt, b: LoadedReceipt): number {
  const ta = a.receipt.time ?? '';
  const tb = b.receipt.time ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.line - b.line;
}

function eventTypeOf(receipt: Receipt): string {
  if (receipt.kind === 'decision') return receipt.decision?.effect === 'allow' ? 'tool_call' : 'tool_denied';
  if (receipt.kind === 'outcome') {
    const write = receipt.operation !== undefined && isWriteOperation(receipt.operation as Operation);
    return write ? 'jira_write' : 'tool_result';
  }
  return `claw_jira.${typeof receipt.event?.type === 'string' ? receipt.event.type : 'event'}`;
}

export interface ChainEntry {
  event: ClawEvent;
  /** The receipt behind the event; undefined for an approval event. */
  source?: LoadedReceipt;
}

export function buildChain(contents: BundleContents, runId: string): ChainEntry[] {
  const approvalsById = new Map(contents.approvals.map((a) => [a.requestId, a]));
  const usedApprovals = new Set<string>();
  const ordered = [...contents.receipts].sort(chronological);
  const anchor = runAnchorEvent(contents.job ?? '', runId, ordered[0]?.receipt.time ?? new Date(0).toISOString());
  const entries: ChainEntry[] = [{ event: anchor }];
  let prev: string | null = anchor.event_hash_b64u;
  const push = (partial: Omit<ClawEvent, 'event_hash_b64u' | 'prev_hash_b64u' | 'run_id'>, source?: LoadedReceipt): void => {
    const header = { ...partial, run_id: runId, prev_hash_b64u: prev };
    const event: ClawEvent = { ...header, event_hash_b64u: eventHash(header) };
    entries.push(source ? { event, source } : { event });
    prev = event.event_hash_b64u;
  };
  for (const loaded of ordered) {
    const r = loaded.receipt;
    const approvalId = r.kind === 'decision' ? r.approval?.approval_id : undefined;
    const approval = approvalId !== undefined ? approvalsById.get(approvalId) : undefined;
    if (approval && !usedApprovals.has(approval.requestId)) {
      usedApprovals.add(approval.requestId);
      push({ event_id: `evt_apr_${addressToB64u(approval.sha256)}`, event_type: 'human_approval', timestamp: r.time, payload_hash_b64u: addressToB64u(approval.sha256) });
    }
    const digest = addressToB64u(loaded.hash);
    push({ event_id: `evt_${digest}`, event_type: eventTypeOf(r), timestamp: r.time, payload_hash_b64u: digest }, loaded);
  }
  return entries;
}

function latency(from: string, to: string | undefined): number {
  if (to === undefined) return 0;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

interface CallRecord {
  decision: LoadedReceipt;
  event: ClawEvent;
  outcome: LoadedReceipt | undefined;
  policyHash: string | undefined;
}

function toolReceipt(call: CallRecord, agentDid: string, runId: string): JsonObject {
  const d = call.decision.receipt;
  const o = call.outcome?.receipt;
  const succeeded = o?.outcome?.status === 'succeeded';
  // The result's hash: what the tool returned (result_hash) when the receipt has it; otherwise the receipt
  // that closed the call (the outcome, or the denial itself), which is what claw-jira recorded as its result.
  const result = o?.result_hash ?? call.outcome?.hash ?? call.decision.hash;
  return {
    receipt_version: '1',
    receipt_id: `tr_${addressToB64u(call.decision.hash)}`,
    tool_name: d.tool ?? 'unknown',
    tool_version: `claw-jira ${VERSION}`,
    args_hash_b64u: addressToB64u(d.args_hash ?? 'sha256:none'),
    result_hash_b64u: addressToB64u(result),
    result_status: succeeded ? 'success' : 'error',
    hash_algorithm: 'SHA-256',
    agent_did: agentDid,
    timestamp: d.time,
    latency_ms: latency(d.time, o?.time),
    binding: {
      run_id: runId,
      event_hash_b64u: call.event.event_hash_b64u,
      ...(call.policyHash ? { policy_hash: call.policyHash } : {}),
    },
  };
}

function sideEffectReceipt(call: CallRecord, agentDid: string, runId: string, span: string | undefined): JsonObject | undefined {
  const o = call.outcome;
  if (!o || !isWriteOperation((o.receipt.operation ?? '') as Operation)) return undefined;
  const status = o.receipt.outcome?.status;
  return {
    receipt_version: '1',
    receipt_id: `ser_${addressToB64u(o.hash)}`,
    effect_class: 'external_api_write',
    vendor_id: 'atlassian-jira',
    target_hash_b64u: stringifyHashB64u(o.receipt.issue_keys ?? []),
    request_hash_b64u: addressToB64u(call.decision.receipt.args_hash ?? 'sha256:none'),
    response_hash_b64u: addressToB64u(o.receipt.result_hash ?? o.hash),
    response_status: status === 'succeeded' ? 'success' : 'error',
    hash_algorithm: 'SHA-256',
    agent_did: agentDid,
    timestamp: o.receipt.time,
    latency_ms: latency(call.decision.receipt.time, o.receipt.time),
    binding: { run_id: runId, event_hash_b64u: call.event.event_hash_b64u, ...(span ? { parent_span_id: span, tool_span_id: span } : {}) },
  };
}

function approvalReceipt(call: CallRecord, contents: BundleContents, agentDid: string, runId: string, span: string | undefined): JsonObject | undefined {
  const approval = call.decision.receipt.approval;
  if (!approval?.approval_id || call.decision.receipt.decision?.effect !== 'allow') return undefined;
  const record = contents.approvals.find((a) => a.requestId === approval.approval_id);
  const signed = approval.via !== 'elicitation';
  return {
    receipt_version: '1',
    receipt_id: `har_${addressToB64u(call.decision.hash)}`,
    approval_type: 'explicit_approve',
    approver_subject: signed ? `claw-jira approver key ${record?.approverKid ?? 'unknown'}` : 'mcp-elicitation',
    approver_method: signed ? 'cli_confirm' : 'ui_click',
    agent_did: agentDid,
    scope_hash_b64u: record ? addressToB64u(record.sha256) : addressToB64u(call.decision.receipt.args_hash ?? 'sha256:none'),
    scope_summary: `${call.decision.receipt.tool ?? 'tool'} (request ${approval.request_id})`.slice(0, 1024),
    ...(call.policyHash ? { policy_hash_b64u: call.policyHash } : {}),
    hash_algorithm: 'SHA-256',
    timestamp: call.decision.receipt.time,
    binding: { run_id: runId, event_hash_b64u: call.event.event_hash_b64u, ...(span ? { parent_span_id: span, tool_span_id: span } : {}) },
  };
}

/** Parse gateway/claw-receipts.jsonl: one envelope per line, kept exactly as parsed. */
export function parseGatewayLines(text: string): GatewayEnvelope[] {
  const out: GatewayEnvelope[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ClawExportError('CLAW_EXPORT_GATEWAY_INVALID', `${CLAW_GATEWAY_FILE} line ${i + 1} is not a JSON envelope`);
    }
    out.push({ line: i + 1, envelope: parsed as JsonObject });
  });
  return out;
}

function gatewayBinding(envelope: JsonObject): { run_id?: unknown; event_hash_b64u?: unknown; span_id?: unknown } | undefined {
  const payload = envelope.payload as JsonObject | undefined;
  const binding = payload?.binding;
  return binding !== null && typeof binding === 'object' ? (binding as { run_id?: unknown; event_hash_b64u?: unknown }) : undefined;
}

/** The first span id a gateway receipt declares: what side-effect and approval receipts must point at. */
function declaredSpan(gateway: GatewayEnvelope[]): string | undefined {
  for (const { envelope } of gateway) {
    const span = gatewayBinding(envelope)?.span_id;
    if (typeof span === 'string' && span !== '') return span;
  }
  return undefined;
}

function policyHashOf(receipt: Receipt): string | undefined {
  return typeof receipt.wpc_hash === 'string' ? addressToB64u(receipt.wpc_hash) : undefined;
}

/**
 * Build the payload(s). Throws a ClawExportError for a run it cannot export faithfully: conflicting run ids,
 * gateway receipts that would make the verifier fail, side-effect receipts with no gateway span, a part that
 * would still exceed a limit.
 */
export function buildClawPayloads(contents: BundleContents, gateway: GatewayEnvelope[], options: ClawExportOptions): ClawPayloads {
  if (!contents.manifest) throw new ClawExportError('CLAW_EXPORT_UNSEALED', 'the bundle is not sealed: run `claw-jira bundle seal` first');
  if (contents.receipts.length === 0) throw new ClawExportError('CLAW_EXPORT_EMPTY', 'the bundle has no receipts');
  const runId = runIdOf(contents);
  const chain = buildChain(contents, runId);
  const eventByReceipt = new Map<string, ClawEvent>();
  for (const entry of chain) if (entry.source) eventByReceipt.set(entry.source.hash, entry.event);

  const outcomeByDecision = new Map<string, LoadedReceipt>();
  for (const r of contents.receipts) if (r.receipt.kind === 'outcome' && r.receipt.decision_ref) outcomeByDecision.set(r.receipt.decision_ref, r);
  const calls: CallRecord[] = contents.receipts
    .filter((r) => r.receipt.kind === 'decision')
    .map((decision) => ({
      decision,
      event: eventByReceipt.get(decision.hash) as ClawEvent,
      outcome: outcomeByDecision.get(decision.hash),
      policyHash: policyHashOf(decision.receipt),
    }))
    .sort((a, b) => chronological(a.decision, b.decision));

  const span = declaredSpan(gateway);
  const agentDid = options.agentDid;
  const sideEffects: JsonObject[] = [];
  const approvals: JsonObject[] = [];
  if (options.sideEffectReceipts) {
    for (const call of calls) {
      const se = sideEffectReceipt(call, agentDid, runId, span);
      if (se) sideEffects.push(se);
      const har = approvalReceipt(call, contents, agentDid, runId, span);
      if (har) approvals.push(har);
    }
    if ((sideEffects.length > 0 || approvals.length > 0) && span === undefined) {
      throw new ClawExportError(
        'CLAW_EXPORT_ORPHANED',
        'side-effect and human-approval receipts need a gateway receipt in the bundle that declares a span id (the reference verifier fails them as CAUSAL_SIDE_EFFECT_ORPHANED / CAUSAL_HUMAN_APPROVAL_ORPHANED otherwise); export without --side-effect-receipts',
      );
    }
  }

  // Parts: consecutive slices of the chain, each a chain of its own (the verifier wants prev null first) that
  // starts with the run's anchor event, so a gateway receipt bound to the anchor verifies in any part.
  const [anchor, ...rest] = chain as [ChainEntry, ...ChainEntry[]];
  const perPart = Math.max(1, Math.min(options.maxEventsPerPart ?? CLAW_LIMITS.events - 1, CLAW_LIMITS.events - 1));
  const slices: ChainEntry[][] = [];
  for (let i = 0; i < rest.length; i += perPart) slices.push([anchor, ...rest.slice(i, i + perPart)]);
  if (slices.length === 0) slices.push([anchor]);

  const partOf = new Map<string, number>();
  const rechained: ClawEvent[][] = slices.map((slice, index) => {
    let prev: string | null = null;
    return slice.map((entry) => {
      const header = { ...entry.event, prev_hash_b64u: prev };
      const { event_hash_b64u: _old, ...rest } = header;
      const event: ClawEvent = { ...rest, event_hash_b64u: eventHash(rest) };
      prev = event.event_hash_b64u;
      if (!partOf.has(entry.event.event_hash_b64u)) partOf.set(entry.event.event_hash_b64u, index);
      return event;
    });
  });
  // Receipts bind to the event hash inside their part; map the run-wide chain hash to the part's.
  const partHash = new Map<string, string>();
  slices.forEach((slice, p) => slice.forEach((entry, i) => partHash.set(entry.event.event_hash_b64u, (rechained[p] as ClawEvent[])[i]?.event_hash_b64u ?? '')));
  const rebind = (receipt: JsonObject): { part: number; receipt: JsonObject } => {
    const binding = receipt.binding as { event_hash_b64u: string };
    return { part: partOf.get(binding.event_hash_b64u) ?? 0, receipt: { ...receipt, binding: { ...binding, event_hash_b64u: partHash.get(binding.event_hash_b64u) } } };
  };
  const tools = calls.map((call) => rebind(toolReceipt(call, agentDid, runId)));
  const effects = sideEffects.map(rebind);
  const humans = approvals.map(rebind);

  // Gateway receipts: kept as parsed, in the part whose chain holds the event they bind to.
  const allHashes = new Map<string, number>();
  rechained.forEach((events, p) => events.forEach((e) => {
    if (!allHashes.has(e.event_hash_b64u)) allHashes.set(e.event_hash_b64u, p);
  }));
  let omitted = 0;
  const gatewayByPart = new Map<number, JsonObject[]>();
  for (const { line, envelope } of gateway) {
    const binding = gatewayBinding(envelope);
    let part = 0;
    if (binding) {
      const bound = binding.run_id === runId && typeof binding.event_hash_b64u === 'string' ? allHashes.get(binding.event_hash_b64u) : undefined;
      if (bound === undefined) {
        if (options.omitUnboundGateway) {
          omitted += 1;
          continue;
        }
        throw new ClawExportError(
          'CLAW_EXPORT_GATEWAY_UNBOUND',
          `${CLAW_GATEWAY_FILE} line ${line}: the receipt is bound to another run or to an event not in this run's chain, and the verifier would fail the bundle (RECEIPT_BINDING_MISMATCH); pass --omit-unbound-gateway to leave such receipts out`,
        );
      }
      part = bound;
    }
    gatewayByPart.set(part, [...(gatewayByPart.get(part) ?? []), envelope]);
  }

  const trustPulse = buildTrustPulse(contents, runId, agentDid);
  const manifest = contents.manifest;
  const bundleBase = `cjb_${addressToB64u(options.manifestHash)}`;
  const payloads = rechained.map((events, index) => {
    const inPart = <T extends { part: number; receipt: JsonObject }>(list: T[]): JsonObject[] => list.filter((x) => x.part === index).map((x) => x.receipt);
    const own: JsonObject = {
      bundle_version: '1',
      bundle_id: rechained.length === 1 ? bundleBase : `${bundleBase}_p${index + 1}`,
      agent_did: agentDid,
      event_chain: events,
      ...(inPart(tools).length > 0 ? { tool_receipts: inPart(tools) } : {}),
      ...(inPart(effects).length > 0 ? { side_effect_receipts: inPart(effects) } : {}),
      ...(inPart(humans).length > 0 ? { human_approval_receipts: inPart(humans) } : {}),
      metadata: {
        harness: { id: 'claw-jira', version: VERSION },
        claw_jira: {
          job: manifest.job,
          run_id: runId,
          manifest_hash: options.manifestHash,
          merkle_root: manifest.receipts.merkle_root,
          sealed_at: manifest.sealed_at,
          receipts: manifest.receipts.total,
          part: {
            index: index + 1,
            count: rechained.length,
            first_event: index * perPart + 1,
            events: events.length,
            events_per_part: perPart,
            ...(index > 0 ? { previous_part_last_event_hash_b64u: (rechained[index - 1] as ClawEvent[]).at(-1)?.event_hash_b64u } : {}),
          },
          export_options: { side_effect_receipts: options.sideEffectReceipts, omitted_unbound_gateway_receipts: omitted },
          wpc: manifest.wpcs.map((w) => ({ hash: w.hash, policy_hash_b64u: addressToB64u(w.hash) })),
          tokens: manifest.tokens.slice(0, 32).map((t) => ({ jti: t.jti, token_hash: t.token_hash, token_hash_b64u: addressToB64u(t.token_hash) })),
          ...(manifest.tokens.length > 32 ? { tokens_omitted: manifest.tokens.length - 32 } : {}),
        },
      },
    };
    const sorted = sortKeysDeep(own);
    // Foreign envelopes are inserted after sorting, untouched, at the key's sorted place.
    const part = gatewayByPart.get(index);
    const payload = part && part.length > 0 ? insertSorted(sorted, 'receipts', part) : sorted;
    checkLimits(payload, index + 1);
    return payload;
  });
  return { runId, payloads, trustPulse, omittedGateway: omitted };
}

function insertSorted(sorted: JsonObject, key: string, value: unknown): JsonObject {
  const out: JsonObject = {};
  let placed = false;
  for (const k of Object.keys(sorted)) {
    if (!placed && k > key) {
      out[key] = value;
      placed = true;
    }
    out[k] = sorted[k];
  }
  if (!placed) out[key] = value;
  return out;
}

function checkLimits(payload: JsonObject, part: number): void {
  const count = (key: string): number => (Array.isArray(payload[key]) ? (payload[key] as unknown[]).length : 0);
  const over: string[] = [];
  if (count('receipts') > CLAW_LIMITS.receipts) over.push(`${count('receipts')} gateway receipts`);
  if (count('tool_receipts') > CLAW_LIMITS.toolReceipts) over.push(`${count('tool_receipts')} tool receipts`);
  if (count('side_effect_receipts') > CLAW_LIMITS.toolReceipts) over.push(`${count('side_effect_receipts')} side-effect receipts`);
  if (count('human_approval_receipts') > CLAW_LIMITS.toolReceipts) over.push(`${count('human_approval_receipts')} approval receipts`);
  const metadataBytes = Buffer.byteLength(JSON.stringify(payload.metadata));
  if (metadataBytes > CLAW_LIMITS.metadataBytes) over.push(`metadata of ${metadataBytes} bytes`);
  if (over.length > 0) {
    throw new ClawExportError('CLAW_EXPORT_TOO_LARGE', `part ${part} would exceed the Claw verifier's limits (${over.join(', ')}; at most 1000 of each, metadata 16 KiB)`);
  }
}
