import { sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalJson, hashAddress } from '../../src/util/canonical.js';
import { generateSigningKey, signingKeyFromJwk, type SigningKey } from '../../src/keys/ed25519.js';
import { verifyReceiptChain, type ChainProblemCode } from '../../src/receipts/chain.js';
import { NODE_RECEIPT_FS, ReceiptLog, RECEIPTS_DIR, type ReceiptFs } from '../../src/receipts/log.js';
import { readHeadFile, receiptPublicKey } from '../../src/receipts/heads.js';
import { signReceipt, signReceiptLine } from '../../src/receipts/sign.js';
import type { Receipt, ReceiptContent } from '../../src/receipts/types.js';
import { removeDir, tempDir } from '../helpers/env.js';
import { makeEnv, type CoreEnv } from './helpers/env.js';
import { runNode } from './helpers/child.js';
import { transpileCore } from './helpers/transpile.js';

const WRITER = resolve(process.cwd(), 'tests/core/fixtures/receipt-writer.mjs');

let env: CoreEnv;
let core: string;
beforeAll(async () => {
  env = await makeEnv();
  core = transpileCore();
});
const bundles: string[] = [];
afterAll(() => {
  env.cleanup();
  removeDir(core);
  for (const dir of bundles) removeDir(dir);
});

function bundle(): string {
  const dir = tempDir('claw-bundle-');
  bundles.push(dir);
  return dir;
}

function content(i: number): ReceiptContent {
  return {
    kind: i % 2 === 1 ? 'decision' : 'outcome',
    time: new Date(Date.UTC(2031, 2, 1, 12, 0, i)).toISOString(),
    tool: 'jira_update_issue',
    operation: 'issue.update',
    args_hash: hashAddress(`args ${i}`),
    request: { operation: 'issue.update', project: 'ENG', fieldsWrite: ['summary'] },
    decision: { effect: 'allow', stage: 'allowed', reasons: [{ code: 'OPERATION_ALLOWED', rule: 'allow.operations[issue.update]' }] },
    changes: [{ issue: `ENG-${i}`, field: 'summary', before: `old ${i}`, after: `new ${i} — ünïcode ✓` }],
  };
}

/** A session of `count` receipts; returns the file's text and lines. */
function writeSession(count: number, key: SigningKey = env.keys.receipt, dir = bundle()) {
  const log = ReceiptLog.open({ bundleDir: dir, job: 'job-1', server: 'jira-write', key });
  for (let i = 1; i <= count; i++) log.append(content(i));
  log.close();
  const text = readFileSync(log.file, 'utf8');
  return { log, dir, text, lines: text.split('\n').slice(0, -1) };
}

const problemsOf = (text: string) => verifyReceiptChain(text, env.trust).problems.map((p) => [p.line, p.code] as [number, ChainProblemCode]);
/** A receipt file made of these lines. */
const fileOf = (lines: string[]) => `${lines.join('\n')}\n`;

