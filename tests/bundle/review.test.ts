import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exceptionsAtLeast, reviewBundle, sealBundle, verifyBundle } from '../../src/bundle/index.js';
import { loadBundle, type BundleContents } from '../../src/bundle/contents.js';
import { reviewContents } from '../../src/bundle/review.js';
import type { Receipt } from '../../src/receipts/types.js';
import { ReceiptLog } from '../../src/receipts/log.js';
import { buildBundle, makeEnv, Recorder, type BuiltBundle, type Env } from './fixture.js';

let env: Env;
let built: BuiltBundle;

beforeAll(async () => {
  env = await makeEnv();
  built = await buildBundle(env);
  // A later session of the same job: an allowed write whose server died before the outcome, and an outcome that
  // wrote a field the WPC does not allow (what a gate bug would leave).
  const log = ReceiptLog.open({ bundleDir: built.dir, job: 'job-42', server: 'jira-write', key: env.keys.receipt, session: '20250301T1100-dddd0004' });
  const rec = new Recorder(log, built.wpc, undefined, undefined, Date.parse('2025-03-01T11:00:00.000Z'));
  const bad = rec.decision('jira_update_issue', { operation: 'issue.update', project: 'ENG', issueType: 'Task', fieldsWrite: ['summary'] }, { issue_keys: ['ENG-2'] });
  rec.outcome(bad.hash, 'jira_update_issue', 'issue.update', ['ENG-2'], [
    { issue: 'ENG-2', field: 'summary', before: 'a', after: 'b' },
    { issue: 'ENG-2', field: 'customfield_10099', before: null, after: 'smuggled' },
  ]);
  rec.decision('jira_update_issue', { operation: 'issue.update', project: 'ENG', issueType: 'Task', fieldsWrite: ['labels'] }, { issue_keys: ['ENG-3'] });
  log.close();
  await sealBundle(built.dir, { key: env.keys.receipt });
});
afterAll(() => env.cleanup());

