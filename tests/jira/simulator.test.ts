import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adfToMarkdown, JiraClient, markdownToAdf, Secret, type JiraAuth, type JiraClientOptions } from '../../src/jira/index.js';
import { SIM_USERS, startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { recordingSleep } from '../helpers/stub.js';

const agent = SIM_USERS.agent;
const BASIC: JiraAuth = { kind: 'basic', email: agent.email, apiToken: new Secret(agent.apiToken) };
const BEARER: JiraAuth = { kind: 'bearer', token: new Secret(agent.bearer) };

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 7 });
});
afterAll(() => sim.close());
beforeEach(() => {
  sim.faults.clear();
  sim.clearRequests();
});

function client(extra: Partial<JiraClientOptions> = {}, auth: JiraAuth = BASIC) {
  const rec = recordingSleep();
  return { c: new JiraClient({ baseUrl: sim.url, auth, sleep: rec.sleep, ...extra }), sleeps: rec.sleeps };
}

describe('against the simulator', () => {
  it('reads with basic and bearer credentials', async () => {
    for (const auth of [BASIC, BEARER]) {
      const me = await client({}, auth).c.myself();
      expect(me.data.accountId).toBe(agent.accountId);
    }
    expect(sim.requests().map((r) => r.authScheme)).toEqual(['basic', 'bearer']);
  });

  it('runs a whole issue lifecycle, and every exchange matches what the simulator saw', async () => {
    const { c } = client();
    const project = (await c.listProjects({ keys: ['ENG'] })).data.values[0];
    expect(project?.key).toBe('ENG');
    await c.getProject('ENG');
    const task = (await c.getCreateMetaIssueTypes('ENG')).data.issueTypes.find((t) => t.name === 'Task');
    expect(task).toBeDefined();
    const fields = (await c.getCreateMetaFields('ENG', task?.id ?? '')).data.fields;
    expect(fields.filter((f) => f.required).map((f) => f.fieldId).sort()).toEqual(['issuetype', 'project', 'summary']);
    expect((await c.getFields()).data.some((f) => f.id === 'summary')).toBe(true);
    await c.serverInfo();

    const description = markdownToAdf('## Context\n\nSee [runbook](https://example.com/runbook) and `make test`.\n\n- first\n- second');
    const created = await c.createIssue({ fields: { project: { key: 'ENG' }, issuetype: { id: task?.id }, summary: 'Client lifecycle', description } });
    const key = created.data.key;
    expect(created.request).toMatchObject({ method: 'POST', path: '/rest/api/3/issue', status: 201, attempts: 1 });

    const read = await c.getIssue(key, { fields: ['summary', 'description', 'labels'] });
    expect(read.data.fields?.summary).toBe('Client lifecycle');
    expect(adfToMarkdown(read.data.fields?.description)).toBe('## Context\n\nSee [runbook](https://example.com/runbook) and `make test`.\n\n- first\n- second');

    await c.editIssue(key, { fields: { summary: 'Client lifecycle (edited)' }, update: { labels: [{ add: 'claw' }] } }, { notifyUsers: false });
    expect((await c.getIssue(key, { fields: ['summary', 'labels'] })).data.fields).toMatchObject({ summary: 'Client lifecycle (edited)', labels: ['claw'] });

    const transitions = (await c.getTransitions(key, { expandFields: true })).data.transitions;
    const first = transitions[0];
    expect(first).toBeDefined();
    await c.transitionIssue(key, { transition: { id: first?.id ?? '' } });
    await c.assignIssue(key, agent.accountId);
    await c.assignIssue(key, null);

    const comment = await c.addComment(key, markdownToAdf('Looks **good**; ping <script>x</script>'));
    const comments = (await c.getComments(key)).data.comments;
    expect(comments.map((x) => adfToMarkdown(x.body))).toContain('Looks **good**; ping \\<script>x\\</script>');
    await c.deleteComment(key, comment.data.id);
    expect((await c.getComments(key)).data.total).toBe(0);

    const changes = (await c.getChangelog(key)).data.values.flatMap((v) => v.items.map((i) => i.field));
    expect(changes).toEqual(expect.arrayContaining(['summary', 'labels']));
    expect((await c.approximateCount(`key = ${key}`)).data.count).toBe(1);

    await c.deleteIssue(key, { deleteSubtasks: true });
    await expect(c.getIssue(key)).rejects.toMatchObject({ code: 'JIRA_NOT_FOUND', status: 404, request: { path: `/rest/api/3/issue/${key}` } });

    const seen = sim.requests();
    expect(seen.every((r) => r.user === agent.accountId)).toBe(true);
    expect(seen.some((r) => r.path === '/rest/api/3/search')).toBe(false);
    expect(seen.filter((r) => r.method === 'POST' && r.path === '/rest/api/3/issue')).toHaveLength(1);
  });

  it('pages a JQL search with nextPageToken to the end', async () => {
    const { c } = client();
    const count = (await c.approximateCount('project = ENG')).data.count;
    const ids: string[] = [];
    let pages = 0;
    for await (const page of c.searchAll({ jql: 'project = ENG ORDER BY key ASC', fields: ['key'], maxResults: 7 })) {
      pages++;
      ids.push(...page.data.issues.map((i) => i.id));
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(count);
    expect(pages).toBe(Math.ceil(count / 7));
  });

  it('renders the seeded ADF (mentions, panels) as Markdown', async () => {
    const { c } = client();
    const page = await c.searchJql({ jql: 'project = ENG ORDER BY key ASC', fields: ['description'], maxResults: 20 });
    const text = page.data.issues.map((i) => adfToMarkdown(i.fields?.description)).join('\n');
    expect(text).toMatch(/@\w+/);
    expect(text).toContain('> [!');
  });

  it('honours the Retry-After the simulator sends, and retries 503 up to 4 tries', async () => {
    sim.faults.add({ kind: '429', match: { method: 'GET', pathPrefix: '/rest/api/3/myself' }, times: 2, retryAfterSeconds: 3 });
    const ok = client();
    expect((await ok.c.myself()).request).toMatchObject({ status: 200, attempts: 3 });
    expect(ok.sleeps).toEqual([3000, 3000]);

    sim.faults.add({ kind: '503', match: { pathPrefix: '/rest/api/3/search/jql' }, times: 10 });
    const failing = client({ random: () => 0 });
    await expect(failing.c.searchJql({ jql: 'project = ENG' })).rejects.toMatchObject({ code: 'JIRA_UNAVAILABLE', request: { attempts: 4 } });
    expect(failing.sleeps).toEqual([700, 1400, 2800]);
    expect(sim.requests().filter((r) => r.path === '/rest/api/3/search/jql')).toHaveLength(4);
  });

  it('sends a create exactly once on 429, 503 and a dropped connection', async () => {
    for (const kind of ['429', '503', 'drop'] as const) {
      sim.clearRequests();
      sim.faults.add({ kind, match: { method: 'POST', pathPrefix: '/rest/api/3/issue' }, times: 5 });
      const { c, sleeps } = client();
      const error = await c.createIssue({ fields: { project: { key: 'ENG' }, issuetype: { id: '10001' }, summary: `once ${kind}` } }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: { '429': 'JIRA_RATE_LIMITED', '503': 'JIRA_UNAVAILABLE', drop: 'JIRA_NETWORK' }[kind], request: { attempts: 1 } });
      expect(sleeps).toEqual([]);
      expect(sim.requests().filter((r) => r.method === 'POST' && r.path === '/rest/api/3/issue')).toHaveLength(1);
      sim.faults.clear();
    }
  });

  it('refuses a wrong token without repeating it', async () => {
    const wrong = 'ATATT-wrong-token-for-sim-0000';
    const error = await client({}, { kind: 'basic', email: agent.email, apiToken: new Secret(wrong) }).c.myself().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'JIRA_UNAUTHORIZED', status: 401 });
    for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: 10, showHidden: true })]) expect(text).not.toContain(wrong);
  });
});