describe('receipt log', () => {
  it('writes one canonical, signed, hash-chained JSON line per receipt', () => {
    const { log, text, lines } = writeSession(5);
    expect(log.file).toBe(join(log.options.bundleDir, RECEIPTS_DIR, `jira-write-${log.session}.jsonl`));
    expect(lines).toHaveLength(5);
    let prev: string | null = null;
    lines.forEach((line, index) => {
      const receipt = JSON.parse(line) as Receipt;
      expect(canonicalJson(receipt)).toBe(line);
      expect(receipt).toMatchObject({ v: 1, job: 'job-1', server: 'jira-write', session: log.session, seq: index + 1, prev, kid: env.keys.receipt.kid });
      // Ed25519 over the RFC 8785 bytes of the receipt without its signature, checked with node's own verify.
      const { sig, ...body } = receipt;
      const publicKey = env.trust.get(env.keys.receipt.kid, 'receipt')?.publicKey;
      expect(publicKey && nodeVerify(null, canonicalBytes(body), publicKey, Buffer.from(sig, 'base64url'))).toBe(true);
      prev = hashAddress(line);
    });
    const report = verifyReceiptChain(text, env.trust);
    expect(report).toMatchObject({ ok: true, count: 5, head: prev, problems: [] });
    expect(log.seq).toBe(5);
    expect(log.head).toBe(prev);
  });

  it('returns the appended receipt and its hash, durable on disk when append returns', () => {
    const dir = bundle();
    const log = ReceiptLog.open({ bundleDir: dir, job: 'job-1', server: 'jira-read', key: env.keys.receipt });
    const first = log.append(content(1));
    // Read through a separate descriptor while the log is still open: the line is already in the file.
    expect(readFileSync(log.file, 'utf8')).toBe(`${canonicalJson(first.receipt)}\n`);
    expect(first.hash).toBe(hashAddress(canonicalJson(first.receipt)));
    const second = log.append(content(2));
    expect(second.receipt.prev).toBe(first.hash);
    log.close();
    expect(() => log.append(content(3))).toThrow(expect.objectContaining({ code: 'RECEIPT_LOG_CLOSED' }));
    removeDir(dir);
  });

  it('opens one new file per session and never reuses one', () => {
    const dir = bundle();
    const a = ReceiptLog.open({ bundleDir: dir, job: 'job-1', server: 'jira-write', key: env.keys.receipt });
    const b = ReceiptLog.open({ bundleDir: dir, job: 'job-1', server: 'jira-write', key: env.keys.receipt });
    expect(a.file).not.toBe(b.file);
    expect(() => ReceiptLog.open({ bundleDir: dir, job: 'job-1', server: 'jira-write', key: env.keys.receipt, session: a.session })).toThrow(
      expect.objectContaining({ code: 'RECEIPT_WRITE_FAILED' }),
    );
    a.close();
    b.close();
    removeDir(dir);
  });
});

describe('receipt write failures', () => {
  it('refuses to open a log in a bundle folder that is a file, or under a file', () => {
    const dir = bundle();
    writeFileSync(join(dir, 'as-file'), 'x');
    expect(() => ReceiptLog.open({ bundleDir: join(dir, 'as-file'), job: 'j', server: 's', key: env.keys.receipt })).toThrow(
      expect.objectContaining({ code: 'RECEIPT_WRITE_FAILED' }),
    );
    expect(() => ReceiptLog.open({ bundleDir: join(dir, 'as-file', 'below'), job: 'j', server: 's', key: env.keys.receipt })).toThrow(
      expect.objectContaining({ code: 'RECEIPT_WRITE_FAILED' }),
    );
    mkdirSync(join(dir, 'bundle'));
    writeFileSync(join(dir, 'bundle', RECEIPTS_DIR), 'a file where the receipts folder should be');
    expect(() => ReceiptLog.open({ bundleDir: join(dir, 'bundle'), job: 'j', server: 's', key: env.keys.receipt })).toThrow(
      expect.objectContaining({ code: 'RECEIPT_WRITE_FAILED' }),
    );
    removeDir(dir);
  });

  it('fails the append when the bundle folder was removed, then refuses every further append', () => {
    const dir = bundle();
    const log = ReceiptLog.open({ bundleDir: join(dir, 'job'), job: 'j', server: 's', key: env.keys.receipt });
    log.append(content(1));
    rmSync(join(dir, 'job'), { recursive: true });
    expect(() => log.append(content(2))).toThrow(expect.objectContaining({ code: 'RECEIPT_WRITE_FAILED' }));
    // Even once the folder is back, a broken log stays closed: its tail may be damaged.
    mkdirSync(join(dir, 'job', RECEIPTS_DIR), { recursive: true });
    expect(() => log.append(content(3))).toThrow(expect.objectContaining({ code: 'RECEIPT_LOG_CLOSED' }));
    expect(log.seq).toBe(1);
    log.close();
    removeDir(dir);
  });

  it('fails the append when the disk refuses the write (file size limit), then refuses every further append', async () => {
    const dir = bundle();
    // RLIMIT_FSIZE is enforced even for root, unlike permissions: writes past 4 KiB fail with EFBIG.
    const result = await runNode([WRITER, core, env.root, dir, 'jira-write', '1000', '0', 'until-failure'], {
      shell: `trap '' XFSZ; ulimit -f 8; exec "$@"`,
    });
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { file: string; appended: number; errors: string[] };
    expect(summary.errors).toEqual(['RECEIPT_WRITE_FAILED', 'RECEIPT_LOG_CLOSED']);
    expect(summary.appended).toBeGreaterThan(0);
    expect(statSync(summary.file).size).toBeLessThanOrEqual(8192); // 8 blocks of 512 (dash) or 1024 (bash) bytes
    // The failed append was cut back: what is on disk is exactly the chain of the appends that succeeded.
    const report = verifyReceiptChain(readFileSync(summary.file, 'utf8'), env.trust);
    expect(report.count).toBe(summary.appended);
    expect(report.problems).toEqual([]);
    removeDir(dir);
  });
});

