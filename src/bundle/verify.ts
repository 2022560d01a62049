import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { verifyApproval } from '../approvals/approvals.js';
import type { TrustStore } from '../keys/trust.js';
import { verifyReceiptChain } from '../receipts/chain.js';
import { hashAddress } from '../util/canonical.js';
import { isClawError } from '../util/errors.js';
import { wpcDocumentFromBytes } from '../wpc/document.js';
import { verifyWpcSignature } from '../wpc/signature.js';
import { readApprovals } from './approvals.js';
import { BundleError } from './errors.js';
import { parseGatewayKeys, verifyGatewayText, type GatewayKeys } from './gateway.js';
import { BUNDLE, gatewayJwksPath, isSealFile, listAllFiles, listGatewayFiles, listReceiptFiles } from './layout.js';
import { parseManifest, verifyManifestSignature, type Manifest } from './manifest.js';
import { MerkleBuilder, rootAddress } from './merkle.js';
import { defaultWorkerCount, defaultWorkerScript, inlineRunner, workerRunner, type SegmentRunner } from './pool.js';
import { ProblemList, VERIFY_STEPS, type BundleProblem, type VerifyStep } from './problems.js';
import type { SegmentResult, SegmentTask, TokenUse } from './segment.js';
import { SEALED_EVENT } from './seal.js';
import { readBundleWpcs } from './wpc-files.js';

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

const NEWLINE = 0x0a;
const INLINE_BELOW_BYTES = 2 * 1024 * 1024;

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
  const add = (p: BundleProblem): void => problems.add(p);

  // layout
  const receiptFiles = listReceiptFiles(bundleDir);
  if (receiptFiles.length === 0) add({ step: 'layout', code: 'BUNDLE_NO_RECEIPTS', file: BUNDLE.receipts, message: 'the bundle has no receipt files' });
  const known = /^(receipts\/[^/]+\.jsonl|wpc\/[^/]+|keys\/trust\.json|approvals\/[^/]+\.json|gateway\/[^/]+\.(jsonl|jwks\.json)|manifest\.(json|sig))$/;
  for (const file of listAllFiles(bundleDir)) {
    if (!known.test(file)) warnings.push(`${file} is not part of the bundle layout and is not covered by the seal`);
  }

  // manifest
  const manifestState = await checkManifest(bundleDir, options, add);
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

  const approvalCount = await checkApprovals(bundleDir, options.trust, manifest, add);
  const gatewayState = await checkGateway(bundleDir, options.gatewayTrust, manifest, add, warnings);
  if (gatewayState.files === 0) notes.set('gateway', 'no gateway receipts');
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

type Add = (p: BundleProblem) => void;

async function checkManifest(
  bundleDir: string,
  options: VerifyOptions,
  add: Add,
): Promise<{ manifest: Manifest | undefined; hash: string | null; signer: string | null }> {
  const path = join(bundleDir, BUNDLE.manifest);
  if (!existsSync(path)) {
    add({ step: 'manifest', code: 'MANIFEST_MISSING', file: BUNDLE.manifest, message: 'the bundle is not sealed (no manifest.json)' });
    return { manifest: undefined, hash: null, signer: null };
  }
  const bytes = new Uint8Array(readFileSync(path));
  const hash = hashAddress(bytes);
  const parsed = parseManifest(bytes);
  if (!parsed.ok) add({ step: 'manifest', code: parsed.code, file: BUNDLE.manifest, message: parsed.message });
  let signer: string | null = null;
  const sigPath = join(bundleDir, BUNDLE.manifestSig);
  if (!existsSync(sigPath)) {
    add({ step: 'manifest', code: 'MANIFEST_SIGNATURE_MISSING', file: BUNDLE.manifestSig, message: 'manifest.sig is missing' });
  } else {
    const check = await verifyManifestSignature(readFileSync(sigPath, 'utf8'), bytes, options.trust);
    if (check.ok) signer = check.payload.kid;
    else add({ step: 'manifest', code: check.code, file: check.code === 'MANIFEST_HASH_MISMATCH' ? BUNDLE.manifest : BUNDLE.manifestSig, message: check.message });
    if (check.ok && parsed.ok && check.payload.job !== parsed.manifest.job) {
      add({ step: 'manifest', code: 'MANIFEST_SIGNATURE_INVALID', file: BUNDLE.manifestSig, message: 'the signature is for another job' });
    }
  }
  if (options.expectManifestHash !== undefined && options.expectManifestHash !== hash) {
    add({
      step: 'manifest',
      code: 'MANIFEST_NOT_EXPECTED',
      file: BUNDLE.manifest,
      message: `manifest.json is ${hash}, not the expected ${options.expectManifestHash}: the bundle was sealed again`,
    });
  }
  return { manifest: parsed.ok ? parsed.manifest : undefined, hash, signer };
}

