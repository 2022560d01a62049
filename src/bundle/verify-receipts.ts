import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { TrustStore } from '../keys/trust.js';
import { verifyReceiptChain } from '../receipts/chain.js';
import { verifyReceiptSignature } from '../receipts/sign.js';
import type { Receipt } from '../receipts/types.js';
import type { Wpc } from '../wpc/schema.js';
import { BUNDLE, isSealFile, receiptFileName } from './layout.js';
import type { Manifest } from './manifest.js';
import { MerkleBuilder, rootAddress } from './merkle.js';
import { defaultWorkerCount, defaultWorkerScript, inlineRunner, workerRunner, type SegmentRunner } from './pool.js';
import type { AddProblem } from './problems.js';
import { compareSealed, lineHashAt, tokenKey, trailingBytes, widenWindow } from './sealed.js';
import type { SegmentInit, SegmentResult, SegmentTask, TokenUse } from './segment.js';

/**
 * The receipt steps of `bundle verify`. `readReceipts` is the one pass over the lines (steps signatures, chain,
 * decisions, and tokens' consistency): files are read once into shared memory, cut into segments at line ends,
 * checked on worker threads, and merged here in order; files with any doubt go to the reference
 * `verifyReceiptChain`, which names each structural problem. The steps after it compare what the pass found with
 * the seal: `checkReceiptFiles` (files, counts), `checkReceiptTotal` (counts), `checkMerkleRoot` (merkle) and
 * `checkTokenList` (tokens).
 */
export interface ReceiptPassOptions {
  trust: TrustStore;
  workers?: number;
  workerScript?: URL;
  segmentBytes?: number;
}

const NEWLINE = 0x0a;
/** Below this, starting worker threads costs more than it saves. */
const INLINE_BELOW_BYTES = 2 * 1024 * 1024;

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

export interface ReceiptState {
  total: number;
  kinds: { decision: number; outcome: number; event: number };
  root: string | null;
  job: string | null;
  /** The job's time window: the earliest and latest receipt time outside the seal's own log. */
  window: { first: string | null; last: string | null };
  tokens: Map<string, TokenUse & { file: string }>;
  wpcRefs: Set<string>;
  kids: Set<string>;
  threads: number;
  /** Files ending in a torn line the seal recorded (a crash mid-write): named, not failed. */
  tornTails: { file: string; bytes: number }[];
  /** Each receipt file as the pass found it, in name order. */
  files: ReceiptFile[];
}

/** A receipt file as read: its complete lines, the hash of the last (its chain head), and whether the seal covers it. */
export interface ReceiptFile {
  path: string;
  buf: Buffer;
  covered: boolean;
  completeLines: number;
  head: string | null;
}

/** What the receipt steps report when nothing was read (the state the steps after a failed pass start from). */
export function noReceipts(): ReceiptState {
  return {
    total: 0,
    kinds: { decision: 0, outcome: 0, event: 0 },
    root: null,
    job: null,
    window: { first: null, last: null },
    tokens: new Map(),
    wpcRefs: new Set(),
    kids: new Set(),
    threads: 0,
    tornTails: [],
    files: [],
  };
}

function chooseRunner(init: SegmentInit, options: ReceiptPassOptions, bytes: number): SegmentRunner {
  const script = options.workerScript ?? defaultWorkerScript();
  const wanted = options.workers ?? (bytes >= INLINE_BELOW_BYTES ? defaultWorkerCount() : 0);
  if (wanted <= 0 || !script) return inlineRunner(init);
  return workerRunner(init, script, wanted);
}

