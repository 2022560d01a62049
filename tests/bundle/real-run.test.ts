/**
 * Proof bundles from a real run: the built read and write servers over stdio (the tests/e2e harness), the Jira
 * simulator on loopback, real tool calls; then seal, verify, tamper, review, rollback-plan and report on what
 * the servers wrote. Needs `npm run build` (dist/bin), as every end-to-end test does.
 */
import { appendFileSync, cpSync, existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport, reviewBundle, rollbackPlan, sealBundle, verifyBundle } from '../../src/bundle/index.js';
import { clawHome } from '../../src/config/home.js';
import { loadSigningKey } from '../../src/keys/store.js';
import { TrustStore } from '../../src/keys/trust.js';
import { receiptHash, receiptLine, signReceipt } from '../../src/receipts/sign.js';
import type { Receipt } from '../../src/receipts/types.js';
import { SIM_FIXTURES, SIM_USERS, startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { SERVER_BIN, World, callTool, stopServer, type Connected } from '../e2e/harness.js';
import { readLines, writeLines } from './fixture.js';

const built = existsSync(SERVER_BIN.write) && existsSync(SERVER_BIN.read);

const WPC = {
  wpc_version: 'v1',
  tool: 'jira',
  description: 'bundle real-run test',
  allow: {
    projects: ['ENG'],
    operations: ['issue.search', 'issue.get', 'issue.create', 'issue.update', 'issue.comment.create', 'issue.assign', 'workflow.transition'],
    issue_types: ['Bug', 'Task', 'Story'],
    fields_write_allowlist: ['summary', 'description', 'labels', 'assignee'],
  },
  deny: { operations: ['issue.delete'], fields_write_denylist: ['security'] },
  review: { max_issues_created: 0 },
};

const stop = stopServer;

describe.skipIf(!built)('proof bundle of a real server run', () => {
  let sim: RunningSimulator;
  let world: World;
  let trust: TrustStore;
  let writeFile: string;
  let sealedDir: string;
  const key = SIM_FIXTURES.issues.todo;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, seed: 42 });
    world = await World.create({ wpc: WPC, sim, job: 'job-real' });
    const read = await world.connect('read');
    const write = await world.connect('write');
    const ok = async (connected: Connected, tool: string, args: Record<string, unknown>): Promise<void> => {
      const result = await callTool(connected, tool, args);
      expect(result.isError, `${tool}: ${result.text}`).toBe(false);
    };
    await ok(read, 'jira_get_issue', { issue_key: key });
    await ok(write, 'jira_update_issue', { issue_key: key, summary: 'Renamed by the agent <b>bold</b>', labels: ['agent'] });
    await ok(write, 'jira_add_comment', { issue_key: key, body: 'Looked at it.' });
    await ok(write, 'jira_transition_issue', { issue_key: key, transition: SIM_FIXTURES.transitions.start });
    await ok(write, 'jira_assign_issue', { issue_key: key, account_id: SIM_USERS.agent.accountId });
    await ok(write, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: 'Follow-up from the agent' });
    expect((await callTool(write, 'jira_update_issue', { issue_key: key, custom_fields: { security: { id: '10000' } } })).isError).toBe(true);
    await stop(read);
    await stop(write);
    trust = await TrustStore.load(join(world.home, 'trust.json'));
    writeFile = `receipts/${readdirSync(join(world.bundleDir, 'receipts')).find((name) => name.startsWith('jira-write-')) as string}`;
    await sealBundle(world.bundleDir, { key: await loadSigningKey(clawHome(world.home), 'receipt') });
    sealedDir = world.bundleDir;
  }, 90_000);
  afterAll(async () => {
    await world?.close();
    await sim?.close();
  });

  it('verifies, every decision re-evaluated', async () => {
    const result = await verifyBundle(sealedDir, { trust });
    expect(result.problems).toEqual([]);
    expect(result.summary.kinds.decision).toBeGreaterThanOrEqual(7);
    expect(result.summary.wpcs).toEqual([world.wpcHash]);
  });

  it('names tampering with what the servers wrote', async () => {
    const copy = (name: string): string => {
      const dir = join(world.dir, 'tampered', name);
      cpSync(sealedDir, dir, { recursive: true });
      return dir;
    };
    const lines = readLines(sealedDir, writeFile);
    const decisionLine = lines.findIndex((line) => (JSON.parse(line) as Receipt).tool === 'jira_update_issue') + 1;

    const changed = copy('changed');
    const edited = readLines(changed, writeFile);
    edited[decisionLine - 1] = (edited[decisionLine - 1] as string).replace('"effect":"allow"', '"effect":"deny"');
    writeLines(changed, writeFile, edited);
    const a = await verifyBundle(changed, { trust });
    expect(a.problems).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'RECEIPT_BAD_SIGNATURE', file: writeFile, line: decisionLine })]));

    const deleted = copy('deleted');
    writeLines(deleted, writeFile, lines.filter((_, i) => i !== 2));
    const b = await verifyBundle(deleted, { trust });
    expect(b.problems).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'RECEIPT_SEQ_MISMATCH', file: writeFile, line: 3 })]));

    const appended = copy('appended');
    const last = JSON.parse(lines.at(-1) as string) as Receipt;
    const { sig: _sig, ...body } = last;
    const receiptKey = await loadSigningKey(clawHome(world.home), 'receipt');
    appendFileSync(join(appended, writeFile), `${receiptLine(signReceipt({ ...body, seq: last.seq + 1, prev: receiptHash(lines.at(-1) as string) }, receiptKey))}\n`);
    const c = await verifyBundle(appended, { trust });
    // Signed with the real key and chained: only the seal tells, and it names the line.
    expect(c.problems.map((p) => [p.code, p.file, p.line])).toEqual([
      ['RECEIPT_TOTAL_MISMATCH', 'manifest.json', undefined],
      ['RECEIPT_APPENDED', writeFile, lines.length + 1],
      ['MERKLE_ROOT_MISMATCH', 'manifest.json', undefined],
    ]);
  });

  it('names reordering, truncation, a swapped WPC and a receipt signed by an unknown key', async () => {
    const copy = (name: string): string => {
      const dir = join(world.dir, 'tampered', name);
      cpSync(sealedDir, dir, { recursive: true });
      return dir;
    };
    const lines = readLines(sealedDir, writeFile);

    const reordered = copy('reordered');
    const swapped = [...lines];
    [swapped[2], swapped[3]] = [swapped[3] as string, swapped[2] as string];
    writeLines(reordered, writeFile, swapped);
    const a = await verifyBundle(reordered, { trust });
    expect(a.problems).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'RECEIPT_SEQ_MISMATCH', file: writeFile, line: 3 })]));

    const truncated = copy('truncated');
    const text = readFileSync(join(truncated, writeFile), 'utf8');
    truncateSync(join(truncated, writeFile), text.length - 40);
    const b = await verifyBundle(truncated, { trust });
    expect(b.problems).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'RECEIPT_TRUNCATED', file: writeFile, line: lines.length })]));

    // A different, validly signed WPC put in place of the one in force: its bytes do not hash to its name.
    const swappedWpc = copy('swapped-wpc');
    const wpcName = readdirSync(join(swappedWpc, 'wpc')).find((name) => name.endsWith('.json')) as string;
    const policyKey = await loadSigningKey(clawHome(world.home), 'policy');
    const { wpcDocument } = await import('../../src/wpc/document.js');
    const { signWpcHash } = await import('../../src/wpc/signature.js');
    const wider = wpcDocument({ ...WPC, allow: { ...WPC.allow, projects: ['ENG', 'SEC', 'HR'] } });
    writeFileSync(join(swappedWpc, 'wpc', wpcName), wider.bytes);
    writeFileSync(join(swappedWpc, 'wpc', wpcName.replace(/\.json$/, '.sig')), `${await signWpcHash(wider.hash, policyKey)}\n`);
    const c = await verifyBundle(swappedWpc, { trust });
    expect(c.ok).toBe(false);
    expect(c.problems.some((p) => p.step === 'wpc' && p.file === `wpc/${wpcName}`)).toBe(true);

    // A receipt re-signed with a key the auditor does not trust (and re-chained so only the key is wrong).
    const unknownKey = copy('unknown-key');
    const { generateSigningKey, signingKeyFromJwk } = await import('../../src/keys/ed25519.js');
    const stranger = await signingKeyFromJwk((await generateSigningKey()).privateJwk);
    const forged = [...lines];
    const target = JSON.parse(forged[1] as string) as Receipt;
    const { sig: _sig, ...body } = target;
    forged[1] = receiptLine(signReceipt({ ...body, kid: stranger.kid }, stranger));
    writeLines(unknownKey, writeFile, forged);
    const d = await verifyBundle(unknownKey, { trust });
    expect(d.problems).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'RECEIPT_UNKNOWN_KEY', file: writeFile, line: 2 })]));
  });

  it('review: the create over threshold and the denial; no false critical on real changes', () => {
    const review = reviewBundle(sealedDir);
    expect(review.exceptions.filter((e) => e.severity === 'critical')).toEqual([]);
    expect(review.exceptions.filter((e) => e.code === 'IN_DOUBT_WRITE')).toEqual([]);
    expect(review.exceptions.find((e) => e.code === 'ISSUES_CREATED_OVER_THRESHOLD')).toMatchObject({ severity: 'high' });
    expect(review.denials_by_reason).toHaveProperty('FIELD_WRITE_DENIED', 1);
    expect(review.stats.writes_succeeded).toBe(5);
  });

  it('rollback-plan reverts the real changes newest first', () => {
    const plan = rollbackPlan(sealedDir);
    expect(plan.steps.map((s) => s.kind)).toEqual(['human_decision', 'assign', 'transition', 'delete_comment', 'set_fields']);
    const fields = plan.steps.at(-1);
    expect(fields?.issue).toBe(key);
    expect(Object.keys((fields?.call?.body as { fields: Record<string, unknown> }).fields).sort()).toEqual(['labels', 'summary']);
  });

  it('report renders the real bundle', async () => {
    const html = renderReport(sealedDir, await verifyBundle(sealedDir, { trust }), reviewBundle(sealedDir));
    expect(html).toContain('data-verdict="verified"');
    expect(html).toContain('Renamed by the agent &lt;b&gt;bold&lt;/b&gt;');
  });
});
