/**
 * Regression tests for the findings of an independent security review: each reproduces the attack that
 * worked before the fix and proves it now fails (and, where useful, that the honest path still works).
 */
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { hashAddress } from '../../src/util/canonical.js';
import { World, callTool, toolNames } from './harness.js';
import { issuePath, jiraAsUser as jiraAsUserOn } from './threat-helpers.js';
import { waitFor } from '../helpers/wait.js';

/** Set up Jira data directly, as a Jira user would, outside the gate (on this file's simulator). */
const jiraAsUser = (method: string, path: string, body?: unknown) => jiraAsUserOn(sim, method, path, body);

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 11 });
});
afterAll(async () => sim?.close());


const ENG_ONLY = {
  wpc_version: 'v1',
  tool: 'jira',
  allow: {
    projects: ['ENG'],
    operations: ['issue.get', 'issue.search', 'issue.create', 'issue.update'],
    fields_write_allowlist: ['summary', 'parent', 'labels', 'project', 'issuetype'],
  },
  deny: { projects: ['SEC'], fields_read: ['description'] },
};

describe('issues linked across projects do not carry the other project’s data', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({ wpc: ENG_ONLY, sim, job: 'rf-parent' });
  });
  afterAll(async () => world?.close());

  it('a parent in a denied project is refused on create', async () => {
    const write = await world.connect('write');
    const before = sim.stateHash();
    const result = await callTool(write, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: 'child', parent_key: 'SEC-1' });
    expect(result.structured.code).toBe('PROJECT_NOT_ALLOWED');
    expect(sim.stateHash()).toBe(before);
    await write.close();
  });

  it('reading an issue whose parent lives in a denied project shows only the parent key', async () => {
    const secret = (await jiraAsUser('GET', '/rest/api/3/issue/SEC-1?fields=summary')).body as { fields: { summary: string } };
    const created = (await jiraAsUser('POST', '/rest/api/3/issue', {
      fields: { project: { key: 'ENG' }, issuetype: { name: 'Task' }, summary: 'linked by a human', parent: { key: 'SEC-1' } },
    })).body as { key: string };
    const read = await world.connect('read');
    const got = await callTool(read, 'jira_get_issue', { issue_key: created.key, fields: ['summary', 'parent'] });
    expect(got.isError, got.text).toBe(false);
    expect((got.structured.data as { fields: { parent: unknown } }).fields.parent).toEqual({ key: 'SEC-1' });
    expect(got.text).not.toContain(secret.fields.summary);
    const searched = await callTool(read, 'jira_search_issues', { jql: `key = ${created.key}`, fields: ['parent'] });
    expect(searched.text).not.toContain(secret.fields.summary);
    await read.close();
  });
});

describe('custom_fields cannot move or retype an issue', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({ wpc: ENG_ONLY, sim, job: 'rf-structural' });
  });
  afterAll(async () => world?.close());

  it.each([
    ['project', { project: { id: '10001' } }],
    ['issuetype', { issuetype: { id: '10000' } }],
    ['parent', { parent: { key: 'SEC-1' } }],
  ])('%s through custom_fields is refused', async (_name, custom) => {
    const write = await world.connect('write');
    const before = sim.stateHash();
    const result = await callTool(write, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: 'x', custom_fields: custom });
    expect(result.structured.code).toBe('INPUT_INVALID');
    expect(sim.stateHash()).toBe(before);
    await write.close();
  });
});

describe('write results never show a field the read policy hides', () => {
  it('update of a write-allowed, read-denied field reports the change as withheld', async () => {
    const world = await World.create({
      wpc: { ...ENG_ONLY, allow: { ...ENG_ONLY.allow, fields_write_allowlist: ['summary', 'description'] } },
      sim,
      job: 'rf-withheld',
    });
    try {
      const write = await world.connect('write');
      const original = (await jiraAsUser('GET', '/rest/api/3/issue/ENG-6?fields=description')).body as { fields: { description: unknown } };
      const result = await callTool(write, 'jira_update_issue', { issue_key: 'ENG-6', description: 'replaced' });
      expect(result.isError, result.text).toBe(false);
      const change = (result.structured.data as { changes: Array<{ field: string; before: unknown }> }).changes[0];
      expect(change?.field).toBe('description');
      expect(String(change?.before)).toContain('withheld');
      expect(original.fields.description).not.toBeNull();
    } finally {
      await world.close();
    }
  });
});

