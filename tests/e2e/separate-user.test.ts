/**
 * The separate-user deployment of README ("Deployment: keep the gate out of the agent's reach"), laid out for
 * real: a `claw` user owns CLAW_HOME and the Jira token file, root holds the admin keys, and an `agent` user
 * (the one an MCP client and its shell tool run as) tries to walk around the gate. Needs root (CI runs as
 * root and `useradd` works); elsewhere it says why it skips.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, SIM_USERS, type RunningSimulator } from '../../src/sim/index.js';
import { CLI_BIN, SERVER_BIN, World, callTool, toolNames, type Connected } from './harness.js';

const isRoot = process.getuid?.() === 0;
const tools = ['useradd', 'userdel', 'setpriv'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);
const canRun = isRoot && tools && process.platform === 'linux';
const hasSudo = canRun && spawnSync('sh', ['-c', 'command -v sudo && command -v visudo']).status === 0;
if (canRun && !hasSudo) process.stderr.write('separate-user.test.ts: the sudo launcher case is skipped: sudo/visudo not installed (.ci/run installs it)\n');
if (!canRun) {
  process.stderr.write(`separate-user.test.ts: skipped: needs root with useradd, userdel and setpriv (${isRoot ? 'missing tools' : 'not root'})\n`);
}

interface User {
  name: string;
  uid: number;
  gid: number;
}

function addUser(name: string): User {
  const made = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`useradd ${name}: ${made.stderr}`);
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  return { name, uid: id('-u'), gid: id('-g') };
}

/** Run the admin CLI (or a node one-liner) as `user`, the way that user's shell would. */
function runAs(user: User, args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { uid: user.uid, gid: user.gid, env, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

const APPROVE_COMMENTS = {
  wpc_version: 'v1',
  tool: 'jira',
  allow: { projects: ['ENG'], operations: ['issue.get', 'issue.comment.create'] },
  approval: { operations: ['issue.comment.create'] },
};

describe.skipIf(!canRun)('separate-user deployment: the agent user cannot walk around the gate', () => {
  let sim: RunningSimulator;
  let world: World;
  let claw: User;
  let agent: User;
  const suffix = Math.random().toString(36).slice(2, 8);
  let tokenFile = '';
  let jiraTokenFile = '';

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, seed: 3 });
    claw = addUser(`claw-t${suffix}`);
    agent = addUser(`agent-t${suffix}`);
    // Step 1-2 of README: root runs init (admin keys stay root's, 0700), then hands CLAW_HOME to claw.
    world = await World.create({ wpc: APPROVE_COMMENTS, sim, job: 'sep' });
    chmodSync(world.dir, 0o755);
    jiraTokenFile = join(world.home, 'secrets', 'jira-api-token');
    writeFileSync(jiraTokenFile, `${SIM_USERS.agent.apiToken}\n`, { mode: 0o600 });
    spawnSync('chown', ['-R', `${claw.uid}:${claw.gid}`, world.home]);
    // Step 3: root issues the token into claw's tokens/ (the file takes its folder's owner).
    tokenFile = join(world.home, 'tokens', 'sep.cst');
    await world.issueToken([], tokenFile);
  });
  afterAll(async () => {
    await world?.close();
    await sim?.close();
    for (const user of [claw, agent]) if (user) spawnSync('userdel', [user.name]);
  });

  /** The MCP client entry of README, with setpriv standing in for `sudo -n -u claw` (no sudo needed in CI). */
  async function serverAsClaw(server: 'read' | 'write'): Promise<Connected> {
    return world.connect(
      server,
      { JIRA_API_TOKEN: undefined, JIRA_API_TOKEN_FILE: jiraTokenFile, CLAW_CST_FILE: tokenFile, CLAW_REQUIRE_SEPARATE_USER: '1', HOME: '/' },
      {},
      ['setpriv', `--reuid=${claw.uid}`, `--regid=${claw.gid}`, '--clear-groups', '--', process.execPath],
    );
  }

  it('the server runs as claw, separate from its parent, and serves', async () => {
    const server = await serverAsClaw('read');
    expect(await toolNames(server)).toContain('jira_get_issue');
    expect((await callTool(server, 'jira_get_issue', { issue_key: 'ENG-1' })).isError).toBe(false);
    expect(server.stderr()).not.toContain('SAME_USER_AS_CLIENT');
    await server.close();
  });

  it('the agent user can read neither the Jira token, nor the receipt key, nor the CST, nor an admin key', async () => {
    const env = { PATH: process.env.PATH ?? '' };
    for (const file of [jiraTokenFile, join(world.home, 'keys', 'receipt.private.jwk'), tokenFile, join(`${world.home}-admin`, 'approver', 'approver.private.jwk')]) {
      const read = await runAs(agent, ['-e', `require('fs').readFileSync(${JSON.stringify(file)})`], env);
      expect(read.code, file).not.toBe(0);
      expect(read.out).toContain('EACCES');
    }
  });

  it('the agent user cannot approve: the command fails, nothing is approved, the gated call stays refused', async () => {
    const server = await serverAsClaw('write');
    const args = { issue_key: 'ENG-1', body: 'needs a human' };
    const first = await callTool(server, 'jira_add_comment', args);
    expect(first.structured.code).toBe('APPROVAL_REQUIRED');
    const id = String(first.structured.approval_request_id);
    const env = { PATH: process.env.PATH ?? '', CLAW_HOME: world.home, CLAW_ADMIN_HOME: `${world.home}-admin`, USER: agent.name };
    const attempt = await runAs(agent, [CLI_BIN, 'approve', id, '--yes'], env);
    expect(attempt.code).not.toBe(0);
    expect(attempt.out).toMatch(/EACCES|permission denied|APPROVAL_NOT_FOUND|KEY_UNREADABLE/i);
    const forged = await runAs(agent, [CLI_BIN, 'cst', 'issue', '--wpc', world.wpcHash, '--job', 'sep', '--ops', 'issue.comment.create'], env);
    expect(forged.code).not.toBe(0);
    expect(readdirSync(join(world.home, 'approvals')).filter((name) => name.endsWith('.approval.jws'))).toEqual([]);
    const before = sim.stateHash();
    expect((await callTool(server, 'jira_add_comment', args)).structured.code).toBe('APPROVAL_REQUIRED');
    expect(sim.stateHash()).toBe(before);
    // The control: the human approver (root, holding the admin home) approves, and the same call runs.
    await world.cliOk(['approve', id, '--yes']);
    expect((await callTool(server, 'jira_add_comment', args)).isError).toBe(false);
    await server.close();
  });

  it('the server as claw refuses a trusted file that is group-writable or owned by the agent', async () => {
    const trust = join(world.home, 'trust.json');
    chmodSync(trust, 0o660);
    let server = await serverAsClaw('read');
    let refused = await callTool(server, 'jira_get_issue', { issue_key: 'ENG-1' });
    expect(refused.structured.code).toBe('UNSAFE_PERMISSIONS');
    expect(String(refused.structured.message)).toContain(trust);
    await server.close();
    chmodSync(trust, 0o600);
    const state = join(world.home, 'state');
    chownSync(state, agent.uid, agent.gid);
    server = await serverAsClaw('read');
    refused = await callTool(server, 'jira_get_issue', { issue_key: 'ENG-1' });
    expect(refused.structured.code).toBe('UNSAFE_OWNER');
    expect(String(refused.structured.message)).toContain(`${state} belongs to uid ${agent.uid}`);
    await server.close();
    chownSync(state, claw.uid, claw.gid);
    server = await serverAsClaw('read');
    expect(await toolNames(server)).toContain('jira_get_issue');
    await server.close();
    expect(existsSync(jiraTokenFile)).toBe(true);
  });
});