describe('bundle review', () => {
  it('still verifies: review reads what verify proved', async () => {
    expect((await verifyBundle(built.dir, { trust: env.trust })).ok).toBe(true);
  });

  it('reports the in-doubt write (a decision with no outcome) with its place', () => {
    const review = reviewBundle(built.dir);
    const inDoubt = review.exceptions.filter((e) => e.code === 'IN_DOUBT_WRITE');
    expect(inDoubt).toHaveLength(1);
    expect(inDoubt[0]).toMatchObject({ severity: 'high', file: 'receipts/jira-write-20250301T1100-dddd0004.jsonl', line: 3, issues: ['ENG-3'] });
    expect(review.stats.in_doubt).toBe(1);
  });

  it('flags a write to a field outside the allowlist as critical', () => {
    const review = reviewBundle(built.dir);
    const critical = review.exceptions.filter((e) => e.severity === 'critical');
    expect(critical).toEqual([
      expect.objectContaining({ code: 'FIELD_OUTSIDE_ALLOWLIST', file: 'receipts/jira-write-20250301T1100-dddd0004.jsonl', line: 2, issues: ['ENG-2'] }),
    ]);
    expect(review.exceptions[0]?.severity).toBe('critical');
  });

  it('counts denials by reason code, replays as high', () => {
    const review = reviewBundle(built.dir);
    expect(review.denials_by_reason).toEqual({
      PROJECT_NOT_ALLOWED: 1,
      SCOPE_PROJECT_NOT_GRANTED: 1,
      FIELD_WRITE_DENIED: 1,
      FIELD_WRITE_NOT_ALLOWED: 1,
      SCOPE_FIELD_NOT_GRANTED: 1,
      CST_REPLAYED: 1,
    });
    expect(review.exceptions.find((e) => e.reason === 'CST_REPLAYED')).toMatchObject({ severity: 'high', code: 'DENIAL', count: 1, line: built.lines.replayDenied });
    expect(review.exceptions.find((e) => e.reason === 'FIELD_WRITE_DENIED')).toMatchObject({ severity: 'medium', line: built.lines.fieldDenied });
  });

  it('has one finding per denied call, with all its reason codes, and the findings add up to the denied decisions', () => {
    const review = reviewBundle(built.dir);
    const findings = review.exceptions.filter((e) => e.code === 'DENIAL');
    const deniedReceipts = loadBundle(built.dir).receipts.filter((r) => r.receipt.kind === 'decision' && r.receipt.decision?.effect === 'deny');
    expect(deniedReceipts.length).toBeGreaterThan(1);
    expect(findings.length).toBe(deniedReceipts.length);
    expect(findings.reduce((n, e) => n + (e.count ?? 0), 0)).toBe(review.stats.denied);
    // A call refused for three rules is one finding that names all three, headline first.
    const field = findings.find((e) => e.reason === 'FIELD_WRITE_DENIED');
    expect(field?.reasons).toEqual(['FIELD_WRITE_DENIED', 'FIELD_WRITE_NOT_ALLOWED', 'SCOPE_FIELD_NOT_GRANTED']);
    expect(field?.message).toContain('FIELD_WRITE_DENIED, FIELD_WRITE_NOT_ALLOWED, SCOPE_FIELD_NOT_GRANTED');
  });

  it('flags more created issues than the WPC threshold, and a flag overrides it', () => {
    const review = reviewBundle(built.dir);
    expect(review.thresholds.max_issues_created).toBe(1);
    expect(review.exceptions.find((e) => e.code === 'ISSUES_CREATED_OVER_THRESHOLD')).toMatchObject({ severity: 'high', issues: ['ENG-10', 'ENG-11'] });
    expect(reviewBundle(built.dir, { maxIssuesCreated: 5 }).exceptions.some((e) => e.code === 'ISSUES_CREATED_OVER_THRESHOLD')).toBe(false);
  });

  it('lists approvals used and budgets near their limit', () => {
    const review = reviewBundle(built.dir);
    expect(review.exceptions.find((e) => e.code === 'APPROVAL_USED')).toMatchObject({ severity: 'low', issues: ['ENG-1'] });
    expect(review.exceptions.find((e) => e.code === 'BUDGET_NEAR_LIMIT')).toMatchObject({ message: 'budget max_writes is near its limit: 8 of 10' });
    expect(review.stats.approvals_used).toBe(1);
  });

  it('filters by severity for --fail-on', () => {
    const review = reviewBundle(built.dir);
    expect(exceptionsAtLeast(review, 'critical').map((e) => e.code)).toEqual(['FIELD_OUTSIDE_ALLOWLIST']);
    expect(exceptionsAtLeast(review, 'low')).toHaveLength(review.exceptions.length);
  });

  it('has nothing to say about a bundle without exceptions', async () => {
    const quiet = join(env.root, 'bundles', 'quiet');
    const { signedWpc, placeWpc } = await import('./fixture.js');
    const wpc = await signedWpc(env);
    placeWpc(quiet, wpc);
    const log = ReceiptLog.open({ bundleDir: quiet, job: 'quiet', server: 'jira-read', key: env.keys.receipt, session: 's1' });
    const rec = new Recorder(log, wpc, undefined, undefined);
    const d = rec.decision('jira_get_issue', { operation: 'issue.get', project: 'ENG', issueType: 'Task' }, { issue_keys: ['ENG-1'] });
    rec.outcome(d.hash, 'jira_get_issue', 'issue.get', ['ENG-1'], []);
    // Without its closing receipt the session reads as crashed (or still running).
    expect(reviewBundle(quiet).exceptions).toEqual([expect.objectContaining({ code: 'SESSION_NOT_CLOSED', severity: 'medium' })]);
    log.append({ kind: 'event', time: new Date().toISOString(), event: { type: 'server.stop', server: 'jira-read' } });
    log.close();
    expect(reviewBundle(quiet).exceptions).toEqual([]);
  });
});

describe('bundle review of a denial flood', () => {
  it('keeps one finding per denied call up to 200, then one DENIALS_MORE with the rest; the counts add up', () => {
    const contents = loadBundle(built.dir);
    const template = contents.receipts.find((r) => r.receipt.kind === 'decision' && r.receipt.decision?.effect === 'deny');
    if (!template) throw new Error('the fixture has a denial');
    const flood = Array.from({ length: 250 }, (_, i) => ({ ...template, line: 1000 + i, hash: `sha256:${String(i).padStart(64, '0')}`, receipt: template.receipt as Receipt }));
    const review = reviewContents({ ...contents, receipts: [...contents.receipts, ...flood] } satisfies BundleContents);
    const single = review.exceptions.filter((e) => e.code === 'DENIAL');
    const more = review.exceptions.filter((e) => e.code === 'DENIALS_MORE');
    expect(single).toHaveLength(200);
    expect(more).toHaveLength(1);
    expect([...single, ...more].reduce((n, e) => n + (e.count ?? 0), 0)).toBe(review.stats.denied);
  });
});

