import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { World, callTool, toolNames } from './harness.js';
import { waitFor } from '../helpers/wait.js';

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 7 });
});
afterAll(async () => sim?.close());

describe('bad settings: the server starts, lists nothing, explains every refusal, never reaches Jira', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', sim });
  });
  afterAll(async () => world?.close());

  const cases: Array<[string, Record<string, string | undefined>, string]> = [
    ['no CLAW_WPC', { CLAW_WPC: undefined }, 'CLAW_WPC'],
    ['a WPC address not in the registry', { CLAW_WPC: `sha256:${'0'.repeat(64)}` }, 'WPC_NOT_FOUND'],
    ['no CLAW_JOB_ID', { CLAW_JOB_ID: undefined }, 'CLAW_JOB_ID'],
    ['no Jira URL', { JIRA_BASE_URL: undefined }, 'JIRA_BASE_URL'],
    ['a plain-http Jira that is not loopback', { JIRA_BASE_URL: 'http://jira.example.com' }, 'JIRA_BASE_URL'],
    ['an unreadable API token file', { JIRA_API_TOKEN: undefined, JIRA_API_TOKEN_FILE: '/nonexistent/token' }, 'JIRA_API_TOKEN_FILE'],
    ['a trust file that does not exist', { CLAW_TRUST: '/nonexistent/trust.json' }, 'TRUST_UNREADABLE'],
  ];

  for (const [name, overrides, expected] of cases) {
    it(name, async () => {
      sim.clearRequests();
      const server = await world.connect('read', overrides);
      expect(await toolNames(server)).toEqual([]);
      const result = await callTool(server, 'jira_get_issue', { issue_key: 'ENG-1' });
      expect(result.isError).toBe(true);
      expect(`${String(result.structured.code)} ${String(result.structured.message)}`).toContain(expected);
      expect(server.stderr()).toContain(expected);
      expect(sim.requests()).toEqual([]);
      await server.close();
    });
  }

  it('a missing token: tools hidden, calls refused with CST_MISSING', async () => {
    const server = await world.connect('read', { CLAW_CST_FILE: `${world.dir}/absent.cst` });
    expect(await toolNames(server)).toEqual([]);
    const result = await callTool(server, 'jira_search_issues', { jql: 'ORDER BY key' });
    expect(result.structured.code).toBe('CST_MISSING');
    await server.close();
  });
});

describe('a running server follows its token file', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({ wpc: 'dev.json', sim, job: 'rotation' });
  });
  afterAll(async () => world?.close());

  it('re-reads a rotated token, narrows the tool list and notifies the client', async () => {
    const server = await world.connect('write');
    expect(await toolNames(server)).toContain('jira_update_issue');
    let notified = false;
    server.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      notified = true;
    });
    // The runtime rotates the token to a narrower one: comments only.
    await world.issueToken(['--ops', 'issue.comment.create', '--projects', 'ENG']);
    expect(await toolNames(server)).toEqual(['jira_add_comment']);
    const refused = await callTool(server, 'jira_update_issue', { issue_key: 'ENG-3', summary: 'should not happen' });
    expect(refused.structured.code).toBe('SCOPE_OPERATION_NOT_GRANTED');
    await waitFor('the tool list change notification', () => (notified ? true : undefined), { timeoutMs: 6_000, stepMs: 100 });
    expect(notified).toBe(true);
    await server.close();
  });
});

