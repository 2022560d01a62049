import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/util/canonical.js';
import { removeDir, tempDir } from '../helpers/env.js';
import { runNode } from './helpers/child.js';
import { transpileCore } from './helpers/transpile.js';

const CLAIMER = resolve(process.cwd(), 'tests/core/fixtures/replay-claimer.mjs');
const COUNT = 300;
const id = (i: number) => `race-token-id-${String(i).padStart(6, '0')}`;

let core: string;
const dirs: string[] = [];
beforeAll(() => {
  core = transpileCore();
});
afterAll(() => {
  removeDir(core);
  for (const dir of dirs) removeDir(dir);
});

/** Two processes, two ReplayStore instances over one folder, claiming the same ids at the same instant. */
async function race(jobA: string, jobB: string): Promise<{ a: string[]; b: string[]; dir: string }> {
  const dir = tempDir('claw-replay-race-');
  dirs.push(dir);
  const replayDir = join(dir, 'jti');
  const startAt = String(Date.now() + 1_500);
  const [a, b] = await Promise.all([
    runNode([CLAIMER, core, replayDir, jobA, String(COUNT), startAt]),
    runNode([CLAIMER, core, replayDir, jobB, String(COUNT), startAt]),
  ]);
  for (const child of [a, b]) expect(child.code, child.stderr).toBe(0);
  return { a: JSON.parse(a.stdout) as string[], b: JSON.parse(b.stdout) as string[], dir: replayDir };
}

describe('replay store under concurrent claims', () => {
  it('two jobs claiming the same token ids at once: exactly one wins each id, and the record names the winner', async () => {
    const { a, b, dir } = await race('job-a', 'job-b');
    expect(a).toHaveLength(COUNT);
    expect(b).toHaveLength(COUNT);
    for (let i = 0; i < COUNT; i++) {
      const winners = [a[i] === 'ok' ? 'job-a' : undefined, b[i] === 'ok' ? 'job-b' : undefined].filter(Boolean);
      expect(winners, `id ${i}: ${a[i]} / ${b[i]}`).toHaveLength(1);
      expect([a[i], b[i]]).toContain('CST_REPLAYED');
      const record = JSON.parse(readFileSync(join(dir, `${sha256Hex(id(i))}.json`), 'utf8')) as { job: string };
      expect(record.job).toBe(winners[0]);
    }
    // One record per id, and no temporary file left behind by the losers.
    expect(readdirSync(dir).sort()).toEqual(Array.from({ length: COUNT }, (_, i) => `${sha256Hex(id(i))}.json`).sort());
  });

  it('two servers of the same job claiming the same token ids at once both succeed', async () => {
    const { a, b } = await race('job-same', 'job-same');
    expect(a.filter((r) => r !== 'ok')).toEqual([]);
    expect(b.filter((r) => r !== 'ok')).toEqual([]);
  });
});