describe('verifyReceiptChain names the place of every change', () => {
  it('a deleted line', () => {
    const { lines } = writeSession(8);
    const without = lines.filter((_, i) => i !== 3);
    expect(problemsOf(fileOf(without))).toEqual([
      [4, 'RECEIPT_SEQ_MISMATCH'],
      [4, 'RECEIPT_CHAIN_BROKEN'],
      [5, 'RECEIPT_SEQ_MISMATCH'],
      [6, 'RECEIPT_SEQ_MISMATCH'],
      [7, 'RECEIPT_SEQ_MISMATCH'],
    ]);
    expect(verifyReceiptChain(fileOf(without), env.trust).problems[0]?.message).toMatch(/expected seq 4, found 5/);
    // The first line deleted.
    expect(problemsOf(fileOf(lines.slice(1)))[0]).toEqual([1, 'RECEIPT_SEQ_MISMATCH']);
    expect(problemsOf(fileOf(lines.slice(1)))[1]).toEqual([1, 'RECEIPT_CHAIN_BROKEN']);
  });

  it('two lines swapped', () => {
    const { lines } = writeSession(8);
    const swapped = [...lines];
    [swapped[2], swapped[3]] = [swapped[3] as string, swapped[2] as string];
    expect(problemsOf(fileOf(swapped))).toEqual([
      [3, 'RECEIPT_SEQ_MISMATCH'],
      [3, 'RECEIPT_CHAIN_BROKEN'],
      [4, 'RECEIPT_SEQ_MISMATCH'],
      [4, 'RECEIPT_CHAIN_BROKEN'],
      [5, 'RECEIPT_CHAIN_BROKEN'],
    ]);
  });

  it('a line duplicated (replayed)', () => {
    const { lines } = writeSession(4);
    const doubled = [...lines.slice(0, 3), lines[2] as string, lines[3] as string];
    expect(problemsOf(fileOf(doubled))).toEqual([
      [4, 'RECEIPT_SEQ_MISMATCH'],
      [4, 'RECEIPT_CHAIN_BROKEN'],
      [5, 'RECEIPT_SEQ_MISMATCH'],
    ]);
  });

  it('a value edited, re-serialised canonically', () => {
    const { lines } = writeSession(8);
    const receipt = JSON.parse(lines[5] as string) as Receipt;
    const edited = [...lines];
    edited[5] = canonicalJson({ ...receipt, changes: [{ issue: 'ENG-6', field: 'summary', before: 'old 6', after: 'something else' }] });
    expect(problemsOf(fileOf(edited))).toEqual([
      [6, 'RECEIPT_BAD_SIGNATURE'],
      [7, 'RECEIPT_CHAIN_BROKEN'],
    ]);
  });

  it('one byte edited in the last line, where no later prev can notice', () => {
    const { lines } = writeSession(3);
    const last = lines[2] as string;
    const i = last.indexOf('"seq":3') - 5;
    const edited = [...lines.slice(0, 2), `${last.slice(0, i)}${last[i] === 'a' ? 'b' : 'a'}${last.slice(i + 1)}`];
    expect(problemsOf(fileOf(edited)).map(([line]) => line)).toEqual(expect.arrayContaining([3]));
    expect(problemsOf(fileOf(edited)).every(([line]) => line === 3)).toBe(true);
    expect(verifyReceiptChain(fileOf(edited), env.trust).ok).toBe(false);
  });

  it('the same receipt re-serialised with other spacing', () => {
    const { lines } = writeSession(4);
    const spaced = [...lines];
    spaced[1] = JSON.stringify(JSON.parse(lines[1] as string), null, 1).replace(/\n/g, '');
    expect(problemsOf(fileOf(spaced))).toEqual([
      [2, 'RECEIPT_NOT_CANONICAL'],
      [3, 'RECEIPT_CHAIN_BROKEN'],
    ]);
  });

  it('a signature spelled differently with the same bytes (non-canonical base64url)', () => {
    const { lines } = writeSession(3);
    const receipt = JSON.parse(lines[2] as string) as Receipt;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = receipt.sig[receipt.sig.length - 1] as string;
    const sig = `${receipt.sig.slice(0, -1)}${alphabet[alphabet.indexOf(last) ^ 1]}`;
    expect(Buffer.from(sig, 'base64url')).toEqual(Buffer.from(receipt.sig, 'base64url'));
    expect(problemsOf(fileOf([...lines.slice(0, 2), canonicalJson({ ...receipt, sig })]))).toEqual([[3, 'RECEIPT_BAD_SIGNATURE']]);
  });

  it('a truncated last line, and a missing final newline', () => {
    const { text, lines } = writeSession(5);
    expect(problemsOf(text.slice(0, text.length - 40))).toEqual([[5, 'RECEIPT_TRUNCATED']]);
    expect(problemsOf(text.slice(0, -1))).toEqual([[5, 'RECEIPT_TRUNCATED']]);
    expect(verifyReceiptChain(text.slice(0, -1), env.trust).count).toBe(4);
    expect(problemsOf(fileOf(lines.slice(0, 4)))).toEqual([]); // whole lines cut off the end: only a sealed manifest can tell
  });

  it('receipts signed by an unknown key, or by a trusted key of another role', async () => {
    const stranger = await signingKeyFromJwk((await generateSigningKey()).privateJwk);
    expect(problemsOf(writeSession(2, stranger).text)).toEqual([
      [1, 'RECEIPT_UNKNOWN_KEY'],
      [2, 'RECEIPT_UNKNOWN_KEY'],
    ]);
    expect(problemsOf(writeSession(2, env.keys.policy).text)).toEqual([
      [1, 'RECEIPT_UNKNOWN_KEY'],
      [2, 'RECEIPT_UNKNOWN_KEY'],
    ]);
    // A receipt key's kid on a line signed by another key.
    const { lines } = writeSession(2);
    const receipt = JSON.parse(lines[1] as string) as Receipt;
    const { sig: _sig, ...body } = receipt;
    const forged = { ...body, sig: nodeSign(null, canonicalBytes(body), stranger.privateKey).toString('base64url') };
    expect(problemsOf(fileOf([lines[0] as string, canonicalJson(forged)]))).toEqual([[2, 'RECEIPT_BAD_SIGNATURE']]);
  });

  it('a line from another session spliced in, a garbage line, an empty file', () => {
    const a = writeSession(3);
    const b = writeSession(3);
    expect(problemsOf(fileOf([a.lines[0] as string, b.lines[1] as string, a.lines[2] as string]))).toEqual([
      [2, 'RECEIPT_CHAIN_BROKEN'],
      [2, 'RECEIPT_FOREIGN'],
      [3, 'RECEIPT_CHAIN_BROKEN'],
    ]);
    expect(problemsOf(fileOf([a.lines[0] as string, 'not json', a.lines[2] as string]))).toEqual([
      [2, 'RECEIPT_MALFORMED'],
      [3, 'RECEIPT_CHAIN_BROKEN'],
    ]);
    expect(problemsOf('')).toEqual([[1, 'RECEIPT_EMPTY_FILE']]);
  });
});

