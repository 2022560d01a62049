import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
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
import type { SegmentInit, SegmentResult, SegmentTask, TokenUse } from './segment.js';

/**
 * The receipt pass of `bundle verify` (steps signatures, chain, counts, merkle, decisions, tokens): files are
 * read once into shared memory, cut into segments at line ends, checked on worker threads, and merged here in
 * order. Files with any doubt go to the reference `verifyReceiptChain`, which names each structural problem.
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
  firstTime: string | null;
  lastTime: string | null;
  tokens: Map<string, TokenUse & { file: string }>;
  wpcRefs: Set<string>;
  kids: Set<string>;
  threads: number;
  /** Files ending in a torn line the seal recorded (a crash mid-write): named, not failed. */
  tornTails: { file: string; bytes: number }[];
}

function chooseRunner(init: SegmentInit, options: ReceiptPassOptions, bytes: number): SegmentRunner {
  const script = options.workerScript ?? defaultWorkerScript();
  const wanted = options.workers ?? (bytes >= INLINE_BELOW_BYTES ? defaultWorkerCount() : 0);
  if (wanted <= 0 || !script) return inlineRunner(init);
  return workerRunner(init, script, wanted);
}

export async function checkReceipts(
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
      tornTails: [],
    };
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

/**
 * A torn final line is accepted only as the seal recorded it (same length, same hash): returns its length then,
 * 0 otherwise. A tail that appeared, changed or vanished after sealing is a problem.
 */
function checkTornTail(item: FileWork, sealed: Manifest['receipts']['files'][number] | undefined, add: AddProblem): number {
  const recorded = sealed?.torn_tail;
  const tail = item.buf.subarray(item.buf.lastIndexOf(NEWLINE) + 1);
  if (!recorded) return 0;
  const hash = `sha256:${createHash('sha256').update(tail).digest('hex')}`;
  if (tail.length === recorded.bytes && hash === recorded.sha256) return tail.length;
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
function checkCounts(item: FileWork, sealed: Manifest['receipts']['files'][number] | undefined, head: string | null, add: AddProblem): void {
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

function checkTokenList(state: ReceiptState, manifest: Manifest, add: AddProblem): void {
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
