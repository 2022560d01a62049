/**
 * Tampering before the seal, found by an independent review: a session file copied or renamed, approval
 * evidence edited or removed, non-file entries where files belong. Each must be refused or named.
 */
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealBundle, verifyBundle } from '../../src/bundle/index.js';
import { buildBundle, copyBundle, makeEnv, sealedBundle, type BuiltBundle, type Env } from './fixture.js';

let env: Env;
let unsealed: BuiltBundle;
let sealed: BuiltBundle;

beforeAll(async () => {
  env = await makeEnv();
  unsealed = await buildBundle(env, 'job-before-seal');
  sealed = await sealedBundle(env, 'job-sealed-dirs');
});
afterAll(() => env.cleanup());

describe('session files must carry their own names', () => {
  it('a session copied under a new name is refused by seal and named by verify', async () => {
    const dir = copyBundle(env, unsealed.dir, 'copied-session');
    copyFileSync(join(dir, unsealed.writeFile), join(dir, 'receipts', 'jira-write-2099-01-01T0000-deadbeef.jsonl'));
    await expect(sealBundle(dir, { key: env.keys.receipt })).rejects.toThrow(/copied or renamed/);
    const result = await verifyBundle(dir, { trust: env.trust });
    expect(result.ok).toBe(false);
    expect(result.problems.some((p) => p.code === 'RECEIPT_FILE_MISNAMED' && p.file === 'receipts/jira-write-2099-01-01T0000-deadbeef.jsonl')).toBe(true);
  });

  it('a write session renamed to pose as a read session is named', async () => {
    const dir = copyBundle(env, unsealed.dir, 'renamed-session');
    renameSync(join(dir, unsealed.writeFile), join(dir, 'receipts', 'jira-read-zzz.jsonl'));
    const result = await verifyBundle(dir, { trust: env.trust });
    expect(result.problems.some((p) => p.code === 'RECEIPT_FILE_MISNAMED')).toBe(true);
  });
});

describe('approval evidence is tied to the calls that ran on it', () => {
  const approvalFile = (dir: string) => join(dir, 'approvals', `${unsealed.approvalId}.json`);

  it('an approval record removed before sealing is missing for the call that cited it', async () => {
    const dir = copyBundle(env, unsealed.dir, 'approval-removed');
    rmSync(approvalFile(dir));
    await sealBundle(dir, { key: env.keys.receipt });
    const result = await verifyBundle(dir, { trust: env.trust });
    expect(result.ok).toBe(false);
    expect(result.problems.some((p) => p.code === 'APPROVAL_MISSING' && p.file === unsealed.writeFile)).toBe(true);
  });

  it('an approval record whose arguments were edited is named', async () => {
    const dir = copyBundle(env, unsealed.dir, 'approval-edited');
    const record = JSON.parse(readFileSync(approvalFile(dir), 'utf8')) as { request: { args: Record<string, unknown>; tool: string } };
    record.request.args = { issue_key: 'ENG-1', account_id: 'someone-else' };
    writeFileSync(approvalFile(dir), JSON.stringify(record));
    await sealBundle(dir, { key: env.keys.receipt });
    const result = await verifyBundle(dir, { trust: env.trust });
    expect(result.problems.some((p) => p.code === 'APPROVAL_MISMATCH' && p.file === `approvals/${unsealed.approvalId}.json`)).toBe(true);
  });

  it('an approval record stripped of its signed approval is named', async () => {
    const dir = copyBundle(env, unsealed.dir, 'approval-unsigned');
    const record = JSON.parse(readFileSync(approvalFile(dir), 'utf8')) as { approval?: string };
    delete record.approval;
    writeFileSync(approvalFile(dir), JSON.stringify(record));
    await sealBundle(dir, { key: env.keys.receipt });
    const result = await verifyBundle(dir, { trust: env.trust });
    expect(result.problems.some((p) => p.code === 'APPROVAL_MISSING' && p.file === unsealed.writeFile)).toBe(true);
  });
});

describe('entries that are not files', () => {
  it('a directory where a sealed receipt file was is reported, not a crash', async () => {
    const dir = copyBundle(env, sealed.dir, 'dir-for-file');
    rmSync(join(dir, sealed.writeFile));
    mkdirSync(join(dir, sealed.writeFile));
    const result = await verifyBundle(dir, { trust: env.trust });
    expect(result.ok).toBe(false);
    expect(result.problems.some((p) => p.code === 'RECEIPT_FILE_MISSING')).toBe(true);
  });
});

describe('the fast signature path checks what the reference path checks', () => {
  it('a last receipt whose signature is re-spelled (same bytes, non-canonical base64url) is named, not passed', async () => {
    const dir = copyBundle(env, unsealed.dir, 'respelled-sig');
    const lines = readFileSync(join(dir, unsealed.writeFile), 'utf8').split('\n').slice(0, -1);
    const last = lines.at(-1) as string;
    const sig = (JSON.parse(last) as { sig: string }).sig;
    // 64 bytes → 86 characters, the last carrying 4 unused bits: flipping one of them decodes to the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelled = `${sig.slice(0, -1)}${alphabet[alphabet.indexOf(sig.at(-1) as string) ^ 1]}`;
    expect(Buffer.from(respelled, 'base64url')).toEqual(Buffer.from(sig, 'base64url'));
    lines[lines.length - 1] = last.replace(sig, respelled);
    writeFileSync(join(dir, unsealed.writeFile), `${lines.join('\n')}\n`);
    const result = await verifyBundle(dir, { trust: env.trust, workers: 0 });
    // (The bundle is not sealed, which verify also says; the receipts' own problems are the point here.)
    expect(result.problems.filter((p) => p.step !== 'manifest' && p.step !== 'seal')).toEqual([
      expect.objectContaining({ code: 'RECEIPT_BAD_SIGNATURE', file: unsealed.writeFile, line: lines.length }),
    ]);
  });
});
