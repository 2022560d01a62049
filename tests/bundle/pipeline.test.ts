import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { VERIFY_STEPS } from '../../src/bundle/index.js';
import { compareSealed, lineHashAt, tokenKey, trailingBytes, widenWindow } from '../../src/bundle/sealed.js';
import { VERIFY_PIPELINE } from '../../src/bundle/verify.js';
import { receiptHash } from '../../src/receipts/sign.js';
import { makeEnv, readLines, sealedBundle } from './fixture.js';

describe('bundle verify as a pipeline of named steps', () => {
  it('has one function per named step, and every reported step is some step\'s', () => {
    const names = VERIFY_PIPELINE.map((step) => step.name);
    expect(new Set(names).size).toBe(names.length);
    const reported = new Set(VERIFY_PIPELINE.flatMap((step) => step.reports));
    expect([...VERIFY_STEPS].filter((step) => !reported.has(step))).toEqual([]);
    expect(VERIFY_PIPELINE.every((step) => step.reports.every((r) => (VERIFY_STEPS as readonly string[]).includes(r)))).toBe(true);
  });

  it('reads the WPCs before the receipt lines (decisions are re-run against them) and the seal after', () => {
    const at = (name: string) => VERIFY_PIPELINE.findIndex((step) => step.name === name);
    expect(at('manifest')).toBeLessThan(at('wpc'));
    expect(at('wpc')).toBeLessThan(at('receipt lines'));
    expect(at('receipt lines')).toBeLessThan(at('receipt files'));
    expect(at('receipt lines')).toBeLessThan(at('merkle root'));
  });
});

describe('the one sealed-vs-present comparison', () => {
  it('names what is gone, what was added, and pairs the rest in the seal\'s order', () => {
    const found = compareSealed(
      [{ path: 'a', sha: 1 }, { path: 'b', sha: 2 }, { path: 'c', sha: 3 }],
      [{ name: 'c', sha: 3 }, { name: 'd', sha: 4 }, { name: 'a', sha: 9 }],
      (s) => s.path,
      (p) => p.name,
    );
    expect(found.missing).toEqual([{ path: 'b', sha: 2 }]);
    expect(found.added).toEqual([{ name: 'd', sha: 4 }]);
    expect(found.matched.map(({ sealed: s, present: p }) => [s.path, s.sha, p.sha])).toEqual([
      ['a', 1, 9],
      ['c', 3, 3],
    ]);
  });

  it('tells tokens apart by every member the manifest lists', () => {
    const token = { jti: 'j1', token_hash: 'sha256:aa', sub: 'agent', exp: 100 };
    const found = compareSealed([token], [{ ...token, exp: 101 }], tokenKey, tokenKey);
    expect(found.missing).toHaveLength(1);
    expect(found.added).toHaveLength(1);
  });

  it('hashes a line as the chain and the seal do, and a torn tail as the seal records it', async () => {
    const env = await makeEnv();
    onTestFinished(() => env.cleanup());
    const sealed = await sealedBundle(env);
    const buf = readFileSync(join(sealed.dir, sealed.writeFile));
    const lines = readLines(sealed.dir, sealed.writeFile);
    const manifest = JSON.parse(readFileSync(join(sealed.dir, 'manifest.json'), 'utf8')) as { receipts: { files: { path: string; count: number; head: string }[] } };
    const entry = manifest.receipts.files.find((f) => f.path === sealed.writeFile);
    expect(lineHashAt(buf, 2)).toBe(receiptHash(lines[1] as string));
    expect(lineHashAt(buf, lines.length)).toBe(entry?.head);
    expect(lineHashAt(buf, 0)).toBeNull();
    expect(lineHashAt(buf, lines.length + 1)).toBeNull();
    expect(trailingBytes(buf)).toBeUndefined();
    const torn = Buffer.concat([buf, Buffer.from('{"half":')]);
    expect(trailingBytes(torn)).toEqual({ bytes: 8, sha256: `sha256:${createHash('sha256').update('{"half":').digest('hex')}` });
  });

  it('widens a time window and leaves it alone for no time', () => {
    const window = { first: null as string | null, last: null as string | null };
    widenWindow(window, '2025-03-01T10:00:00Z');
    widenWindow(window, '2025-03-01T09:00:00Z', '2025-03-01T11:00:00Z');
    widenWindow(window, null, null);
    expect(window).toEqual({ first: '2025-03-01T09:00:00Z', last: '2025-03-01T11:00:00Z' });
  });
});
