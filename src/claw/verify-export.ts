import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadBundle } from '../bundle/contents.js';
import { BUNDLE } from '../bundle/layout.js';
import type { AddProblem } from '../bundle/problems.js';
import type { TrustStore } from '../keys/trust.js';
import { codeOf, isClawError } from '../util/errors.js';
import { buildClawPayloads, type JsonObject } from './export.js';
import { clawFileBytes, listClawPartFiles, manifestAddress, readClawGateway, TRUST_PULSE_FILE } from './layout.js';
import { verifyClawBundle } from './verify-bundle.js';

interface ExportMeta {
  side_effect_receipts?: unknown;
  omitted_unbound_gateway_receipts?: unknown;
}

function readJson(bundleDir: string, rel: string): unknown {
  try {
    return JSON.parse(readFileSync(join(bundleDir, rel), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * `bundle verify`'s `claw` step: an export in the bundle folder (claw/…) must be what `export-claw` makes
 * from this sealed bundle. Each part must pass the Claw verifier's rules, be signed by a receipt key the
 * auditor trusts (as its did:key), and equal, byte for byte, the part rebuilt from the sealed receipts; the
 * Trust Pulse likewise. A bundle without an export passes this step with a note.
 */
export function checkClawExport(bundleDir: string, trust: TrustStore, add: AddProblem): string | undefined {
  const parts = listClawPartFiles(bundleDir);
  if (parts.length === 0) return 'no Claw export';
  if (!existsSync(join(bundleDir, BUNDLE.manifest))) {
    add({ step: 'claw', code: 'CLAW_EXPORT_UNSEALED', file: parts[0] as string, message: 'a Claw export exists but the bundle is not sealed' });
    return undefined;
  }
  const envelopes = parts.map((rel) => ({ rel, value: readJson(bundleDir, rel) as JsonObject | undefined }));
  let agentDid: string | undefined;
  let meta: ExportMeta = {};
  let perPart: number | undefined;
  for (const { rel, value } of envelopes) {
    if (!value) {
      add({ step: 'claw', code: 'CLAW_EXPORT_UNREADABLE', file: rel, message: 'not JSON' });
      return undefined;
    }
    const gatewaySigners = ((value.payload as JsonObject | undefined)?.receipts as JsonObject[] | undefined ?? []).map((r) => r.signer_did as string);
    const result = verifyClawBundle(value, { gatewaySignerDids: gatewaySigners });
    if (result.status !== 'PASS') {
      add({ step: 'claw', code: 'CLAW_EXPORT_INVALID', file: rel, message: `the Claw verifier's rules fail: ${result.reason_code} at ${result.step}: ${result.reason}` });
      continue;
    }
    const signer = value.signer_did as string;
    if (!trust.getByDid(signer, 'receipt')) {
      add({ step: 'claw', code: 'CLAW_EXPORT_UNTRUSTED_SIGNER', file: rel, message: `signed by ${signer}, not a receipt key your --trust lists` });
    }
    agentDid ??= signer;
    const claw = ((value.payload as JsonObject).metadata as JsonObject | undefined)?.claw_jira as JsonObject | undefined;
    meta = (claw?.export_options as ExportMeta | undefined) ?? {};
    const part = claw?.part as JsonObject | undefined;
    if (typeof part?.events_per_part === 'number') perPart = part.events_per_part;
  }
  if (agentDid === undefined) return undefined;
  let rebuilt;
  try {
    rebuilt = buildClawPayloads(loadBundle(bundleDir), readClawGateway(bundleDir), {
      agentDid,
      sideEffectReceipts: meta.side_effect_receipts === true,
      omitUnboundGateway: typeof meta.omitted_unbound_gateway_receipts === 'number' && meta.omitted_unbound_gateway_receipts > 0,
      manifestHash: manifestAddress(bundleDir),
      ...(perPart !== undefined ? { maxEventsPerPart: perPart } : {}),
    });
  } catch (error) {
    add({ step: 'claw', code: codeOf(error, 'CLAW_EXPORT_MISMATCH'), file: parts[0] as string, message: `the export cannot be rebuilt from the sealed bundle: ${isClawError(error) ? error.message : 'unexpected error'}` });
    return undefined;
  }
  if (rebuilt.payloads.length !== parts.length) {
    add({ step: 'claw', code: 'CLAW_EXPORT_MISMATCH', file: parts[0] as string, message: `the sealed bundle gives ${rebuilt.payloads.length} part(s), the folder holds ${parts.length}` });
  }
  envelopes.forEach(({ rel, value }, i) => {
    const expected = rebuilt.payloads[i];
    if (expected !== undefined && JSON.stringify(value?.payload) !== JSON.stringify(expected)) {
      add({ step: 'claw', code: 'CLAW_EXPORT_MISMATCH', file: rel, message: 'the exported payload is not the one the sealed receipts give (changed after export, or exported from other receipts)' });
    }
  });
  const pulse = existsSync(join(bundleDir, TRUST_PULSE_FILE)) ? readFileSync(join(bundleDir, TRUST_PULSE_FILE), 'utf8') : undefined;
  if (pulse !== clawFileBytes(rebuilt.trustPulse)) {
    add({ step: 'claw', code: 'CLAW_TRUST_PULSE_MISMATCH', file: TRUST_PULSE_FILE, message: pulse === undefined ? 'the Trust Pulse summary is missing' : 'the Trust Pulse summary is not the one the sealed receipts give' });
  }
  return `${parts.length} Claw part(s), run ${rebuilt.runId}`;
}