describe('approval of one exact call', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({ wpc: 'dev.json', sim, job: 'approvals' });
  });
  afterAll(async () => world?.close());

  it('delete needs a human approval, bound to the arguments, used once', async () => {
    const server = await world.connect('write');
    const before = sim.stateHash();
    const first = await callTool(server, 'jira_delete_issue', { issue_key: 'ENG-5' });
    expect(first.structured.code, first.text).toBe('APPROVAL_REQUIRED');
    const id = String(first.structured.approval_request_id);
    expect(id).toMatch(/^apr_[a-z0-9]{20}$/);
    expect(sim.stateHash()).toBe(before);

    // Outside a terminal the command itself is the decision (at a terminal it asks y/N unless --yes).
    const shown = await world.cliOk(['approve', id]);
    expect(shown.out).toContain('jira_delete_issue');
    expect(shown.out).toContain('ENG-5');

    // A different call (other issue) is not covered by the approval.
    const other = await callTool(server, 'jira_delete_issue', { issue_key: 'ENG-6' });
    expect(other.structured.code).toBe('APPROVAL_REQUIRED');
    expect(sim.stateHash()).toBe(before);

    const approved = await callTool(server, 'jira_delete_issue', { issue_key: 'ENG-5' });
    expect(approved.isError, approved.text).toBe(false);
    expect((approved.structured.data as { deleted: boolean }).deleted).toBe(true);
    expect(sim.stateHash()).not.toBe(before);

    // The approval is spent: signing it again is refused, and replaying the call sends no second DELETE.
    expect((await world.cli(['approve', id, '--yes'])).code).not.toBe(0);
    sim.clearRequests();
    const replay = await callTool(server, 'jira_delete_issue', { issue_key: 'ENG-5' });
    expect(replay.isError).toBe(true);
    expect(sim.requests().filter((request) => request.method === 'DELETE')).toEqual([]);
    await server.close();
  });

  it('an approval signed by a key that is not the approver key is refused', async () => {
    const server = await world.connect('write');
    const first = await callTool(server, 'jira_delete_issue', { issue_key: 'ENG-6' });
    const id = String(first.structured.approval_request_id);
    // Forge: sign the approval with the issuer key instead of the approver key.
    const { ApprovalStore } = await import('../../src/approvals/approvals.js');
    const { loadSigningKey } = await import('../../src/keys/store.js');
    const { clawHome } = await import('../../src/config/home.js');
    const home = clawHome(world.home);
    await new ApprovalStore(home.approvalsDir).approve(id, await loadSigningKey(home, 'issuer'), { ttlSeconds: 60, approver: 'mallory' });
    const before = sim.stateHash();
    const result = await callTool(server, 'jira_delete_issue', { issue_key: 'ENG-6' });
    expect(result.structured.code).toBe('APPROVAL_INVALID');
    expect(sim.stateHash()).toBe(before);
    await server.close();
  });
});

describe('single use: the identical call proceeds once per approval', () => {
  it('an approved comment is posted once; the replay needs a new approval', async () => {
    const world = await World.create({
      wpc: {
        wpc_version: 'v1',
        tool: 'jira',
        allow: { projects: ['ENG'], operations: ['issue.get', 'issue.comment.create'] },
        approval: { operations: ['issue.comment.create'] },
      },
      sim,
      job: 'single-use',
    });
    try {
      const server = await world.connect('write');
      const args = { issue_key: 'ENG-6', body: 'Approved once.' };
      const first = await callTool(server, 'jira_add_comment', args);
      expect(first.structured.code).toBe('APPROVAL_REQUIRED');
      await world.cliOk(['approve', String(first.structured.approval_request_id), '--yes']);
      // A changed argument is a different call: not covered.
      expect((await callTool(server, 'jira_add_comment', { ...args, body: 'Approved twice.' })).structured.code).toBe('APPROVAL_REQUIRED');
      sim.clearRequests();
      expect((await callTool(server, 'jira_add_comment', args)).isError).toBe(false);
      const replay = await callTool(server, 'jira_add_comment', args);
      expect(replay.structured.code).toBe('APPROVAL_REQUIRED');
      expect(replay.structured.approval_request_id).not.toBe(first.structured.approval_request_id);
      expect(sim.requests().filter((request) => request.method === 'POST')).toHaveLength(1);
      expect(world.receipts().some((receipt) => receipt.kind === 'decision' && receipt.approval?.approval_id !== undefined)).toBe(true);
    } finally {
      await world.close();
    }
  });
});

