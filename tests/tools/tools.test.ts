/**
 * The tools and the client the gate hands them, against the simulator: every Jira exchange a tool makes is
 * recorded by the client itself (successes, failures, every page), the search's target carries every field
 * its JQL observes (any spelling, ORDER BY) and the confined JQL, results of hidden types never come back,
 * restricted comments are withheld unless the WPC lets them through, and "writable" asks the policy's rule.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { markdownToAdf } from '../../src/jira/index.js';
import { isJiraError } from '../../src/jira/errors.js';
import { RecordingJira } from '../../src/gate/recording-jira.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { getComments, getCreateFields, searchIssues } from '../../src/tools/read-tools.js';
import type { WpcInput } from '../../src/wpc/schema.js';
import { jiraAsUser } from '../e2e/threat-helpers.js';
import { resolveTool, runTool, simClient, toolContext } from '../helpers/tool-context.js';

const WPC: WpcInput = {
  wpc_version: 'v1',
  tool: 'jira',
  allow: { projects: ['ENG'], operations: ['issue.search', 'issue.get', 'project.read', 'issue.create'], fields_write_allowlist: ['summary', 'labels'] },
  deny: { fields_write_denylist: ['labels'] },
};

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 42 });
});
afterAll(() => sim.close());
beforeEach(() => {
  sim.faults.clear();
  sim.clearRequests();
});

describe('RecordingJira: the client records every exchange itself', () => {
  it('records answers, refusals and every page, exactly the requests Jira saw', async () => {
    const jira = new RecordingJira(simClient(sim));
    await jira.getIssue('ENG-6', { fields: ['summary'] });
    const missing = await jira.getIssue('ENG-99999').catch((error: unknown) => error);
    expect(isJiraError(missing) && missing.code).toBe('JIRA_NOT_FOUND');
    const pages: unknown[] = [];
    for await (const page of jira.commentsAll('ENG-6', { pageSize: 1 })) pages.push(page);
    expect(pages.length).toBeGreaterThan(1);
    expect(jira.exchanges).toHaveLength(sim.requests().length);
    expect(jira.exchanges.map((exchange) => exchange.status)).toEqual(sim.requests().map((request) => request.status));
    expect(jira.since(2)).toEqual(jira.exchanges.slice(2));
  });
});

describe('jira_search_issues', () => {
  it('names every field its JQL observes, by id, cf[n], display name or ORDER BY, and the confined JQL', async () => {
    const ctx = toolContext(sim, WPC);
    const target = await resolveTool(
      searchIssues,
      { jql: 'cf[10033] = "Public" OR "Security classification" = "Internal" AND description ~ "guess" ORDER BY priority' },
      ctx,
    );
    expect(target.fieldsRead).toEqual(expect.arrayContaining(['customfield_10033', 'description', 'priority']));
    expect(target.projects).toEqual(['ENG']);
    expect(target.jql).toMatch(/^\(.*\) AND project in \("ENG"\) ORDER BY priority$/);
    // The catalogue fetch went through the call's client too.
    expect(ctx.jira.exchanges.map((exchange) => exchange.path)).toContain('/rest/api/3/field');
  });

  it('with issue types constrained, the JQL is confined to them and no hit of another type returns', async () => {
    const ctx = toolContext(sim, { ...WPC, allow: { ...WPC.allow, issue_types: ['Bug'] } });
    const { target, run } = await runTool(searchIssues, { jql: 'order by key', fields: ['issuetype'], max_results: 50 }, ctx);
    expect(target.jql).toContain('issuetype in ("Bug")');
    const hits = (run.data as { issues: Array<{ fields: { issuetype: unknown } }> }).issues;
    expect(hits.length).toBeGreaterThan(0);
    expect(new Set(hits.map((hit) => JSON.stringify(hit.fields.issuetype)))).toEqual(new Set([JSON.stringify('Bug')]));
  });
});

describe('jira_get_comments', () => {
  it('withholds a comment restricted to a role, and shows it with its restriction when the WPC allows', async () => {
    const posted = await jiraAsUser(sim, 'POST', '/rest/api/3/issue/ENG-8/comment', {
      body: markdownToAdf('for admins only'),
      visibility: { type: 'role', value: 'Administrators' },
    });
    expect(posted.status).toBe(201);
    const id = (posted.body as { id: string }).id;
    const shown = async (wpc: WpcInput) => {
      const { run } = await runTool(getComments, { issue_key: 'ENG-8', max_results: 100 }, toolContext(sim, wpc));
      return (run.data as { comments: Array<{ id: string; visibility?: unknown }> }).comments.find((comment) => comment.id === id);
    };
    expect(await shown(WPC)).toBeUndefined();
    expect(await shown({ ...WPC, allow: { ...WPC.allow, restricted_comments: true } })).toMatchObject({ visibility: { type: 'role', value: 'Administrators' } });
  });
});

describe('jira_get_create_fields', () => {
  it('says writable exactly where the policy would let a create write the field', async () => {
    const { run } = await runTool(getCreateFields, { project_key: 'ENG', issue_type: 'Task' }, toolContext(sim, WPC));
    const writable = Object.fromEntries((run.data as { fields: Array<{ id: string; writable_by_policy: boolean }> }).fields.map((field) => [field.id, field.writable_by_policy]));
    expect(writable).toMatchObject({ project: true, issuetype: true, summary: true });
    // labels is allowlisted but denylisted too: deny wins.
    if ('labels' in writable) expect(writable.labels).toBe(false);
    if ('description' in writable) expect(writable.description).toBe(false);
  });
});
