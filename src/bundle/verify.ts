import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TrustStore } from '../keys/trust.js';
import { hashAddress } from '../util/canonical.js';
import { BundleError } from './errors.js';
import type { GatewayKeys } from './gateway.js';
import { BUNDLE, listAllFiles, listReceiptFiles } from './layout.js';
import { ProblemList, VERIFY_STEPS, type AddProblem, type BundleProblem, type VerifyStep } from './problems.js';
import { bundleReceiptKeys, checkApprovals, checkGateway, checkManifest, checkSeal, checkWpcs } from './verify-artifacts.js';
import { checkReceipts } from './verify-receipts.js';
import { checkClawExport } from '../claw/verify-export.js';

export interface VerifyOptions {
  /** The auditor's keys: receipts and the manifest need a trusted `receipt` key, WPCs a `policy` key. Never the bundle's own keys/trust.json. */
  trust: TrustStore;
  /** The gateway's JWKS, for an independent check of imported model-gateway receipts. */
  gatewayTrust?: GatewayKeys;
  /** The manifest hash printed at sealing time, kept elsewhere: pins the seal against a complete re-seal. */
  expectManifestHash?: string;
  /** Worker threads for signatures; 0 runs inline. Default: up to 2 when the compiled worker exists and the bundle is large. */
  workers?: number;
  workerScript?: URL;
  /** Bytes per unit of work (whole lines; default 1 MiB). */
  segmentBytes?: number;
}

export interface StepResult {
  step: VerifyStep;
  ok: boolean;
  problems: number;
  note?: string;
}

export interface VerifySummary {
  job: string | null;
  manifest_hash: string | null;
  sealed_at: string | null;
  time_window: { first: string | null; last: string | null };
  receipt_files: number;
  receipts: number;
  kinds: { decision: number; outcome: number; event: number };
  merkle_root: string | null;
  wpcs: string[];
  tokens: number;
  keys: { manifest: string | null; receipt: string[]; policy: string[]; approver: string[]; gateway: string[] };
  approvals: number;
  gateway_receipts: number;
  threads: number;
  elapsed_ms: number;
}

export interface BundleVerification {
  ok: boolean;
  bundle: string;
  steps: StepResult[];
  problems: BundleProblem[];
  /** Things an auditor should know that do not fail verification. */
  warnings: string[];
  summary: VerifySummary;
}

/**
 * Verify a proof bundle offline, as a pipeline of named steps; each problem names its step, a stable code,
 * the file and (for line files) the line. Never throws for what it finds in the bundle, only when it cannot
 * run at all (no such folder).
 */
export async function verifyBundle(bundleDir: string, options: VerifyOptions): Promise<BundleVerification> {
  const started = performance.now();
  if (!existsSync(bundleDir) || !statSync(bundleDir).isDirectory()) {
    throw new BundleError('BUNDLE_NOT_FOUND', `no bundle folder at ${bundleDir}`);
  }
  const problems = new ProblemList();
  const warnings: string[] = [];
  const notes = new Map<VerifyStep, string>();
  const add: AddProblem = (p) => problems.add(p);

  // layout
  const receiptFiles = listReceiptFiles(bundleDir);
  if (receiptFiles.length === 0) add({ step: 'layout', code: 'BUNDLE_NO_RECEIPTS', file: BUNDLE.receipts, message: 'the bundle has no receipt files' });
  const known = /^(receipts\/[^/]+\.jsonl|wpc\/[^/]+|keys\/trust\.json|approvals\/[^/]+\.json|gateway\/[^/]+\.(jsonl|jwks\.json)|claw\/[^/]+\.json|manifest\.(json|sig))$/;
  for (const file of listAllFiles(bundleDir)) {
    if (!known.test(file)) warnings.push(`${file} is not part of the bundle layout and is not covered by the seal`);
  }

  // manifest
  const manifestState = await checkManifest(bundleDir, options.trust, options.expectManifestHash, add);
  const manifest = manifestState.manifest;

  // wpc (first: the receipt pass re-runs decisions against the WPCs that hash to their name)
  const wpcState = await checkWpcs(bundleDir, options.trust, manifest, add);

  // signatures, chain, counts, merkle, decisions, tokens
  const receiptState = await checkReceipts(bundleDir, receiptFiles, manifest, wpcState.authentic, options, add);
  for (const hash of receiptState.wpcRefs) {
    if (!wpcState.present.has(hash)) {
      add({ step: 'wpc', code: 'WPC_MISSING', file: `${BUNDLE.wpc}/${hash.slice(7)}.json`, message: `receipts name WPC ${hash}, which is not in the bundle` });
    }
  }

  // seal
  checkSeal(bundleDir, receiptFiles, manifest, manifestState.hash, add);

  // files covered by the manifest besides receipts
  if (manifest) {
    const trustPath = join(bundleDir, BUNDLE.trustFile);
    const trustHash = existsSync(trustPath) ? hashAddress(readFileSync(trustPath)) : null;
    if (trustHash !== manifest.keys.trust_file_sha256) {
      add({ step: 'files', code: 'KEYS_CHANGED', file: BUNDLE.trustFile, message: 'keys/trust.json is not the one sealed' });
    }
  }
  for (const key of bundleReceiptKeys(bundleDir)) {
    if (!options.trust.get(key, 'receipt')) warnings.push(`keys/trust.json lists receipt key ${key}, which your --trust does not trust`);
  }

  const approvalCount = await checkApprovals(bundleDir, options.trust, manifest, add, receiptFiles);
  const gatewayState = await checkGateway(bundleDir, options.gatewayTrust, manifest, add, warnings);
  if (gatewayState.files === 0) notes.set('gateway', 'no gateway receipts');
  // claw: an export made by `bundle export-claw` must be what the sealed receipts give.
  const clawNote = checkClawExport(bundleDir, options.trust, add);
  if (clawNote) notes.set('claw', clawNote);
  notes.set('signatures', `${receiptState.total} receipts on ${receiptState.threads === 0 ? 'the main thread' : `${receiptState.threads} worker threads`}`);

  const listed = problems.list();
  const steps: StepResult[] = VERIFY_STEPS.map((step) => ({
    step,
    ok: problems.count(step) === 0,
    problems: problems.count(step),
    ...(notes.has(step) ? { note: notes.get(step) as string } : {}),
  }));
  return {
    ok: listed.length === 0,
    bundle: bundleDir,
    steps,
    problems: listed,
    warnings,
    summary: {
      job: manifest?.job ?? receiptState.job,
      manifest_hash: manifestState.hash,
      sealed_at: manifest?.sealed_at ?? null,
      time_window: { first: receiptState.firstTime, last: receiptState.lastTime },
      receipt_files: receiptFiles.length,
      receipts: receiptState.total,
      kinds: receiptState.kinds,
      merkle_root: receiptState.root,
      wpcs: [...wpcState.present].sort(),
      tokens: receiptState.tokens.size,
      keys: {
        manifest: manifestState.signer,
        receipt: [...receiptState.kids].sort(),
        policy: [...wpcState.signers].sort(),
        approver: manifest?.keys.approver ?? [],
        gateway: manifest?.keys.gateway ?? [],
      },
      approvals: approvalCount,
      gateway_receipts: gatewayState.receipts,
      threads: receiptState.threads,
      elapsed_ms: Math.round(performance.now() - started),
    },
  };
}
