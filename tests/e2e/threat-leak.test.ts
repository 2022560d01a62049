/**
 * Threat "hidden data through side channels" (PRODUCT.md): a field, issue type or project the policy hides is
 * not observable through JQL clauses or ordering that name it, counts of filtered results, comment
 * restrictions, or issue-reference custom fields. Each probe of issue 10 is run against the real read server
 * over stdio and the simulator: it is refused with its code and a denial receipt, Jira never sees the search,
 * and `bundle seal` + `bundle verify` re-derive every decision from the recorded request.
 */
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clawHome } from '../../src/config/home.js';
import { loadSigningKey } from '../../src/keys/store.js';
import { ReceiptLog } from '../../src/receipts/log.js';
import type { Receipt } from '../../src/receipts/types.js';
import { type RunningSimulator } from '../../src/sim/index.js';
import { World, callTool, type Connected } from './harness.js';
import { hashOf, jiraAsUser as jiraAsUserOf, mark } from './threat-helpers.js';
import { useSimulator } from '../helpers/sim.js';

let sim: RunningSimulator;
useSimulator({ seed: 7 }, (started) => {
  sim = started;
});

const jiraAsUser = (method: string, path: string, body?: unknown) => jiraAsUserOf(sim, method, path, body);

function searchesSince(seq: number): string[] {
  return sim
    .requests()
    .filter((request) => request.seq > seq && request.path === '/rest/api/3/search/jql')
    .map((request) => (request.body as { jql: string }).jql);
}

/** ENG only; Epics hidden by an issue-type list; description, priority, comments and the classification hidden. */
const HIDING_WPC = {
  wpc_version: 'v1',
  tool: 'jira',
  allow: { projects: ['ENG'], operations: ['issue.search', 'issue.get'], issue_types: ['Bug', 'Task', 'Story'] },
  deny: { projects: ['SEC'], fields_read: ['description', 'priority', 'customfield_10033', 'comment'] },
};

