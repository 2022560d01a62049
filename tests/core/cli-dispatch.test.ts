import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../helpers/cli.js';

const cwd = mkdtempSync(join(tmpdir(), 'claw-dispatch-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

function cli(...argv: string[]) {
  return runCliCaptured(argv, { CLAW_HOME: join(cwd, 'home') }, cwd);
}

describe('the CLI dispatcher', () => {
  it('answers --help and -h for every command it lists, before the command runs', async () => {
    const listing = await cli('--help');
    expect(listing.code).toBe(0);
    const names = listing.out
      .split('\n')
      .filter((line) => line.startsWith('  '))
      .map((line) => line.trim().split(/\s{2,}/)[0] as string);
    expect(names).toContain('demo');
    expect(names).toContain('bundle verify');
    for (const name of names) {
      for (const flag of ['--help', '-h']) {
        const shown = await cli(...name.split(' '), flag);
        expect(shown.code, `${name} ${flag}`).toBe(0);
        expect(shown.out).toContain(`usage: claw-jira ${name}`);
      }
    }
  });

  it('refuses -h grouped with another flag as an unknown option: commands have no --help of their own', async () => {
    const grouped = await cli('approve', 'req-1', '-yh');
    expect(grouped.code).toBe(2);
    expect(grouped.err).toMatch(/^claw-jira approve: USAGE_INVALID: /);
  });
});