describe.skipIf(!hasSudo)('separate-user deployment through sudo, with README\'s launcher and sudoers rule', () => {
  let sim: RunningSimulator;
  let world: World;
  let claw: User;
  let agent: User;
  let decoy: Server;
  let decoyHits = 0;
  const suffix = Math.random().toString(36).slice(2, 8);
  const sudoers = `/etc/sudoers.d/claw-jira-test-${suffix}`;
  const launcher = { read: '', write: '' };
  let marker = '';

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, seed: 4 });
    claw = addUser(`claw-s${suffix}`);
    agent = addUser(`agent-s${suffix}`);
    world = await World.create({ wpc: 'seed.json', sim, job: 'sudo-job' });
    chmodSync(world.dir, 0o755);
    writeFileSync(join(world.home, 'secrets', 'jira-api-token'), `${SIM_USERS.agent.apiToken}\n`, { mode: 0o600 });
    spawnSync('chown', ['-R', `${claw.uid}:${claw.gid}`, world.home]);
    await world.issueToken([], join(world.home, 'tokens', 'sudo-job.cst'));
    // A server the agent would like the Jira token sent to.
    decoy = createServer((_request, response) => {
      decoyHits++;
      response.end('{}');
    });
    await new Promise<void>((resolve) => decoy.listen(0, '127.0.0.1', resolve));
    // Step 3: root-owned launchers that fix every setting the agent must not choose.
    const libexec = join(world.dir, 'libexec');
    mkdirSync(libexec, { mode: 0o755 });
    for (const which of ['read', 'write'] as const) {
      launcher[which] = join(libexec, which);
      writeFileSync(
        launcher[which],
        [
          '#!/bin/sh',
          `export CLAW_HOME=${world.home} CLAW_REQUIRE_SEPARATE_USER=1`,
          `export CLAW_CST_FILE=${join(world.home, 'tokens', 'sudo-job.cst')}`,
          `export JIRA_BASE_URL=${sim.url} JIRA_EMAIL=${SIM_USERS.agent.email}`,
          `export JIRA_API_TOKEN_FILE=${join(world.home, 'secrets', 'jira-api-token')}`,
          `exec ${process.execPath} ${SERVER_BIN[which]}`,
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
    }
    // Step 4: the sudoers rule, checked by visudo before it is installed.
    const rule = [
      `Defaults!${launcher.read}, ${launcher.write} env_keep += "CLAW_JOB_ID CLAW_WPC"`,
      `${agent.name} ALL=(${claw.name}) NOPASSWD: ${launcher.read}, ${launcher.write}`,
      '',
    ].join('\n');
    const draft = join(world.dir, 'sudoers');
    writeFileSync(draft, rule, { mode: 0o440 });
    const checked = spawnSync('visudo', ['-cf', draft], { encoding: 'utf8' });
    if (checked.status !== 0) throw new Error(`visudo: ${checked.stdout}${checked.stderr}`);
    writeFileSync(sudoers, rule, { mode: 0o440 });
    marker = join(world.dir, 'node-options-ran');
  });
  afterAll(async () => {
    rmSync(sudoers, { force: true });
    await world?.close();
    await sim?.close();
    await new Promise((resolve) => decoy?.close(resolve));
    for (const user of [claw, agent]) if (user) spawnSync('userdel', [user.name]);
  });

  /**
   * Step 5: the MCP client entry, run as the agent user: `sudo -n -u claw <launcher>`. (The harness appends
   * the bin's path after `--`; the launcher ignores its arguments and always runs its own fixed bin.)
   */
  function asAgentThroughSudo(which: 'read' | 'write', env: Record<string, string>): Promise<Connected> {
    return world.connect(which, { ...env }, {}, ['setpriv', `--reuid=${agent.uid}`, `--regid=${agent.gid}`, '--clear-groups', '--', 'sudo', '-n', '-u', claw.name, launcher[which], '--']);
  }

  it('serves as claw; what the agent puts in the environment besides CLAW_JOB_ID and CLAW_WPC never reaches the server', async () => {
    const evil = join(world.dir, 'evil.cjs');
    writeFileSync(evil, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')\n`, { mode: 0o644 });
    const server = await asAgentThroughSudo('read', {
      CLAW_JOB_ID: 'sudo-job',
      CLAW_WPC: world.wpcHash,
      // The agent's attempts: its own Jira URL (to catch the token), its own home, code injected into node.
      JIRA_BASE_URL: `http://127.0.0.1:${(decoy.address() as { port: number }).port}`,
      CLAW_HOME: '/tmp',
      NODE_OPTIONS: `--require ${evil}`,
    });
    expect(await toolNames(server)).toContain('jira_get_issue');
    const result = await callTool(server, 'jira_get_issue', { issue_key: 'ENG-1' });
    expect(result.isError, result.text).toBe(false);
    expect(server.stderr()).not.toContain('SAME_USER_AS_CLIENT');
    await server.close();
    expect(decoyHits).toBe(0);
    expect(existsSync(marker)).toBe(false);
  });

  it('sudo lets the agent run nothing else as claw: not the admin CLI, not a shell', async () => {
    for (const command of [[process.execPath, CLI_BIN, 'approve', '--list'], ['/bin/sh', '-c', 'id']]) {
      const tried = spawnSync('setpriv', [`--reuid=${agent.uid}`, `--regid=${agent.gid}`, '--clear-groups', '--', 'sudo', '-n', '-u', claw.name, ...command], { encoding: 'utf8' });
      expect(tried.status, command.join(' ')).not.toBe(0);
      expect(tried.stdout).not.toContain(`uid=${claw.uid}`);
    }
  });
});