describe('admin commands refuse what would silently do nothing', () => {
  it('writes disable on a CLAW_HOME that was never initialised exits 3; cst revoke of a mistyped path exits 2', async () => {
    const world = await World.create({ wpc: 'seed.json', sim, job: 'admin-typos' });
    try {
      const missing = await world.cli(['writes', 'disable'], { ...world.baseEnv(), CLAW_HOME: `${world.dir}/not-a-home` });
      expect(missing.code).toBe(3);
      expect(missing.err).toContain('HOME_NOT_INITIALISED');
      const typo = await world.cli(['cst', 'revoke', `${world.dir}/triag.cst`]);
      expect(typo.code).toBe(2);
      // Review of a folder without receipts is the wrong path, not a clean bundle.
      expect((await world.cli(['bundle', 'review', world.dir])).code).toBe(3);
      const revoked = await world.cliOk(['cst', 'revoke', world.tokenFile]);
      expect(revoked.out).toMatch(/^revoked [A-Za-z0-9_-]{16,}/);
    } finally {
      await world.close();
    }
  });
});

describe('approve shows hidden characters in model-supplied arguments', () => {
  it('bidi overrides and zero-width marks are printed as escapes', async () => {
    const world = await World.create({
      wpc: { wpc_version: 'v1', tool: 'jira', allow: { projects: ['ENG'], operations: ['issue.get', 'issue.comment.create'] }, approval: { operations: ['issue.comment.create'] } },
      sim,
      job: 'bidi',
    });
    try {
      const server = await world.connect('write');
      const first = await callTool(server, 'jira_add_comment', { issue_key: 'ENG-6', body: 'safe \u202Etxt.exe\u200B' });
      const shown = await world.cliOk(['approve', String(first.structured.approval_request_id), '--yes']);
      expect(shown.out).toContain('\\u202e');
      expect(shown.out).toContain('\\u200b');
      expect(shown.out).not.toContain('\u202E');
      await server.close();
    } finally {
      await world.close();
    }
  });
});

describe('doctor', () => {
  it('reports every check in one table and exits 0 when all pass, 1 otherwise', async () => {
    const world = await World.create({ wpc: 'seed.json', sim, job: 'doctor' });
    try {
      const ok = await world.cli(['doctor'], world.serverEnv());
      expect(ok.code, ok.out).toBe(0);
      for (const check of ['WPC', 'CST', 'bundle folder', 'Jira auth', 'clock skew']) expect(ok.out).toContain(check);
      const token = readFileSync(world.tokenFile, 'utf8').trim();
      expect(ok.out).not.toContain(token);
      const bad = await world.cli(['doctor'], world.serverEnv({ JIRA_API_TOKEN: 'wrong-token' }));
      expect(bad.code).toBe(1);
      expect(bad.out).toMatch(/FAIL\s+Jira auth/);
      expect(bad.out + bad.err).not.toContain('wrong-token');
      writeFileSync(world.tokenFile, 'garbage');
      const badToken = await world.cli(['doctor'], world.serverEnv());
      expect(badToken.out).toMatch(/FAIL\s+CST\s+CST_MALFORMED/);
    } finally {
      await world.close();
    }
  });

  it('judges the kill switch as the write server does: signed and disabled is a warning, forged is a failure', async () => {
    const world = await World.create({ wpc: 'seed.json', sim, job: 'doctor-kill' });
    try {
      expect((await world.cli(['doctor'], world.serverEnv())).out).toMatch(/ok\s+kill switch\s+writes enabled/);
      await world.cliOk(['writes', 'disable', '--reason', 'doctor test']);
      const disabled = await world.cli(['doctor'], world.serverEnv());
      expect(disabled.out).toMatch(/warn\s+kill switch\s+writes are disabled .*doctor test/);
      // A record nobody with the policy key signed: the server refuses writes on it, and doctor says so.
      const file = join(world.home, 'state', 'writes-disabled.json');
      const record = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      writeFileSync(file, JSON.stringify({ ...record, state: 'enabled', seq: Number(record.seq) + 1 }));
      const forged = await world.cli(['doctor'], world.serverEnv());
      expect(forged.code).toBe(1);
      expect(forged.out).toMatch(/FAIL\s+kill switch\s+KILL_SWITCH_INVALID/);
    } finally {
      await world.close();
    }
  });
});
