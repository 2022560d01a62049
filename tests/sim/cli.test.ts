import { describe, expect, it } from 'vitest';
import { runSimulatorCli } from '../../src/sim/cli.js';
import { SIM_USERS } from '../../src/sim/index.js';
import { waitFor } from '../helpers/wait.js';
import { basicAuth, call } from './helpers.js';

function sink() {
  const chunks: string[] = [];
  return { write: (chunk: string) => chunks.push(chunk), text: () => chunks.join('') };
}

describe('claw-jira sim', () => {
  it('prints its URL on stdout, credentials on stderr, serves Jira, and stops on abort', async () => {
    const stdout = sink();
    const stderr = sink();
    const controller = new AbortController();
    const exit = runSimulatorCli(['--port', '0', '--seed', '7'], { stdout, stderr, signal: controller.signal });
    const url = await waitFor('the simulator to listen', () => /^claw-jira sim listening on (http:\/\/127\.0\.0\.1:\d+)\n$/.exec(stdout.text())?.[1]);
    expect(stderr.text()).toContain(SIM_USERS.agent.email);
    const reply = await call(url, 'GET', '/rest/api/3/myself', { auth: basicAuth(SIM_USERS.agent) });
    expect(reply.status).toBe(200);
    controller.abort();
    await expect(exit).resolves.toBe(0);
    await expect(fetch(`${url}/rest/api/3/serverInfo`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });

  it('stops on SIGTERM', async () => {
    const stdout = sink();
    const exit = runSimulatorCli(['--port', '0'], { stdout, stderr: sink() });
    await waitFor('the simulator to listen', () => (stdout.text().includes('listening') ? true : undefined));
    process.emit('SIGTERM');
    await expect(exit).resolves.toBe(0);
  });

  it.each([[['--port', 'x']], [['--seed', '-1']], [['--bogus']], [['positional']]])('refuses bad arguments %j with exit code 2', async (argv) => {
    const stderr = sink();
    await expect(runSimulatorCli(argv, { stdout: sink(), stderr })).resolves.toBe(2);
    expect(stderr.text()).toContain('usage: claw-jira sim');
  });

  it('prints usage with --help', async () => {
    const stdout = sink();
    await expect(runSimulatorCli(['--help'], { stdout, stderr: sink() })).resolves.toBe(0);
    expect(stdout.text()).toContain('--seed');
  });
});