describe('concurrent sessions', () => {
  it('two processes appending 500 receipts each into one bundle folder at once: two intact chains', async () => {
    const dir = bundle();
    const startAt = String(Date.now() + 1_500);
    const children = await Promise.all(
      ['jira-write', 'jira-write'].map((server) => runNode([WRITER, core, env.root, dir, server, '500', startAt], { timeoutMs: 45_000 })),
    );
    const summaries = children.map((child) => {
      expect(child.code, child.stderr).toBe(0);
      return JSON.parse(child.stdout) as { file: string; session: string; appended: number; head: string; errors: string[] };
    });
    expect(summaries[0]?.session).not.toBe(summaries[1]?.session);
    expect(readdirSync(join(dir, RECEIPTS_DIR)).sort()).toEqual(summaries.map((s) => s.file.split('/').pop()).sort());
    for (const summary of summaries) {
      expect(summary).toMatchObject({ appended: 500, errors: [] });
      const report = verifyReceiptChain(readFileSync(summary.file, 'utf8'), env.trust);
      expect(report.problems).toEqual([]);
      expect(report).toMatchObject({ ok: true, count: 500, head: summary.head });
      expect(new Set(report.lines.map((l) => l.receipt.session))).toEqual(new Set([summary.session]));
    }
    removeDir(dir);
  }, 60_000);
});