export async function readReceipts(
  bundleDir: string,
  receiptFiles: string[],
  manifest: Manifest | undefined,
  policies: { hash: string; policy: Wpc }[],
  options: ReceiptPassOptions,
  add: AddProblem,
): Promise<ReceiptState> {
  const sealed = new Map((manifest?.receipts.files ?? []).map((f) => [f.path, f]));
  const buffers = receiptFiles.map((path) => ({ path, buf: readShared(join(bundleDir, path)) }));
  const runner = chooseRunner({ trust: options.trust.toFile(), policies }, options, buffers.reduce((n, b) => n + b.buf.length, 0));
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
        const result = runner.run({ index: index++, file: path, bytes: new Uint8Array(buf.buffer, buf.byteOffset + start, end - start), identity: item.identity });
        // Awaited in order below; if a worker dies, later segments reject before their turn: not unhandled.
        result.catch(() => undefined);
        item.results.push(result);
        start = end;
      }
      work.push(item);
    }

    const state: ReceiptState = { ...noReceipts(), threads: runner.threads };
    const merkle = new MerkleBuilder();
    for (const item of work) {
      const torn = checkTornTail(item, sealed.get(item.path), add);
      if (torn) state.tornTails.push({ file: item.path, bytes: torn });
      let clean = (!item.truncated || torn > 0) && item.identity !== null;
      let prevHash: string | null = null;
      const suspects: number[] = [];
      // In order, as they complete: the Merkle tree grows on the main thread while workers check later segments.
      for (const pending of item.results) {
        const result = await pending;
        const offset = item.completeLines;
        if (result.firstPrev !== prevHash || result.firstSeq !== offset + 1) clean = false;
        if (!result.clean) clean = false;
        prevHash = result.lastHash;
        item.completeLines += result.count;
        for (const line of result.suspects) suspects.push(offset + line);
        if (item.covered) merkle.addPacked(result.leaves, result.count);
        mergeSegment(state, item.path, offset, result, add);
      }
      if (item.identity) {
        const expected = receiptFileName(item.identity.server, item.identity.session);
        if (item.path !== expected) {
          add({ step: 'chain', code: 'RECEIPT_FILE_MISNAMED', file: item.path, line: 1, message: `the receipts in this file belong to ${expected} (copied or renamed)` });
        }
        state.job ??= item.identity.job;
        const job = manifest?.job ?? state.job;
        if (item.identity.job !== job) add({ step: 'chain', code: 'RECEIPT_FOREIGN_JOB', file: item.path, line: 1, message: `the file belongs to job ${item.identity.job}, not ${job}` });
      }
      if (suspects.length > 0) checkSuspects(item, suspects, options.trust, add);
      if (!clean) {
        // Something is off: let the reference implementation name every structural problem, line by line.
        const report = verifyReceiptChain(item.buf.toString('utf8'), options.trust, { skipSignatures: true });
        for (const p of report.problems) {
          if (torn > 0 && p.code === 'RECEIPT_TRUNCATED') continue;
          add({ step: 'chain', code: p.code, file: item.path, line: p.line, message: p.message });
        }
      }
      state.files.push({ path: item.path, buf: item.buf, covered: item.covered, completeLines: item.completeLines, head: prevHash });
    }
    state.root = rootAddress(merkle.root());
    return state;
  } finally {
    await runner.close();
  }
}

/**
 * A torn final line is accepted only as the seal recorded it (same length, same hash): returns its length then,
 * 0 otherwise. A tail that appeared, changed or vanished after sealing is a problem.
 */
function checkTornTail(item: FileWork, sealed: SealedFile | undefined, add: AddProblem): number {
  const recorded = sealed?.torn_tail;
  if (!recorded) return 0;
  const tail = trailingBytes(item.buf);
  if (tail !== undefined && tail.bytes === recorded.bytes && tail.sha256 === recorded.sha256) return tail.bytes;
  add({ step: 'counts', code: 'RECEIPT_TORN_TAIL_CHANGED', file: item.path, message: `the torn final line sealed with this file (${recorded.bytes} bytes) is not the one found` });
  return 0;
}