describe('threat: hidden fields and types probed through JQL', () => {
  let world: World;
  let read: Connected;
  beforeAll(async () => {
    world = await World.create({ wpc: HIDING_WPC, sim, job: 'leak-jql' });
    read = await world.connect('read');
  });
  afterAll(async () => world?.close());

  async function probe(jql: string, code: string, field?: string): Promise<Receipt> {
    const seq = mark(sim);
    const result = await callTool(read, 'jira_search_issues', { jql });
    expect(result.isError, `${jql} was answered: ${result.text}`).toBe(true);
    expect(result.structured.code, jql).toBe(code);
    // The search never reached Jira: no match, miss or ordering of the hidden value exists to observe.
    expect(searchesSince(seq), jql).toEqual([]);
    const receipt = world.receipts().find((candidate) => hashOf(candidate) === result.receipt);
    expect(receipt?.decision?.effect, jql).toBe('deny');
    expect(receipt?.decision?.reasons.map((reason) => reason.code), jql).toContain(code);
    if (field) expect(receipt?.request?.fieldsRead, jql).toContain(field);
    return receipt as Receipt;
  }

  it.each([
    ['description ~ "guess"', 'description'],
    ['priority = Medium', 'priority'],
    ['customfield_10033 = "Public"', 'customfield_10033'],
    ['cf[10033] = "Public"', 'customfield_10033'],
    ['"Security classification" = "Public"', 'customfield_10033'],
    ['comment ~ "deploy"', 'comment'],
    ['status = "To Do" ORDER BY priority DESC', 'priority'],
    // Any depth, any case, negated, and through `text ~`, which searches the description and comments too.
    ['NOT (status = Done OR (labels = x AND PRIORITY in (High, Low)))', 'priority'],
    ['text ~ "rollback"', 'description'],
  ])('a search naming a hidden field is refused as FIELD_READ_DENIED: %s', async (jql, field) => {
    const receipt = await probe(jql, 'FIELD_READ_DENIED', field);
    expect(receipt.decision?.reasons).toContainEqual({ code: 'FIELD_READ_DENIED', rule: `deny.fields_read[${field}]` });
    // The auditor sees what was asked: the confined JQL the search would have sent.
    expect(receipt.request?.jql).toBe(`(${jql.replace(/ ORDER BY.*$/, '')}) AND project in ("ENG") AND issuetype in ("Bug", "Story", "Task")${/ORDER BY/.test(jql) ? ' ORDER BY priority DESC' : ''}`);
  });

  it.each([['issuetype = Epic'], ['type != epic AND status = Done'], ['issuetype in (Bug, "EPIC")'], ['issuetype = 10000']])(
    'a search naming a hidden issue type is refused as ISSUE_TYPE_NOT_ALLOWED: %s',
    async (jql) => {
      const receipt = await probe(jql, 'ISSUE_TYPE_NOT_ALLOWED');
      expect(receipt.request?.issueTypes?.some((type) => ['epic', '10000'].includes(type.toLowerCase()))).toBe(true);
    },
  );

  it('a field Jira does not know, or JQL the gate cannot read, is refused rather than guessed at', async () => {
    await probe('nosuchfield = 1', 'JQL_FIELD_UNKNOWN');
    await probe('status WAS Done', 'JQL_INVALID');
    await probe('filter = 10000', 'JQL_FIELD_UNKNOWN');
  });

  it('an honest search still answers: confined by project and type, its hits only the key and the asked fields', async () => {
    const seq = mark(sim);
    const result = await callTool(read, 'jira_search_issues', { jql: 'status = "To Do" ORDER BY key', fields: ['summary'], max_results: 50 });
    expect(result.isError, result.text).toBe(false);
    const data = result.structured.data as { jql_sent: string; issues: Array<Record<string, unknown>> };
    const sent = '(status = "To Do") AND project in ("ENG") AND issuetype in ("Bug", "Story", "Task") ORDER BY key';
    expect(data.jql_sent).toBe(sent);
    expect(searchesSince(seq)).toEqual([sent]);
    expect(data.issues.length).toBeGreaterThan(0);
    for (const hit of data.issues) {
      expect(Object.keys(hit).sort()).toEqual(['fields', 'key']);
      expect(Object.keys(hit.fields as object)).toEqual(['summary']);
    }
    expect(data).not.toHaveProperty('filtered_out');
    // Default fields leave out the hidden ones instead of listing them as withheld.
    const defaults = await callTool(read, 'jira_search_issues', { jql: 'ORDER BY key', max_results: 5 });
    for (const hit of (defaults.structured.data as { issues: Array<{ fields: object }> }).issues) expect(Object.keys(hit.fields)).not.toContain('priority');
    const receipt = world.receipts().find((candidate) => candidate.kind === 'decision' && candidate.request?.jql === sent);
    expect(receipt?.decision?.effect).toBe('allow');
    expect(receipt?.request?.projects).toEqual(['ENG']);
    // A visible type in another case is the same type to Jira, and to the decision.
    const lower = await callTool(read, 'jira_search_issues', { jql: 'issuetype = bug ORDER BY key', fields: ['issuetype'], max_results: 5 });
    expect(lower.isError, lower.text).toBe(false);
    for (const hit of (lower.structured.data as { issues: Array<{ fields: { issuetype: unknown } }> }).issues) expect(hit.fields.issuetype).toBe('Bug');
  });

  it('asking a hidden field back by its display name is refused like its id', async () => {
    const result = await callTool(read, 'jira_search_issues', { jql: 'status = Done', fields: ['Security classification'] });
    expect(result.structured.code).toBe('FIELD_READ_DENIED');
    const unknown = await callTool(read, 'jira_search_issues', { jql: 'status = Done', fields: ['-description'] });
    expect(unknown.structured.code).toBe('FIELD_UNKNOWN');
  });

  it('bundle seal and verify re-derive every denial from the recorded request; a recorded allow of a probe is named', async () => {
    await read.close();
    const seal = await world.cli(['bundle', 'seal', world.bundleDir]);
    expect(seal.code, seal.err).toBe(0);
    const trust = ['--trust', clawHome(world.home).trustFile];
    const verify = await world.cli(['bundle', 'verify', world.bundleDir, ...trust]);
    expect(verify.code, verify.err + verify.out).toBe(0);

    // A lying gate: the recorded request of a real probe, validly signed, but recorded as allowed. Only the
    // search dimensions (a JQL-named hidden field) make decide() deny it, so verify can only catch it if it
    // re-runs decide() on them.
    const probeReceipt = world.denials('FIELD_READ_DENIED').find((receipt) => receipt.request?.jql?.includes('cf[10033]')) as Receipt;
    const liar = join(world.dir, 'liar-bundle');
    mkdirSync(liar, { recursive: true });
    for (const part of ['wpc', 'keys']) if (existsSync(join(world.bundleDir, part))) cpSync(join(world.bundleDir, part), join(liar, part), { recursive: true });
    const log = ReceiptLog.open({ bundleDir: liar, job: 'leak-liar', server: 'jira-read', key: await loadSigningKey(clawHome(world.home), 'receipt'), session: 's' });
    const { kind, time, tool, operation, args_hash, wpc_hash, cst, scope, request } = probeReceipt;
    log.append({
      kind,
      time,
      ...(tool ? { tool } : {}),
      ...(operation ? { operation } : {}),
      ...(args_hash ? { args_hash } : {}),
      ...(wpc_hash ? { wpc_hash } : {}),
      ...(cst ? { cst } : {}),
      ...(scope ? { scope } : {}),
      ...(request ? { request } : {}),
      policy_decision: { effect: 'allow', reasons: [] },
      decision: { effect: 'allow', stage: 'allowed', reasons: [] },
    });
    log.close();
    expect(readdirSync(join(liar, 'receipts')).length).toBe(1);
    const liarSeal = await world.cli(['bundle', 'seal', liar]);
    expect(liarSeal.code, liarSeal.err).toBe(0);
    const liarVerify = await world.cli(['bundle', 'verify', liar, ...trust]);
    expect(liarVerify.code).not.toBe(0);
    expect(liarVerify.out + liarVerify.err).toContain('DECISION_MISMATCH');
  });
});

