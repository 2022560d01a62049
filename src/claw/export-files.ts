import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, extname, join } from 'node:path';
import { loadBundle } from '../bundle/contents.js';
import { BUNDLE, isSealed } from '../bundle/layout.js';
import { verifyBundle } from '../bundle/verify.js';
import type { GatewayKeys } from '../bundle/gateway.js';
import type { SigningKey } from '../keys/ed25519.js';
import type { TrustStore } from '../keys/trust.js';
import { fsyncDir, writeFileAtomic } from '../util/files.js';
import { createEnvelope, envelopeSigner, type SignedEnvelope } from './envelope.js';
import { buildClawPayloads, ClawExportError, type JsonObject } from './export.js';
import { CLAW_DIR, TRUST_PULSE_FILE, clawFileBytes, clawPartFile, manifestAddress, readClawGateway } from './layout.js';
import type { TrustPulse } from './trust-pulse.js';
import { verifyClawBundle, type ClawVerifyResult } from './verify-bundle.js';

export interface ExportClawOptions {
  /** The receipt key: the export is signed by it, as its did:key. */
  key: SigningKey;
  /** The auditor-side trust the bundle must verify against before it is exported. */
  trust: TrustStore;
  /** The auditor's own gateway keys: imported gateway receipts verify against these only (never the bundle's copy). */
  gatewayTrust?: GatewayKeys;
  sideEffectReceipts?: boolean;
  omitUnboundGateway?: boolean;
  /** A copy of the export outside the bundle (`-o`); parts get `.part-NNN` before the extension. */
  output?: string;
  maxEventsPerPart?: number;
  now?: number;
}

export interface ExportClawResult {
  runId: string;
  agentDid: string;
  files: string[];
  outputs: string[];
  trustPulse: TrustPulse;
  verification: ClawVerifyResult[];
  omittedGateway: number;
}

function outputPath(output: string, index: number, count: number): string {
  if (count === 1) return output;
  const ext = extname(output);
  return join(dirname(output), `${basename(output, ext)}.part-${String(index).padStart(3, '0')}${ext || '.json'}`);
}

/**
 * Export a sealed bundle for Claw's verifier. Refuses an unsealed bundle, one that does not verify (an export
 * would launder its damage into a fresh signature), a receipt key the trust does not list, and any export its
 * own check of the verifier's rules fails. Nothing is written unless every part passes.
 */
export async function exportClawBundle(bundleDir: string, options: ExportClawOptions): Promise<ExportClawResult> {
  if (!isSealed(bundleDir) || !existsSync(join(bundleDir, BUNDLE.manifest))) {
    throw new ClawExportError('CLAW_EXPORT_UNSEALED', 'the bundle is not sealed: run `claw-jira bundle seal` first');
  }
  if (!options.trust.get(options.key.kid, 'receipt')) {
    throw new ClawExportError('CLAW_EXPORT_BUNDLE_INVALID', `the receipt key ${options.key.kid} is not a trusted receipt key of --trust`);
  }
  const verified = await verifyBundle(bundleDir, { trust: options.trust, ...(options.gatewayTrust ? { gatewayTrust: options.gatewayTrust } : {}) });
  // A stale earlier export is what this run replaces; every other problem refuses the export.
  const problems = verified.problems.filter((p) => p.step !== 'claw');
  if (problems.length > 0) {
    const first = problems[0];
    throw new ClawExportError('CLAW_EXPORT_BUNDLE_INVALID', `the bundle does not verify (${problems.length} problem(s), first ${first?.code}: ${first?.message}); nothing exported`);
  }
  const signer = envelopeSigner(options.key);
  const contents = loadBundle(bundleDir);
  const gateway = readClawGateway(bundleDir);
  const built = buildClawPayloads(contents, gateway, {
    agentDid: signer.did,
    sideEffectReceipts: options.sideEffectReceipts ?? false,
    omitUnboundGateway: options.omitUnboundGateway ?? false,
    manifestHash: manifestAddress(bundleDir),
    ...(options.maxEventsPerPart !== undefined ? { maxEventsPerPart: options.maxEventsPerPart } : {}),
  });
  const issuedAt = contents.manifest?.sealed_at ?? new Date(0).toISOString();
  const envelopes: SignedEnvelope<JsonObject>[] = built.payloads.map((payload) => createEnvelope('proof_bundle', payload, signer, { issuedAt }));
  // The export must pass the verifier's rules before anything is written. Gateway signatures and bindings are
  // checked against the signers the receipts name (trusting them is the auditor's call, not the exporter's).
  const gatewaySigners = [...new Set(gateway.map((g) => g.envelope.signer_did).filter((d): d is string => typeof d === 'string'))];
  const verification = envelopes.map((envelope) => verifyClawBundle(envelope, { gatewaySignerDids: gatewaySigners, ...(options.now !== undefined ? { now: options.now } : {}) }));
  const failed = verification.findIndex((v) => v.status !== 'PASS');
  if (failed !== -1) {
    const v = verification[failed] as ClawVerifyResult;
    throw new ClawExportError('CLAW_EXPORT_BUNDLE_INVALID', `part ${failed + 1} would fail the Claw verifier: ${v.reason_code} at ${v.step}: ${v.reason}`);
  }
  const files: string[] = [];
  const outputs: string[] = [];
  // The whole claw/ folder is written aside and then swapped in, so a failed write leaves the previous export
  // (or none), never a mix of parts.
  const staging = join(bundleDir, `.${CLAW_DIR}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    mkdirSync(staging);
    envelopes.forEach((envelope, i) => {
      const rel = clawPartFile(i + 1, envelopes.length);
      writeFileAtomic(join(staging, rel.slice(CLAW_DIR.length + 1)), clawFileBytes(envelope));
      files.push(rel);
    });
    writeFileAtomic(join(staging, TRUST_PULSE_FILE.slice(CLAW_DIR.length + 1)), clawFileBytes(built.trustPulse));
    files.push(TRUST_PULSE_FILE);
    rmSync(join(bundleDir, CLAW_DIR), { recursive: true, force: true });
    renameSync(staging, join(bundleDir, CLAW_DIR));
    fsyncDir(bundleDir);
    envelopes.forEach((envelope, i) => {
      if (!options.output) return;
      const out = outputPath(options.output, i + 1, envelopes.length);
      writeFileAtomic(out, clawFileBytes(envelope));
      outputs.push(out);
    });
  } catch {
    rmSync(staging, { recursive: true, force: true });
    throw new ClawExportError('CLAW_EXPORT_UNWRITABLE', 'cannot write the Claw export (bundle folder or -o path not writable)');
  }
  return { runId: built.runId, agentDid: signer.did, files, outputs, trustPulse: built.trustPulse, verification, omittedGateway: built.omittedGateway };
}