/** The reference check, line by line, for the lines whose fast signature check failed. */
function checkSuspects(item: FileWork, suspects: number[], trust: TrustStore, add: AddProblem): void {
  const lines = item.buf.toString('utf8').split('\n');
  for (const line of suspects) {
    let receipt: Receipt;
    try {
      receipt = JSON.parse(lines[line - 1] ?? '') as Receipt;
    } catch {
      continue;
    }
    const key = trust.get(receipt.kid, 'receipt');
    if (key && !verifyReceiptSignature(receipt, key)) {
      add({ step: 'signatures', code: 'RECEIPT_BAD_SIGNATURE', file: item.path, line, message: 'the signature does not verify (content changed)' });
    }
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

function mergeSegment(state: ReceiptState, file: string, offset: number, result: SegmentResult, add: AddProblem): void {
  for (const p of result.problems) add({ step: p.step, code: p.code, file, line: offset + p.line, message: p.message });
  state.total += result.count;
  state.kinds.decision += result.kinds.decision;
  state.kinds.outcome += result.kinds.outcome;
  state.kinds.event += result.kinds.event;
  for (const ref of result.wpcRefs) state.wpcRefs.add(ref);
  for (const kid of result.kids) state.kids.add(kid);
  // The seal's own receipt is not part of the job: it neither widens the time window nor presents tokens.
  if (isSealFile(file)) return;
  widenWindow(state.window, result.firstTime, result.lastTime);
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

type SealedFile = Manifest['receipts']['files'][number];

/**
 * Steps files and counts: every sealed receipt file is still there and no server file was added (the seal's own
 * log is not in the manifest); each sealed file has its sealed count and chain head.
 */
export function checkReceiptFiles(manifest: Manifest | undefined, state: ReceiptState, add: AddProblem): void {
  if (!manifest) return;
  const found = compareSealed(manifest.receipts.files, state.files, (f) => f.path, (f) => f.path);
  for (const sealed of found.missing) add({ step: 'files', code: 'RECEIPT_FILE_MISSING', file: sealed.path, message: 'a sealed receipt file is gone' });
  for (const file of found.added) {
    if (!isSealFile(file.path)) add({ step: 'files', code: 'RECEIPT_FILE_ADDED', file: file.path, message: 'a receipt file that was not sealed (added after sealing)' });
  }
  for (const { sealed, present } of found.matched) checkCounts(present, sealed, add);
}

/** Count and head against the seal: lines appended after sealing, lines cut off the end, a changed last line. */
function checkCounts(file: ReceiptFile, sealed: SealedFile, add: AddProblem): void {
  const n = file.completeLines;
  if (n > sealed.count) {
    add({
      step: 'counts',
      code: 'RECEIPT_APPENDED',
      file: file.path,
      line: sealed.count + 1,
      message: `${n - sealed.count} receipt line(s) from line ${sealed.count + 1} on were appended after sealing (sealed with ${sealed.count})`,
    });
    if (lineHashAt(file.buf, sealed.count) !== sealed.head) {
      add({ step: 'counts', code: 'RECEIPT_HEAD_MISMATCH', file: file.path, line: sealed.count, message: 'this line is not the chain head that was sealed' });
    }
  } else if (n < sealed.count) {
    add({
      step: 'counts',
      code: 'RECEIPT_MISSING_LINES',
      file: file.path,
      line: n + 1,
      message: `the file has ${n} complete line(s) but was sealed with ${sealed.count}: lines ${n + 1}..${sealed.count} are missing (truncated or deleted)`,
    });
  } else if (file.head !== sealed.head) {
    add({ step: 'counts', code: 'RECEIPT_HEAD_MISMATCH', file: file.path, line: n, message: 'the last line is not the chain head that was sealed' });
  }
}

/** Step counts: as many receipts in the sealed files as the seal says. */
export function checkReceiptTotal(manifest: Manifest | undefined, state: ReceiptState, add: AddProblem): void {
  if (!manifest) return;
  const covered = state.files.filter((f) => f.covered).reduce((n, f) => n + f.completeLines, 0);
  if (covered !== manifest.receipts.total) {
    add({ step: 'counts', code: 'RECEIPT_TOTAL_MISMATCH', file: BUNDLE.manifest, message: `${covered} sealed receipts found, the seal says ${manifest.receipts.total}` });
  }
}

/** Step merkle: the root recomputed over the sealed receipts is the sealed root. */
export function checkMerkleRoot(manifest: Manifest | undefined, state: ReceiptState, add: AddProblem): void {
  if (!manifest || state.root === manifest.receipts.merkle_root) return;
  add({
    step: 'merkle',
    code: 'MERKLE_ROOT_MISMATCH',
    file: BUNDLE.manifest,
    message: `the receipts give Merkle root ${state.root}, the seal says ${manifest.receipts.merkle_root}`,
  });
}

/** Step tokens: the tokens the receipts present are exactly the manifest's token list. */
export function checkTokenList(manifest: Manifest | undefined, state: ReceiptState, add: AddProblem): void {
  if (!manifest) return;
  const found = compareSealed(manifest.tokens, [...state.tokens.values()], tokenKey, tokenKey);
  for (const use of found.added) add({ step: 'tokens', code: 'TOKEN_NOT_SEALED', file: use.file, line: use.line, message: `token ${use.jti} is not in the manifest's token list` });
  for (const t of found.missing) add({ step: 'tokens', code: 'TOKEN_NOT_FOUND', file: BUNDLE.manifest, message: `the manifest lists token ${t.jti}, which no receipt presents` });
}