async function checkWpcs(
  bundleDir: string,
  trust: TrustStore,
  manifest: Manifest | undefined,
  add: Add,
): Promise<{ authentic: { hash: string; bytes: Uint8Array }[]; present: Set<string>; signers: Set<string> }> {
  const { wpcs, strays } = readBundleWpcs(bundleDir);
  const authentic: { hash: string; bytes: Uint8Array }[] = [];
  const signers = new Set<string>();
  for (const stray of strays) add({ step: 'wpc', code: 'WPC_UNEXPECTED_FILE', file: stray, message: 'not a WPC file (wpc/<hex>.json with wpc/<hex>.sig)' });
  for (const wpc of wpcs) {
    try {
      wpcDocumentFromBytes(wpc.bytes, wpc.hash);
      authentic.push({ hash: wpc.hash, bytes: wpc.bytes });
    } catch (error) {
      add({ step: 'wpc', code: isClawError(error) ? error.code : 'WPC_INVALID', file: wpc.path, message: isClawError(error) ? error.message : 'invalid WPC' });
    }
    if (wpc.signature === undefined || wpc.signature.trim() === '') {
      add({ step: 'wpc', code: 'WPC_SIGNATURE_MISSING', file: wpc.sigPath, message: 'the WPC has no signature' });
    } else {
      try {
        const signer = await verifyWpcSignature(wpc.signature, wpc.hash, trust);
        signers.add(signer.kid);
      } catch (error) {
        add({ step: 'wpc', code: isClawError(error) ? error.code : 'WPC_SIGNATURE_INVALID', file: wpc.sigPath, message: isClawError(error) ? error.message : 'bad signature' });
      }
    }
  }
  const present = new Set(wpcs.map((w) => w.hash));
  if (manifest) {
    for (const sealed of manifest.wpcs) {
      const now = wpcs.find((w) => w.hash === sealed.hash);
      if (!now) add({ step: 'wpc', code: 'WPC_MISSING', file: sealed.path, message: `WPC ${sealed.hash} was sealed but is gone` });
      else if (hashAddress(now.signature ?? '') !== sealed.sig_sha256) {
        add({ step: 'wpc', code: 'WPC_SIGNATURE_CHANGED', file: sealed.sig_path, message: 'the WPC signature file is not the one sealed' });
      }
    }
    for (const wpc of wpcs) {
      if (!manifest.wpcs.some((s) => s.hash === wpc.hash)) add({ step: 'wpc', code: 'WPC_ADDED', file: wpc.path, message: 'a WPC that was not sealed' });
    }
  }
  return { authentic, present, signers };
}

interface FileWork {
  path: string;
  buf: Buffer;
  covered: boolean;
  completeLines: number;
  truncated: boolean;
  identity: SegmentTask['identity'];
  results: Promise<SegmentResult>[];
}

/**
 * The file in a SharedArrayBuffer: worker threads read their segments in place, so a 100 MB bundle is never
 * copied between threads.
 */
function readShared(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const view = new Uint8Array(new SharedArrayBuffer(size));
    let done = 0;
    while (done < size) {
      const n = readSync(fd, view, done, size - done, done);
      if (n === 0) break;
      done += n;
    }
    return Buffer.from(view.buffer, 0, done);
  } finally {
    closeSync(fd);
  }
}

interface ReceiptState {
  total: number;
  kinds: { decision: number; outcome: number; event: number };
  root: string | null;
  job: string | null;
  firstTime: string | null;
  lastTime: string | null;
  tokens: Map<string, TokenUse & { file: string }>;
  wpcRefs: Set<string>;
  kids: Set<string>;
  threads: number;
}