describe('search honours allowed issue types', () => {
  it('the search is confined to the allowed types in Jira, and results of other types never reach the model', async () => {
    const world = await World.create({
      wpc: { wpc_version: 'v1', tool: 'jira', allow: { projects: ['ENG'], operations: ['issue.search', 'issue.get'], issue_types: ['Bug'] } },
      sim,
      job: 'rf-types',
    });
    try {
      const read = await world.connect('read');
      const result = await callTool(read, 'jira_search_issues', { jql: 'ORDER BY key', max_results: 50, fields: ['summary', 'issuetype'] });
      const data = result.structured.data as { issues: Array<{ fields: { issuetype: unknown } }>; jql_sent: string };
      expect(data.issues.length).toBeGreaterThan(0);
      expect(data.issues.every((issue) => issue.fields.issuetype === 'Bug')).toBe(true);
      // The types are in the JQL Jira runs, so no hidden-type issue is matched, and no count of them is told.
      expect(data.jql_sent).toBe('project in ("ENG") AND issuetype in ("Bug") ORDER BY key');
      expect(data).not.toHaveProperty('filtered_out');
    } finally {
      await world.close();
    }
  });
});

describe('local tampering with CLAW_HOME', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({
      wpc: { wpc_version: 'v1', tool: 'jira', allow: { projects: ['ENG'], operations: ['issue.get', 'issue.create', 'issue.delete'], fields_write_allowlist: ['summary'] }, approval: { operations: ['issue.create'] } },
      sim,
      job: 'rf-local',
    });
  });
  afterAll(async () => world?.close());

  it('a trust file writable by others, or not matching CLAW_TRUST_SHA256, stops the server', async () => {
    const trust = join(world.home, 'trust.json');
    const pin = hashAddress(readFileSync(trust));
    const pinned = await world.connect('read', { CLAW_TRUST_SHA256: pin });
    expect(await toolNames(pinned)).not.toEqual([]);
    await pinned.close();
    writeFileSync(trust, `${readFileSync(trust, 'utf8')} `);
    const mismatch = await world.connect('read', { CLAW_TRUST_SHA256: pin });
    expect((await callTool(mismatch, 'jira_get_issue', { issue_key: 'ENG-6' })).structured.code).toBe('TRUST_PIN_MISMATCH');
    await mismatch.close();
    chmodSync(trust, 0o666);
    const open = await world.connect('read');
    expect((await callTool(open, 'jira_get_issue', { issue_key: 'ENG-6' })).structured.code).toBe('UNSAFE_PERMISSIONS');
    await open.close();
    chmodSync(trust, 0o644);
  });

  it('a request file edited to show another call cannot be approved', async () => {
    const write = await world.connect('write');
    const first = await callTool(write, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: 'the real call' });
    const id = String(first.structured.approval_request_id);
    const dir = join(world.home, 'approvals');
    const file = readdirSync(dir).find((name) => name.includes(id) && name.endsWith('.request.json')) as string;
    const request = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { args: { summary: string } };
    request.args.summary = 'a harmless-looking call';
    writeFileSync(join(dir, file), JSON.stringify(request));
    const approve = await world.cli(['approve', id, '--yes']);
    expect(approve.code).toBe(3);
    expect(approve.err).toContain('APPROVAL_INVALID');
    await write.close();
  });

  it('deleting the .used marker does not make an approval usable twice in a running server', async () => {
    const write = await world.connect('write');
    const args = { project_key: 'ENG', issue_type: 'Task', summary: 'approved exactly once' };
    const first = await callTool(write, 'jira_create_issue', args);
    await world.cliOk(['approve', String(first.structured.approval_request_id), '--yes']);
    expect((await callTool(write, 'jira_create_issue', args)).isError).toBe(false);
    const dir = join(world.home, 'approvals');
    for (const name of readdirSync(dir).filter((entry) => entry.endsWith('.used'))) rmSync(join(dir, name));
    const before = sim.stateHash();
    expect((await callTool(write, 'jira_create_issue', args)).structured.code).toBe('APPROVAL_REQUIRED');
    expect(sim.stateHash()).toBe(before);
    await write.close();
  });

  it('deleting the revocation list does not un-revoke a token after a restart', async () => {
    const read = await world.connect('read');
    expect((await callTool(read, 'jira_get_issue', { issue_key: 'ENG-6' })).isError).toBe(false);
    await world.cliOk(['cst', 'revoke', world.tokenFile]);
    expect((await callTool(read, 'jira_get_issue', { issue_key: 'ENG-6' })).structured.code).toBe('CST_REVOKED');
    await read.close();
    rmSync(join(world.home, 'revocations.jws'));
    const restarted = await world.connect('read');
    expect((await callTool(restarted, 'jira_get_issue', { issue_key: 'ENG-6' })).structured.code).toBe('CST_REVOCATION_UNAVAILABLE');
    await restarted.close();
  });
});

