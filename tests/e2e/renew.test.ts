/**
 * `claw-jira cst renew`: a token file kept fresh while a real server runs on it. Short TTLs, and the test
 * waits for conditions (a token's expiry passed, a tool list changed), never asserts a duration.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator } from '../../src/sim/index.js';
import { waitFor } from '../helpers/wait.js';
import { CLI_BIN, World, callTool, toolNames } from './harness.js';
import { useSimulator } from '../helpers/sim.js';

let sim: RunningSimulator;
useSimulator({ seed: 5 }, (started) => {
  sim = started;
});

const SHORT = {
  wpc_version: 'v1',
  tool: 'jira',
  allow: { projects: ['ENG'], operations: ['issue.get', 'issue.search'] },
  runtime: { require_cst: true, cst_policy_hash_pin: true, max_ttl_seconds: 6 },
};

function claims(file: string): { jti: string; exp: number } {
  const token = readFileSync(file, 'utf8').trim();
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { jti: string; exp: number };
}

describe('cst renew', () => {
  let world: World;
  let watcher: ChildProcess | undefined;
  beforeAll(async () => {
    world = await World.create({ wpc: SHORT, sim, job: 'renew', cstArgs: ['--ttl', '6'] });
  });
  afterAll(async () => {
    if (watcher?.pid !== undefined && watcher.exitCode === null) process.kill(watcher.pid, 'SIGTERM');
    await world?.close();
  });

  it('renews only when due, and refuses a margin at or above the lifetime in one line', async () => {
    const file = join(world.dir, 'once.cst');
    const flags = ['cst', 'renew', '--wpc', world.wpcHash, '--job', 'renew', '--out', file];
    const first = await world.cliOk([...flags, '--renew-before', '1']);
    expect(first.out).toMatch(/^renewed: token /);
    const jti = claims(file).jti;
    const again = await world.cliOk([...flags, '--renew-before', '1']);
    expect(again.out).toBe('');
    expect(again.err).toMatch(/next renewal due in \d+s/);
    expect(claims(file).jti).toBe(jti);
    const wide = await world.cli([...flags, '--renew-before', '10', '--ttl', '6'].map((arg) => (arg === file ? join(world.dir, 'other.cst') : arg)));
    expect(wide.code).toBe(2);
    expect(wide.err.trim().split('\n')).toHaveLength(1);
    expect(wide.err).toContain('INPUT_INVALID: --renew-before (10s) must be below the token');
    const job = await world.cli(['cst', 'renew', '--wpc', world.wpcHash, '--job', '../evil', '--out', join(world.dir, 'x.cst')]);
    expect(job.code).toBe(2);
    expect(job.err).toContain('INPUT_INVALID: --job');
  });

  it('with --watch, a server keeps its tools after the first token expired; without renewal the tools go away', async () => {
    const fixed = join(world.dir, 'not-renewed.cst');
    copyFileSync(world.tokenFile, fixed);
    const original = claims(world.tokenFile);
    // A 6 s token renewed 4 s before it expires: the file always holds one with seconds to spare, even on a
    // loaded machine. The watcher starts first, so the servers never depend on the first token still being fresh.
    watcher = spawn(process.execPath, [CLI_BIN, 'cst', 'renew', '--wpc', world.wpcHash, '--job', 'renew', '--out', world.tokenFile, '--ttl', '6', '--renew-before', '4', '--watch'], {
      cwd: world.dir,
      env: world.baseEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    watcher.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    watcher.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    // No clock-skew allowance, so "expired" means expired.
    const renewed = await world.connect('read', { CLAW_CLOCK_SKEW_SECONDS: '0' });
    const control = await world.connect('read', { CLAW_CLOCK_SKEW_SECONDS: '0', CLAW_CST_FILE: fixed });

    await waitFor('the first token to expire', () => (Date.now() / 1000 > original.exp + 1 ? true : undefined), { timeoutMs: 30_000, stepMs: 100 });
    await waitFor('the control server to drop its tools', async () => ((await toolNames(control)).length === 0 ? true : undefined), { timeoutMs: 30_000, stepMs: 100 });
    expect((await callTool(control, 'jira_get_issue', { issue_key: 'ENG-1' })).structured.code).toBe('CST_EXPIRED');
    await waitFor('the renewed server to list its tools', async () => ((await toolNames(renewed)).includes('jira_get_issue') ? true : undefined), { timeoutMs: 30_000, stepMs: 100 });

    expect(claims(world.tokenFile).jti).not.toBe(original.jti);
    const result = await callTool(renewed, 'jira_get_issue', { issue_key: 'ENG-1' });
    expect(result.isError, result.text).toBe(false);
    expect(log).toMatch(/renewed: token \S+ for job renew/);
    expect(log).not.toContain(readFileSync(world.tokenFile, 'utf8').trim());

    const exited = new Promise<number | null>((resolve) => watcher?.once('exit', (code) => resolve(code)));
    process.kill(watcher.pid as number, 'SIGTERM');
    expect(await exited).toBe(0);
  });
});
