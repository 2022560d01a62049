import { existsSync, statSync } from 'node:fs';
import type { TrustStore } from '../keys/trust.js';
import { BundleError } from './errors.js';
import type { GatewayKeys } from './gateway.js';
import type { Manifest } from './manifest.js';
import { ProblemList, VERIFY_STEPS, type AddProblem, type BundleProblem, type VerifyStep } from './problems.js';
import {
  checkApprovals,
  checkGateway,
  checkLayout,
  checkManifest,
  checkSeal,
  checkTrustFile,
  checkWpcReferences,
  checkWpcs,
} from './verify-artifacts.js';
import { checkMerkleRoot, checkReceiptFiles, checkReceiptTotal, checkTokenList, noReceipts, readReceipts, type ReceiptState } from './verify-receipts.js';
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

/** What the steps share: the inputs, where problems and warnings go, and what the steps before found. */
interface VerifyRun {
  readonly dir: string;
  readonly options: VerifyOptions;
  readonly warnings: string[];
  readonly notes: Map<VerifyStep, string>;
  receiptFiles: string[];
  manifest: { manifest: Manifest | undefined; hash: string | null; signer: string | null };
  wpcs: Awaited<ReturnType<typeof checkWpcs>>;
  receipts: ReceiptState;
  approvals: number;
  gatewayReceipts: number;
}

/**
 * One step of the pipeline: a function of the run so far that adds problems (only of the steps it names in
 * `reports`) and never throws for what it finds in the bundle.
 */
interface PipelineStep {
  readonly name: string;
  readonly reports: readonly VerifyStep[];
  run(run: VerifyRun, add: AddProblem): void | Promise<void>;
}

/**
 * `bundle verify`, in the order it runs (after sigstore-js's Verifier: each step its own function, each failure
 * its own code and place). The order is what the steps need: the WPCs before the receipt pass, which re-runs
 * decisions against the WPCs that hash to their name; the seal's comparisons after the pass that counted the
 * files. Problems are reported in VERIFY_STEPS order whatever the order here.
 */
export const VERIFY_PIPELINE: readonly PipelineStep[] = [
  {
    name: 'layout',
    reports: ['layout'],
    run: (r, add) => {
      r.receiptFiles = checkLayout(r.dir, add, r.warnings);
    },
  },
  {
    name: 'manifest',
    reports: ['manifest'],
    run: async (r, add) => {
      r.manifest = await checkManifest(r.dir, r.options.trust, r.options.expectManifestHash, add);
    },
  },
  {
    name: 'wpc',
    reports: ['wpc'],
    run: async (r, add) => {
      r.wpcs = await checkWpcs(r.dir, r.options.trust, r.manifest.manifest, add);
    },
  },
  {
    name: 'receipt lines',
    reports: ['signatures', 'chain', 'counts', 'decisions', 'tokens'],
    run: async (r, add) => {
      r.receipts = await readReceipts(r.dir, r.receiptFiles, r.manifest.manifest, r.wpcs.authentic, r.options, add);
      r.notes.set('signatures', `${r.receipts.total} receipts on ${r.receipts.threads === 0 ? 'the main thread' : `${r.receipts.threads} worker threads`}`);
    },
  },
  { name: 'wpc references', reports: ['wpc'], run: (r, add) => checkWpcReferences(r.receipts.wpcRefs, r.wpcs.present, add) },
  { name: 'seal', reports: ['seal'], run: (r, add) => checkSeal(r.dir, r.receiptFiles, r.manifest.manifest, r.manifest.hash, add) },
  { name: 'receipt files', reports: ['files', 'counts'], run: (r, add) => checkReceiptFiles(r.manifest.manifest, r.receipts, add) },
  { name: 'receipt total', reports: ['counts'], run: (r, add) => checkReceiptTotal(r.manifest.manifest, r.receipts, add) },
  { name: 'merkle root', reports: ['merkle'], run: (r, add) => checkMerkleRoot(r.manifest.manifest, r.receipts, add) },
  { name: 'token list', reports: ['tokens'], run: (r, add) => checkTokenList(r.manifest.manifest, r.receipts, add) },
  {
    name: 'trust file',
    reports: ['files'],
    run: (r, add) => {
      checkTrustFile(r.dir, r.manifest.manifest, r.options.trust, add, r.warnings);
      for (const torn of r.receipts.tornTails) {
        r.warnings.push(`RECEIPT_TORN_TAIL: ${torn.file} ends in ${torn.bytes} bytes of a receipt line torn by a crash mid-write, sealed as found; it is not a receipt`);
      }
    },
  },
  {
    name: 'approvals',
    reports: ['approvals'],
    run: async (r, add) => {
      r.approvals = await checkApprovals(r.dir, r.options.trust, r.manifest.manifest, add, r.receiptFiles);
    },
  },
  {
    name: 'gateway',
    reports: ['gateway'],
    run: async (r, add) => {
      const gateway = await checkGateway(r.dir, r.options.gatewayTrust, r.manifest.manifest, add, r.warnings);
      r.gatewayReceipts = gateway.receipts;
      if (gateway.files === 0) r.notes.set('gateway', 'no gateway receipts');
    },
  },
  {
    // An export made by `bundle export-claw` must be what the sealed receipts give.
    name: 'claw',
    reports: ['claw'],
    run: (r, add) => {
      const note = checkClawExport(r.dir, r.options.trust, add);
      if (note) r.notes.set('claw', note);
    },
  },
];