function chooseRunner(init: { trust: ReturnType<TrustStore['toFile']>; wpcs: { hash: string; bytes: Uint8Array }[] }, options: VerifyOptions, bytes: number): SegmentRunner {
  const script = options.workerScript ?? defaultWorkerScript();
  const wanted = options.workers ?? (bytes >= INLINE_BELOW_BYTES ? defaultWorkerCount() : 0);
  if (wanted <= 0 || !script) return inlineRunner(init);
  return workerRunner(init, script, wanted);
}

async function checkReceipts(
  bundleDir: string,
  receiptFiles: string[],
  manifest: Manifest | undefined,
  wpcs: { hash: string; bytes: Uint8Array }[],
  options: VerifyOptions,
  add: Add,
): Promise<ReceiptState> {
  const sealed = new Map((manifest?.receipts.files ?? []).map((f) => [f.path, f]));
  const buffers = receiptFiles.map((path) => ({ path, buf: readShared(join(bundleDir, path)) }));
  const runner = chooseRunner({ trust: options.trust.toFile(), wpcs }, options, buffers.reduce((n, b) => n + b.buf.length, 0));
  const perSegment = Math.max(1, options.segmentBytes ?? 1024 * 1024);
  const work: FileWork[] = [];
  let index = 0;
  try {
    for (const { path, buf } of buffers) {
      const complete = buf.lastIndexOf(NEWLINE) + 1;
      const firstNewline = buf.indexOf(NEWLINE);
      const item: FileWork = {
        path,
        buf,
        // Without a manifest, the root is computed over every server file, for the record.
        covered: manifest ? sealed.has(path) : !isSealFile(path),
        completeLines: 0,
        truncated: complete < buf.length || buf.length === 0,
        identity: firstNewline === -1 ? null : identityOf(buf.subarray(0, firstNewline)),
        results: [],
      };
      // Cut by size at line ends: the main thread never walks the lines, the workers count them.
      for (let start = 0; start < complete; ) {
        const end = start + perSegment >= complete ? complete : buf.indexOf(NEWLINE, start + perSegment - 1) + 1;
        item.results.push(runner.run({ index: index++, file: path, bytes: new Uint8Array(buf.buffer, buf.byteOffset + start, end - start), identity: item.identity }));
        start = end;
      }
      work.push(item);
    }

    const state: ReceiptState = {
      total: 0,
      kinds: { decision: 0, outcome: 0, event: 0 },
      root: null,
      job: null,
      firstTime: null,
      lastTime: null,
      tokens: new Map(),
      wpcRefs: new Set(),
      kids: new Set(),
      threads: runner.threads,
    };
    const merkle = new MerkleBuilder();
    for (const item of work) {
      let clean = !item.truncated && item.identity !== null;
      let prevHash: string | null = null;
      // In order, as they complete: the Merkle tree grows on the main thread while workers check later segments.
      for (const pending of item.results) {
        const result = await pending;
        const offset = item.completeLines;
        if (result.firstPrev !== prevHash || result.firstSeq !== offset + 1) clean = false;
        if (!result.clean) clean = false;
        prevHash = result.lastHash;
        item.completeLines += result.count;
        if (item.covered) merkle.addPacked(result.leaves, result.count);
        mergeSegment(state, item.path, offset, result, add);
      }
      if (item.identity) {
        state.job ??= item.identity.job;
        const job = manifest?.job ?? state.job;
        if (item.identity.job !== job) add({ step: 'chain', code: 'RECEIPT_FOREIGN_JOB', file: item.path, line: 1, message: `the file belongs to job ${item.identity.job}, not ${job}` });
      }
      if (!clean) {
        // Something is off: let the reference implementation name every structural problem, line by line.
        const report = verifyReceiptChain(item.buf.toString('utf8'), options.trust, { skipSignatures: true });
        for (const p of report.problems) add({ step: 'chain', code: p.code, file: item.path, line: p.line, message: p.message });
      }
      checkCounts(item, sealed.get(item.path), prevHash, add);
    }
    state.root = rootAddress(merkle.root());
    if (manifest) {
      for (const sealedFile of sealed.keys()) {
        if (!receiptFiles.includes(sealedFile)) {
          add({ step: 'files', code: 'RECEIPT_FILE_MISSING', file: sealedFile, message: 'a sealed receipt file is gone' });
        }
      }
      for (const path of receiptFiles) {
        if (!sealed.has(path) && !isSealFile(path)) {
          add({ step: 'files', code: 'RECEIPT_FILE_ADDED', file: path, message: 'a receipt file that was not sealed (added after sealing)' });
        }
      }
      if (state.root !== manifest.receipts.merkle_root) {
        add({
          step: 'merkle',
          code: 'MERKLE_ROOT_MISMATCH',
          file: BUNDLE.manifest,
          message: `the receipts give Merkle root ${state.root}, the seal says ${manifest.receipts.merkle_root}`,
        });
      }
      const coveredTotal = work.filter((w) => w.covered).reduce((n, w) => n + w.completeLines, 0);
      if (coveredTotal !== manifest.receipts.total) {
        add({ step: 'counts', code: 'RECEIPT_TOTAL_MISMATCH', file: BUNDLE.manifest, message: `${coveredTotal} sealed receipts found, the seal says ${manifest.receipts.total}` });
      }
      checkTokenList(state, manifest, add);
    }
    return state;
  } finally {
    await runner.close();
  }
}

