/**
 * The separate-user deployment of README ("Deployment: keep the gate out of the agent's reach"), laid out for
 * real: a `claw` user owns CLAW_HOME and the Jira token file, root holds the admin keys, and an `agent` user
 * (the one an MCP client and its shell tool run as) tries to walk around the gate. Needs root (CI runs as
 * root and `useradd` works); elsewhere it says why it skips.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, SIM_USERS, type RunningSimulator } from '../../src/sim/index.js';
import { CLI_BIN, World, callTool, toolNames, type Connected } from './harness.js';

const isRoot = process.getuid?.() === 0;
const tools = ['useradd', 'userdel', 'setpriv'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);
const canRun = isRoot && tools && process.platform === 'linux';
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