/**
 * Verify a proof bundle offline, as the pipeline of named steps above; each problem names its step, a stable
 * code, the file and (for line files) the line. Never throws for what it finds in the bundle, only when it
 * cannot run at all (no such folder) or a step reports outside its steps (VERIFY_STEP_MISREPORTED, a bug here).
 */
export async function verifyBundle(bundleDir: string, options: VerifyOptions): Promise<BundleVerification> {
  const started = performance.now();
  if (!existsSync(bundleDir) || !statSync(bundleDir).isDirectory()) {
    throw new BundleError('BUNDLE_NOT_FOUND', `no bundle folder at ${bundleDir}`);
  }
  const problems = new ProblemList();
  const run: VerifyRun = {
    dir: bundleDir,
    options,
    warnings: [],
    notes: new Map(),
    receiptFiles: [],
    manifest: { manifest: undefined, hash: null, signer: null },
    wpcs: { authentic: [], present: new Set(), signers: new Set() },
    receipts: noReceipts(),
    approvals: 0,
    gatewayReceipts: 0,
  };
  for (const step of VERIFY_PIPELINE) {
    await step.run(run, (problem) => {
      // A step reporting under another step's name is a bug here, not a finding about the bundle.
      if (!step.reports.includes(problem.step)) throw new BundleError('VERIFY_STEP_MISREPORTED', `verify step ${step.name} reported ${problem.code} under ${problem.step}`);
      problems.add(problem);
    });
  }

  const listed = problems.list();
  const steps: StepResult[] = VERIFY_STEPS.map((step) => ({
    step,
    ok: problems.count(step) === 0,
    problems: problems.count(step),
    ...(run.notes.has(step) ? { note: run.notes.get(step) as string } : {}),
  }));
  const { manifest, hash, signer } = run.manifest;
  const receipts = run.receipts;
  return {
    ok: listed.length === 0,
    bundle: bundleDir,
    steps,
    problems: listed,
    warnings: run.warnings,
    summary: {
      job: manifest?.job ?? receipts.job,
      manifest_hash: hash,
      sealed_at: manifest?.sealed_at ?? null,
      time_window: { ...receipts.window },
      receipt_files: run.receiptFiles.length,
      receipts: receipts.total,
      kinds: receipts.kinds,
      merkle_root: receipts.root,
      wpcs: [...run.wpcs.present].sort(),
      tokens: receipts.tokens.size,
      keys: {
        manifest: signer,
        receipt: [...receipts.kids].sort(),
        policy: [...run.wpcs.signers].sort(),
        approver: manifest?.keys.approver ?? [],
        gateway: manifest?.keys.gateway ?? [],
      },
      approvals: run.approvals,
      gateway_receipts: run.gatewayReceipts,
      threads: receipts.threads,
      elapsed_ms: Math.round(performance.now() - started),
    },
  };
}