/** A file-system seam whose syncs wait for the test to release them, counting every one. */
function gatedFs(options: { failSync?: number; failWrite?: (bytes: Uint8Array, offset: number) => number | undefined } = {}) {
  const releases: (() => Promise<void>)[] = [];
  const state = { syncs: 0, writes: 0 };
  const fs: ReceiptFs = {
    ...NODE_RECEIPT_FS,
    write(fd, bytes, offset, length) {
      state.writes += 1;
      const partial = options.failWrite?.(bytes, offset);
      if (partial !== undefined) {
        // The disk took part of the line, then ran out of space: the torn tail ENOSPC leaves behind.
        NODE_RECEIPT_FS.write(fd, bytes, offset, partial);
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      }
      return NODE_RECEIPT_FS.write(fd, bytes, offset, length);
    },
    datasync(fd) {
      state.syncs += 1;
      const number = state.syncs;
      return new Promise<void>((resolve, reject) => {
        releases.push(async () => {
          if (number === options.failSync) reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
          else await NODE_RECEIPT_FS.datasync(fd).then(resolve, reject);
        });
      });
    },
  };
  const release = async () => {
    while (releases.length === 0) await new Promise((r) => setImmediate(r));
    await (releases.shift() as () => Promise<void>)();
    // Let the log's sync loop and the waiters' continuations run.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return { fs, state, release, pending: () => releases.length };
}

const settled = (promise: Promise<unknown>) => {
  const box: { done: boolean; error?: unknown } = { done: false };
  promise.then(
    () => (box.done = true),
    (error: unknown) => {
      box.done = true;
      box.error = error;
    },
  );
  return box;
};

describe('group commit', () => {
  it('eight concurrent appends: strict order, two shared syncs, nobody released before its own sync', async () => {
    const dir = bundle();
    const seam = gatedFs();
    const log = ReceiptLog.open({ bundleDir: dir, job: 'job-1', server: 'jira-write', key: env.keys.receipt, fs: seam.fs });
    const first = settled(log.appendDurable(content(1)));
    // The sync starts on the next turn of the event loop (appends of this turn would join it).
    expect(seam.state.syncs).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(seam.state.syncs).toBe(1);
    // Calls 2..8 arrive while the first sync is on the disk: they must wait for the next one, which covers them all.
    const rest = [2, 3, 4, 5, 6, 7, 8].map((i) => settled(log.appendDurable(content(i))));
    expect(seam.state.syncs).toBe(1);
    expect([first, ...rest].some((box) => box.done)).toBe(false);
    await seam.release();
    expect(first.done && first.error === undefined).toBe(true);
    expect(rest.some((box) => box.done)).toBe(false);
    expect(seam.state.syncs).toBe(2);
    await seam.release();
    expect(rest.every((box) => box.done && box.error === undefined)).toBe(true);
    expect(seam.state.syncs).toBe(2);
    expect(log.syncs).toBe(2);
    log.close();
    const report = verifyReceiptChain(readFileSync(log.file, 'utf8'), env.trust);
    expect(report.problems).toEqual([]);
    // In call order: the chain is the order the calls were made in, not the order their syncs finished.
    expect(report.lines.map((l) => l.receipt.args_hash)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => hashAddress(`args ${i}`)));
  });

  it('a lone call after a lone call syncs inline (no thread-pool hop); a burst goes back to the pool; a failed inline sync fails its caller', async () => {
    const dir = bundle();
    const seam = gatedFs();
    let inline = 0;
    let failInline = false;
    const fs: ReceiptFs = {
      ...seam.fs,
      datasyncSync(fd) {
        inline += 1;
        if (failInline) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
        NODE_RECEIPT_FS.datasyncSync(fd);
      },
    };
    const log = ReceiptLog.open({ bundleDir: dir, job: 'job-1', server: 'jira-read', key: env.keys.receipt, fs });
    // The first lone call goes to the pool (nothing known yet); the next lone one is synced inline.
    const first = settled(log.appendDurable(content(1)));
    await seam.release();
    expect(first.done && first.error === undefined).toBe(true);
    await log.appendDurable(content(2));
    expect({ pool: seam.state.syncs, inline }).toEqual({ pool: 1, inline: 1 });
    // Three at once: one shared sync through the pool, never inline.
    const burst = [3, 4, 5].map((i) => settled(log.appendDurable(content(i))));
    await seam.release();
    expect(burst.every((box) => box.done && box.error === undefined)).toBe(true);
    expect({ pool: seam.state.syncs, inline }).toEqual({ pool: 2, inline: 1 });
    // A lone call after a burst goes to the pool once more, then inline again; an inline sync that fails fails it.
    const sixth = settled(log.appendDurable(content(6)));
    await seam.release();
    expect(sixth.done && sixth.error === undefined).toBe(true);
    failInline = true;
    await expect(log.appendDurable(content(7))).rejects.toMatchObject({ code: 'RECEIPT_WRITE_FAILED' });
    log.close();
    // Receipt 7 was never durable: the file is cut back to the six that were.
    expect(verifyReceiptChain(readFileSync(log.file, 'utf8'), env.trust)).toMatchObject({ ok: true, count: 6 });
  });

  it('a failed sync fails every call that waited on it, cuts the file back to the last durable receipt, and closes the log', async () => {
    const dir = bundle();
    const seam = gatedFs({ failSync: 2 });
    const log = ReceiptLog.open({ bundleDir: dir, job: 'job-1', server: 'jira-write', key: env.keys.receipt, fs: seam.fs });
    const first = settled(log.appendDurable(content(1)));
    await new Promise((r) => setImmediate(r));
    const rest = [2, 3, 4].map((i) => settled(log.appendDurable(content(i))));
    await seam.release();
    await seam.release();
    expect(first.done && first.error === undefined).toBe(true);
    for (const box of rest) expect(box.error).toMatchObject({ code: 'RECEIPT_WRITE_FAILED' });
    expect(() => log.append(content(5))).toThrow(expect.objectContaining({ code: 'RECEIPT_LOG_CLOSED' }));
    await expect(log.appendDurable(content(5))).rejects.toMatchObject({ code: 'RECEIPT_LOG_CLOSED' });
    log.close();
    // Nothing that a caller was refused for stays on disk: only the one receipt that was reported durable.
    const report = verifyReceiptChain(readFileSync(log.file, 'utf8'), env.trust);
    expect(report).toMatchObject({ ok: true, count: 1 });
  });

  it('ENOSPC mid-line leaves no partial line: the file is cut back to the last complete receipt', () => {
    const dir = bundle();
    let calls = 0;
    const seam = gatedFs({ failWrite: (bytes) => (++calls === 3 ? Math.floor(bytes.length / 2) : undefined) });
    const log = ReceiptLog.open({ bundleDir: dir, job: 'job-1', server: 'jira-write', key: env.keys.receipt, fs: seam.fs });
    log.append(content(1));
    log.append(content(2));
    expect(() => log.append(content(3))).toThrow(expect.objectContaining({ code: 'RECEIPT_WRITE_FAILED' }));
    expect(() => log.append(content(4))).toThrow(expect.objectContaining({ code: 'RECEIPT_LOG_CLOSED' }));
    log.close();
    const text = readFileSync(log.file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(verifyReceiptChain(text, env.trust)).toMatchObject({ ok: true, count: 2, problems: [] });
  });

  it('appends made in the same turn of the event loop share one sync', async () => {
    const dir = bundle();
    const seam = gatedFs();
    const log = ReceiptLog.open({ bundleDir: dir, job: 'job-1', server: 'jira-write', key: env.keys.receipt, fs: seam.fs });
    const all = Promise.all([1, 2, 3, 4, 5].map((i) => log.appendDurable(content(i))));
    await seam.release();
    await all;
    expect(seam.state.syncs).toBe(1);
    log.close();
  });

  it('the session head record follows every sync, is signed, and is marked closed by a clean close', async () => {
    const dir = bundle();
    const headsDir = join(dir, 'state-heads');
    const log = ReceiptLog.open({ bundleDir: join(dir, 'b'), job: 'job-1', server: 'jira-write', key: env.keys.receipt, heads: { dir: headsDir } });
    const headFile = join(headsDir, 'job-1', `jira-write-${log.session}.head`);
    const key = receiptPublicKey(env.keys.receipt);
    expect(readHeadFile(headFile, key)).toMatchObject({ seq: 0, head: null, closed: false, file: `receipts/jira-write-${log.session}.jsonl` });
    await Promise.all([1, 2, 3].map((i) => log.appendDurable(content(i))));
    expect(readHeadFile(headFile, key)).toMatchObject({ seq: 3, head: log.head, closed: false });
    // A read's decision receipt that is not durable yet is not named.
    log.append(content(4), { durable: false });
    expect(readHeadFile(headFile, key)).toMatchObject({ seq: 3 });
    await log.closeDurably({ kind: 'event', time: new Date().toISOString(), event: { type: 'server.stop' } });
    expect(readHeadFile(headFile, key)).toMatchObject({ seq: 5, head: log.head, closed: true, bytes: statSync(log.file).size });
    expect(statSync(headFile).mode & 0o777).toBe(0o600);
    expect(statSync(log.file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'b', RECEIPTS_DIR)).mode & 0o777).toBe(0o700);
    // A record signed by another key, or a slot edited by hand, is not a record.
    expect(readHeadFile(headFile, receiptPublicKey(env.keys.policy))).toBeUndefined();
    const bytes = readFileSync(headFile);
    writeFileSync(headFile, Buffer.from(bytes.toString('latin1').replace(/"seq":(\d+)/g, '"seq":9'), 'latin1'));
    expect(readHeadFile(headFile, key)).toBeUndefined();
  });

  it('a batch head record is signed during its sync but written only once the sync succeeded, before any caller is released', async () => {
    const dir = bundle();
    const headsDir = join(dir, 'state-heads');
    const seam = gatedFs({ failSync: 2 });
    const log = ReceiptLog.open({ bundleDir: join(dir, 'b'), job: 'job-1', server: 'jira-write', key: env.keys.receipt, heads: { dir: headsDir }, fs: seam.fs });
    const headFile = join(headsDir, 'job-1', `jira-write-${log.session}.head`);
    const key = receiptPublicKey(env.keys.receipt);
    const batch = [1, 2].map((i) => log.appendDurable(content(i)));
    await new Promise((r) => setImmediate(r));
    expect(seam.state.syncs).toBe(1);
    // The sync is on the disk: its record is prepared, not written (it would name receipts not yet durable).
    expect(readHeadFile(headFile, key)).toMatchObject({ seq: 0, head: null });
    let seenByCaller: unknown;
    const released = Promise.all(batch).then(() => (seenByCaller = readHeadFile(headFile, key)));
    const written = [3, 4].map((i) => settled(log.appendDurable(content(i))));
    await seam.release();
    await released;
    // The moment the callers are released, the record already names their receipts.
    const firstTwo = readFileSync(log.file, 'utf8').split('\n').slice(0, 2);
    expect(seenByCaller).toMatchObject({ seq: 2, bytes: Buffer.byteLength(`${firstTwo.join('\n')}\n`), head: hashAddress(firstTwo[1] as string) });
    // The second sync fails: its prepared record (seq 4) is never written; the record stays at what is durable.
    await seam.release();
    for (const box of written) expect(box.error).toMatchObject({ code: 'RECEIPT_WRITE_FAILED' });
    expect(readHeadFile(headFile, key)).toMatchObject({ seq: 2, head: verifyReceiptChain(readFileSync(log.file, 'utf8'), env.trust).head });
    log.close();
  });

  it('busy (other calls in flight): every sync goes through the pool, even a lone one; alone again, inline', async () => {
    const dir = bundle();
    const headsDir = join(dir, 'state-heads');
    let inline = 0;
    let pool = 0;
    const fs: ReceiptFs = {
      ...NODE_RECEIPT_FS,
      datasync: (fd) => ((pool += 1), NODE_RECEIPT_FS.datasync(fd)),
      datasyncSync: (fd) => ((inline += 1), NODE_RECEIPT_FS.datasyncSync(fd)),
    };
    let busy = true;
    const log = ReceiptLog.open({ bundleDir: join(dir, 'b'), job: 'job-1', server: 'jira-read', key: env.keys.receipt, heads: { dir: headsDir }, fs, busy: () => busy });
    // Lone appends one after another, as a call among others in flight makes them: none blocks the event loop.
    for (let i = 1; i <= 4; i++) {
      await log.appendWritten(content(2 * i - 1));
      await log.appendDurable(content(2 * i));
    }
    expect({ pool, inline }).toEqual({ pool: 4, inline: 0 });
    // Alone: the very first lone sync runs inline (the gate knows nobody else is waiting).
    busy = false;
    await log.appendDurable(content(9));
    expect({ pool, inline }).toEqual({ pool: 4, inline: 1 });
    log.close();
    const report = verifyReceiptChain(readFileSync(log.file, 'utf8'), env.trust);
    expect(report.problems).toEqual([]);
    expect(report.lines.map((l) => l.receipt.args_hash)).toEqual(Array.from({ length: 9 }, (_, i) => hashAddress(`args ${i + 1}`)));
    // The head record (signed on the pool during a pooled sync, inline otherwise) names the last durable receipt.
    expect(readHeadFile(join(headsDir, 'job-1', `jira-read-${log.session}.head`), receiptPublicKey(env.keys.receipt))).toMatchObject({ seq: 9, head: report.head });
  });

  it('the one-pass line is byte for byte the canonical form of the signed receipt', () => {
    const body = { ...content(3), v: 1 as const, job: 'j', server: 's', session: 'x', seq: 1, prev: null, kid: env.keys.receipt.kid, scope: undefined };
    const { line, receipt, hash } = signReceiptLine(body, env.keys.receipt);
    expect(line).toBe(canonicalJson(signReceipt(body, env.keys.receipt)));
    expect(JSON.parse(line)).toEqual(JSON.parse(canonicalJson(receipt)));
    expect(hash).toBe(hashAddress(line));
  });
});