function identityOf(firstLine: Buffer): SegmentTask['identity'] {
  try {
    const r = JSON.parse(firstLine.toString('utf8')) as { job?: unknown; server?: unknown; session?: unknown };
    if (typeof r.job === 'string' && typeof r.server === 'string' && typeof r.session === 'string') {
      return { job: r.job, server: r.server, session: r.session };
    }
  } catch {
    // Not parseable: the reference names it.
  }
  return null;
}

function mergeSegment(state: ReceiptState, file: string, offset: number, result: SegmentResult, add: Add): void {
  for (const p of result.problems) add({ step: p.step, code: p.code, file, line: offset + p.line, message: p.message });
  state.total += result.count;
  state.kinds.decision += result.kinds.decision;
  state.kinds.outcome += result.kinds.outcome;
  state.kinds.event += result.kinds.event;
  for (const ref of result.wpcRefs) state.wpcRefs.add(ref);
  for (const kid of result.kids) state.kids.add(kid);
  // The seal's own receipt is not part of the job: it neither widens the time window nor presents tokens.
  if (isSealFile(file)) return;
  if (result.firstTime !== null && (state.firstTime === null || result.firstTime < state.firstTime)) state.firstTime = result.firstTime;
  if (result.lastTime !== null && (state.lastTime === null || result.lastTime > state.lastTime)) state.lastTime = result.lastTime;
  for (const use of result.tokens) {
    const line = offset + use.line;
    const seen = state.tokens.get(use.jti);
    if (!seen) state.tokens.set(use.jti, { ...use, line, file });
    else if (seen.token_hash !== use.token_hash || seen.sub !== use.sub || seen.exp !== use.exp) {
      add({
        step: 'tokens',
        code: 'TOKEN_INCONSISTENT',
        file,
        line,
        message: `token ${use.jti} is recorded with another token hash, subject or expiry than at ${seen.file}:${seen.line}`,
      });
    }
  }
}

/** Count and head against the seal: lines appended after sealing, lines cut off the end, a changed last line. */
function checkCounts(item: FileWork, sealed: Manifest['receipts']['files'][number] | undefined, head: string | null, add: Add): void {
  if (!sealed) return;
  const n = item.completeLines;
  if (n > sealed.count) {
    add({
      step: 'counts',
      code: 'RECEIPT_APPENDED',
      file: item.path,
      line: sealed.count + 1,
      message: `${n - sealed.count} receipt line(s) from line ${sealed.count + 1} on were appended after sealing (sealed with ${sealed.count})`,
    });
    const atSeal = lineHash(item.buf, sealed.count);
    if (atSeal !== sealed.head) {
      add({ step: 'counts', code: 'RECEIPT_HEAD_MISMATCH', file: item.path, line: sealed.count, message: 'this line is not the chain head that was sealed' });
    }
  } else if (n < sealed.count) {
    add({
      step: 'counts',
      code: 'RECEIPT_MISSING_LINES',
      file: item.path,
      line: n + 1,
      message: `the file has ${n} complete line(s) but was sealed with ${sealed.count}: lines ${n + 1}..${sealed.count} are missing (truncated or deleted)`,
    });
  } else if (head !== sealed.head) {
    add({ step: 'counts', code: 'RECEIPT_HEAD_MISMATCH', file: item.path, line: n, message: 'the last line is not the chain head that was sealed' });
  }
}

