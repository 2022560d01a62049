import { sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalJson, hashAddress } from '../../src/util/canonical.js';
import { generateSigningKey, signingKeyFromJwk, type SigningKey } from '../../src/keys/ed25519.js';
import { verifyReceiptChain, type ChainProblemCode } from '../../src/receipts/chain.js';
import { ReceiptLog, RECEIPTS_DIR } from '../../src/receipts/log.js';
import type { Receipt, ReceiptContent } from '../../src/receipts/types.js';
import { makeEnv, removeDir, tempDir, type CoreEnv } from './helpers/env.js';
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
    // What reached the disk is a valid chain up to the failed append, whose partial line is reported as truncated.
    const report = verifyReceiptChain(readFileSync(summary.file, 'utf8'), env.trust);
    expect(report.count).toBe(summary.appended);
    expect(report.problems.map((p) => [p.line, p.code])).toEqual(
      report.problems.length === 0 ? [] : [[summary.appended + 1, 'RECEIPT_TRUNCATED']],
    );
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