describe('a write Jira accepted whose read-back failed is in doubt, not just failed', () => {
  it('records in_doubt on the outcome, so review and the model treat it as possibly applied', async () => {
    const world = await World.create({
      wpc: { wpc_version: 'v1', tool: 'jira', allow: { projects: ['ENG'], operations: ['issue.get', 'issue.update'], fields_write_allowlist: ['summary'] } },
      sim,
      job: 'rf-readback',
    });
    try {
      const write = await world.connect('write');
      // Hold the PUT so the read-back can be made to fail after Jira has applied the write.
      sim.faults.add({ kind: 'latency', latencyMs: 800, match: { method: 'PUT', pathPrefix: issuePath(sim, 'ENG-7') }, times: 1 });
      const pending = callTool(write, 'jira_update_issue', { issue_key: 'ENG-7', summary: 'applied, then unverifiable' });
      await waitFor('the allow decision receipt', () => world.receipts().find((receipt) => receipt.kind === 'decision' && receipt.decision?.effect === 'allow'), { timeoutMs: 5_000 });
      sim.faults.add({ kind: '429', retryAfterSeconds: 0, match: { method: 'GET', pathPrefix: issuePath(sim, 'ENG-7') }, times: 10 });
      const result = await pending;
      sim.faults.clear();
      expect(result.isError).toBe(true);
      expect(String(result.structured.message)).toContain('may or may not have been applied');
      const outcome = world.receipts().find((receipt) => receipt.kind === 'outcome' && receipt.tool === 'jira_update_issue');
      expect(outcome?.outcome).toMatchObject({ status: 'failed', in_doubt: true });
      // It was in fact applied: exactly why it must not be reported as a plain failure.
      const now = (await jiraAsUser('GET', '/rest/api/3/issue/ENG-7?fields=summary')).body as { fields: { summary: string } };
      expect(now.fields.summary).toBe('applied, then unverifiable');
    } finally {
      await world.close();
    }
  });
});

describe('a whole session deleted from the bundle before the seal', () => {
  it('is caught by seal, from the servers’ own record of their sessions', async () => {
    const world = await World.create({ wpc: 'seed.json', sim, job: 'rf-session-gone' });
    try {
      const read = await world.connect('read');
      const write = await world.connect('write');
      expect((await callTool(read, 'jira_get_issue', { issue_key: 'ENG-6' })).isError).toBe(false);
      expect((await callTool(write, 'jira_add_comment', { issue_key: 'ENG-6', body: 'evidence' })).isError).toBe(false);
      await read.close();
      await write.close();
      const receipts = join(world.bundleDir, 'receipts');
      const writeSession = readdirSync(receipts).find((name) => name.startsWith('jira-write-')) as string;
      rmSync(join(receipts, writeSession));
      const seal = await world.cli(['bundle', 'seal', world.bundleDir]);
      expect(seal.code).not.toBe(0);
      expect(seal.err).toContain(`receipts/${writeSession}`);
    } finally {
      await world.close();
    }
  });
});