function lineHash(buf: Buffer, line: number): string | null {
  if (line === 0) return null;
  let start = 0;
  for (let i = 1; i < line; i++) start = buf.indexOf(NEWLINE, start) + 1;
  const end = buf.indexOf(NEWLINE, start);
  return `sha256:${createHash('sha256').update(buf.subarray(start, end)).digest('hex')}`;
}

function checkTokenList(state: ReceiptState, manifest: Manifest, add: Add): void {
  const key = (t: { jti: string; token_hash: string; sub: string; exp: number }): string => `${t.jti}|${t.token_hash}|${t.sub}|${t.exp}`;
  const sealed = new Set(manifest.tokens.map(key));
  const found = new Set([...state.tokens.values()].map(key));
  for (const use of state.tokens.values()) {
    if (!sealed.has(key(use))) add({ step: 'tokens', code: 'TOKEN_NOT_SEALED', file: use.file, line: use.line, message: `token ${use.jti} is not in the manifest's token list` });
  }
  for (const t of manifest.tokens) {
    if (!found.has(key(t))) add({ step: 'tokens', code: 'TOKEN_NOT_FOUND', file: BUNDLE.manifest, message: `the manifest lists token ${t.jti}, which no receipt presents` });
  }
}

/**
 * Exactly one seal receipt outside the manifest, naming this manifest. A seal receipt the manifest covers means
 * the bundle was sealed before and sealed again; one naming another manifest means the manifest was replaced.
 */
function checkSeal(bundleDir: string, receiptFiles: string[], manifest: Manifest | undefined, manifestHash: string | null, add: Add): void {
  if (!manifest) return;
  const covered = new Set(manifest.receipts.files.map((f) => f.path));
  const seals = receiptFiles.filter(isSealFile);
  let matching = 0;
  for (const path of seals) {
    if (covered.has(path)) {
      add({ step: 'seal', code: 'BUNDLE_RESEALED', file: path, line: 1, message: 'an earlier seal of this bundle is covered by the current manifest: the bundle was sealed twice' });
      continue;
    }
    const lines = readFileSync(join(bundleDir, path), 'utf8').split('\n').filter((l) => l !== '');
    let event: { type?: unknown; manifest_hash?: unknown } | undefined;
    let job: unknown;
    try {
      const receipt = JSON.parse(lines[0] ?? '') as { event?: { type?: unknown; manifest_hash?: unknown }; job?: unknown };
      event = receipt.event;
      job = receipt.job;
    } catch {
      event = undefined;
    }
    if (!event || event.type !== SEALED_EVENT) {
      add({ step: 'seal', code: 'SEAL_MALFORMED', file: path, line: 1, message: `not a ${SEALED_EVENT} receipt` });
      continue;
    }
    if (lines.length > 1) add({ step: 'seal', code: 'RECEIPT_APPENDED', file: path, line: 2, message: 'a seal log holds exactly one receipt' });
    if (job !== manifest.job) add({ step: 'seal', code: 'SEAL_MALFORMED', file: path, line: 1, message: 'the seal receipt is for another job' });
    if (event.manifest_hash === manifestHash) matching += 1;
    else {
      add({
        step: 'seal',
        code: seals.length > 1 ? 'BUNDLE_RESEALED' : 'SEAL_MANIFEST_MISMATCH',
        file: path,
        line: 1,
        message: `this seal names manifest ${String(event.manifest_hash)}, but manifest.json is ${String(manifestHash)}: the manifest was replaced`,
      });
    }
  }
  if (matching === 0 && !seals.some((p) => !covered.has(p))) {
    add({ step: 'seal', code: 'SEAL_MISSING', file: BUNDLE.receipts, message: 'no seal receipt (receipts/seal-*.jsonl) names this manifest' });
  }
}