describe('a real full disk (tmpfs, root only)', () => {
  const root = process.getuid?.() === 0 && process.platform === 'linux';
  it.skipIf(!root)('ENOSPC on a 64 KiB tmpfs: the append fails, no partial line stays, the chain is intact', async () => {
    const { execFileSync } = await import('node:child_process');
    const mount = tempDir('claw-tmpfs-');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount]);
    } catch {
      removeDir(mount);
      return; // No mount privilege here (a container without CAP_SYS_ADMIN): the seam test above covers it.
    }
    try {
      const log = ReceiptLog.open({ bundleDir: join(mount, 'bundle'), job: 'job-1', server: 'jira-write', key: env.keys.receipt });
      let appended = 0;
      let error: unknown;
      for (let i = 1; i < 10_000; i++) {
        try {
          await log.appendDurable(content(i));
          appended++;
        } catch (caught) {
          error = caught;
          break;
        }
      }
      expect(error).toMatchObject({ code: 'RECEIPT_WRITE_FAILED' });
      log.close();
      const text = readFileSync(log.file, 'utf8');
      expect(verifyReceiptChain(text, env.trust)).toMatchObject({ ok: true, count: appended, problems: [] });
    } finally {
      execFileSync('umount', [mount]);
      removeDir(mount);
    }
  });
});