describe('threat: restricted comments and issue references', () => {
  const COMMENT_WPC = { wpc_version: 'v1', tool: 'jira', allow: { projects: ['ENG'], operations: ['issue.search', 'issue.get'] }, deny: { projects: ['SEC'] } };
  const restricted = 'Restricted: the customer is Globex, do not share';
  const open = 'Public note: rollout is on Tuesday';
  let story: string;
  let secSummary: string;

  beforeAll(async () => {
    for (const body of [
      { body: { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: open }] }] } },
      {
        body: { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: restricted }] }] },
        visibility: { type: 'role', value: 'Administrators' },
      },
    ]) {
      expect((await jiraAsUser('POST', '/rest/api/3/issue/ENG-6/comment', body)).status).toBe(201);
    }
    const stories = (await jiraAsUser('POST', '/rest/api/3/search/jql', { jql: 'project = ENG AND issuetype = Story ORDER BY key', maxResults: 1, fields: ['summary'] }))
      .body as { issues: Array<{ key: string }> };
    story = stories.issues[0]?.key as string;
    expect((await jiraAsUser('PUT', `/rest/api/3/issue/${story}`, { fields: { customfield_10035: 'SEC-1' } })).status).toBe(204);
    secSummary = ((await jiraAsUser('GET', '/rest/api/3/issue/SEC-1?fields=summary')).body as { fields: { summary: string } }).fields.summary;
    // The simulator serves the link the way Jira does: the other issue, summary included.
    const raw = (await jiraAsUser('GET', `/rest/api/3/issue/${story}?fields=customfield_10035`)).body as { fields: { customfield_10035: { data: { key: string; summary: string } } } };
    expect(raw.fields.customfield_10035.data).toMatchObject({ key: 'SEC-1', summary: secSummary });
  });

  it('a comment Jira restricts to a role is withheld by default, everywhere comments appear, without a count', async () => {
    const world = await World.create({ wpc: COMMENT_WPC, sim, job: 'leak-comments' });
    try {
      const read = await world.connect('read');
      const raw = (await jiraAsUser('GET', '/rest/api/3/issue/ENG-6/comment?maxResults=100')).body as { total: number };
      const result = await callTool(read, 'jira_get_comments', { issue_key: 'ENG-6', max_results: 100 });
      expect(result.isError, result.text).toBe(false);
      const data = result.structured.data as { total: number; comments: Array<{ body_markdown: string; visibility?: unknown }> };
      expect(result.text).toContain(open);
      expect(result.text).not.toContain('Globex');
      expect(data.comments.some((comment) => comment.visibility !== undefined)).toBe(false);
      // The total counts what the model may see: Jira's own total would tell that a restricted comment exists.
      expect(data.total).toBe(raw.total - 1);
      expect(data.comments.length).toBe(raw.total - 1);
      const issue = await callTool(read, 'jira_get_issue', { issue_key: 'ENG-6', fields: ['comment'] });
      expect(issue.isError, issue.text).toBe(false);
      expect(issue.text).toContain(open);
      expect(issue.text).not.toContain('Globex');
      const search = await callTool(read, 'jira_search_issues', { jql: 'key = ENG-6', fields: ['comment'] });
      expect(search.text).toContain(open);
      expect(search.text).not.toContain('Globex');
    } finally {
      await world.close();
    }
  });

  it('allow.restricted_comments lets them through, with the restriction shown', async () => {
    const world = await World.create({ wpc: { ...COMMENT_WPC, allow: { ...COMMENT_WPC.allow, restricted_comments: true } }, sim, job: 'leak-comments-shown' });
    try {
      const read = await world.connect('read');
      const result = await callTool(read, 'jira_get_comments', { issue_key: 'ENG-6', max_results: 100 });
      const comments = (result.structured.data as { comments: Array<{ body_markdown: string; visibility?: unknown }> }).comments;
      const shown = comments.find((comment) => comment.body_markdown.includes('Globex'));
      expect(shown?.visibility).toEqual({ type: 'role', value: 'Administrators' });
      expect(comments.find((comment) => comment.body_markdown.includes(open))?.visibility).toBeUndefined();
    } finally {
      await world.close();
    }
  });

  it('a change to a hidden field leaves no trace in the changelog: no item, no empty entry, no count', async () => {
    expect((await jiraAsUser('PUT', '/rest/api/3/issue/ENG-7', { fields: { priority: { name: 'Highest' } } })).status).toBe(204);
    expect((await jiraAsUser('PUT', '/rest/api/3/issue/ENG-7', { fields: { labels: ['leak-probe'] } })).status).toBe(204);
    const raw = ((await jiraAsUser('GET', '/rest/api/3/issue/ENG-7/changelog?maxResults=100')).body as { values: Array<{ items: Array<{ field: string }> }> }).values;
    const visible = raw.filter((history) => history.items.some((item) => item.field !== 'priority'));
    expect(visible.length).toBeLessThan(raw.length);
    const world = await World.create({ wpc: { ...COMMENT_WPC, deny: { ...COMMENT_WPC.deny, fields_read: ['priority'] } }, sim, job: 'leak-history' });
    try {
      const read = await world.connect('read');
      const result = await callTool(read, 'jira_get_changelog', { issue_key: 'ENG-7', max_results: 100 });
      expect(result.isError, result.text).toBe(false);
      const data = result.structured.data as { histories: Array<{ items: Array<{ field: string }> }> };
      expect(data.histories.length).toBe(visible.length);
      expect(data.histories.every((history) => history.items.length > 0 && history.items.every((item) => item.field !== 'priority'))).toBe(true);
      expect(JSON.stringify(data.histories)).toContain('leak-probe');
      expect(data).not.toHaveProperty('withheld_items');
      // The issue's hidden default field is named as hidden by the policy, never fetched.
      const issue = await callTool(read, 'jira_get_issue', { issue_key: 'ENG-7' });
      expect((issue.structured.data as { withheld_fields: string[]; fields: object }).withheld_fields).toEqual(['priority']);
      expect(Object.keys((issue.structured.data as { fields: object }).fields)).not.toContain('priority');
    } finally {
      await world.close();
    }
  });

  it('an issue-reference custom field (Parent Link to a hidden project) is reduced to the key', async () => {
    const world = await World.create({ wpc: COMMENT_WPC, sim, job: 'leak-links' });
    try {
      const read = await world.connect('read');
      const got = await callTool(read, 'jira_get_issue', { issue_key: story, fields: ['summary', 'Parent Link'] });
      expect(got.isError, got.text).toBe(false);
      expect((got.structured.data as { fields: Record<string, unknown> }).fields.customfield_10035).toEqual({ key: 'SEC-1' });
      expect(got.text).not.toContain(secSummary);
      const found = await callTool(read, 'jira_search_issues', { jql: `key = ${story}`, fields: ['customfield_10035'] });
      expect((found.structured.data as { issues: Array<{ fields: Record<string, unknown> }> }).issues[0]?.fields.customfield_10035).toEqual({ key: 'SEC-1' });
      expect(found.text).not.toContain(secSummary);
    } finally {
      await world.close();
    }
  });
});