function bundleReceiptKeys(bundleDir: string): string[] {
  try {
    const file = JSON.parse(readFileSync(join(bundleDir, BUNDLE.trustFile), 'utf8')) as { keys?: { role?: string; kid?: string }[] };
    return (file.keys ?? []).filter((k) => k.role === 'receipt' && typeof k.kid === 'string').map((k) => k.kid as string);
  } catch {
    return [];
  }
}

async function checkApprovals(bundleDir: string, trust: TrustStore, manifest: Manifest | undefined, add: Add): Promise<number> {
  const records = readApprovals(bundleDir);
  for (const record of records) {
    const sealed = manifest?.approvals.find((a) => a.path === record.path);
    if (manifest && !sealed) add({ step: 'approvals', code: 'APPROVAL_ADDED', file: record.path, message: 'an approval file that was not sealed' });
    else if (sealed && sealed.sha256 !== record.sha256) add({ step: 'approvals', code: 'APPROVAL_CHANGED', file: record.path, message: 'the approval file is not the one sealed' });
    if (record.content === undefined) add({ step: 'approvals', code: 'APPROVAL_MALFORMED', file: record.path, message: 'not a JSON object' });
    if (record.approvalJws) {
      try {
        const claims = await verifyApproval(record.approvalJws, trust);
        if (claims.request_id !== record.requestId || (manifest && claims.job !== manifest.job)) {
          add({ step: 'approvals', code: 'APPROVAL_MISMATCH', file: record.path, message: 'the signed approval is for another request or job' });
        }
      } catch {
        add({ step: 'approvals', code: 'APPROVAL_INVALID', file: record.path, message: 'the approval is not signed by a trusted approver key' });
      }
    }
  }
  for (const sealed of manifest?.approvals ?? []) {
    if (!records.some((r) => r.path === sealed.path)) add({ step: 'approvals', code: 'APPROVAL_MISSING', file: sealed.path, message: 'a sealed approval file is gone' });
  }
  return records.length;
}

async function checkGateway(
  bundleDir: string,
  gatewayTrust: GatewayKeys | undefined,
  manifest: Manifest | undefined,
  add: Add,
  warnings: string[],
): Promise<{ files: number; receipts: number }> {
  const files = listGatewayFiles(bundleDir);
  let receipts = 0;
  for (const path of files) {
    const bytes = readFileSync(join(bundleDir, path));
    const jwksPath = gatewayJwksPath(path);
    const sealed = manifest?.gateway.find((g) => g.path === path);
    if (manifest && !sealed) add({ step: 'gateway', code: 'GATEWAY_ADDED', file: path, message: 'gateway receipts that were not sealed' });
    else if (sealed && sealed.sha256 !== hashAddress(bytes)) add({ step: 'gateway', code: 'GATEWAY_CHANGED', file: path, message: 'the gateway receipt file is not the one sealed' });
    let keys = gatewayTrust;
    if (!keys) {
      try {
        const jwksBytes = readFileSync(join(bundleDir, jwksPath));
        if (sealed && sealed.jwks_sha256 !== hashAddress(jwksBytes)) add({ step: 'gateway', code: 'GATEWAY_KEYS_CHANGED', file: jwksPath, message: 'the gateway JWKS is not the one sealed' });
        keys = await parseGatewayKeys(JSON.parse(jwksBytes.toString('utf8')));
        warnings.push(`${path} was checked against the JWKS copied into the bundle (${jwksPath}); pass --gateway-trust <jwks> for an independent check`);
      } catch {
        add({ step: 'gateway', code: 'GATEWAY_KEYS_MISSING', file: jwksPath, message: 'no usable gateway JWKS beside the receipts' });
        continue;
      }
    }
    const { entries, problems } = verifyGatewayText(bytes.toString('utf8'), keys);
    receipts += entries.length;
    for (const p of problems) add({ step: 'gateway', code: p.code, file: path, line: p.line, message: p.message });
  }
  for (const sealed of manifest?.gateway ?? []) {
    if (!files.includes(sealed.path)) add({ step: 'gateway', code: 'GATEWAY_MISSING', file: sealed.path, message: 'sealed gateway receipts are gone' });
  }
  return { files: files.length, receipts };
}
