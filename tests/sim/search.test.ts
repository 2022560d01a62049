import { describe, expect, it } from 'vitest';
import { SIM_FIXTURES, SIM_USERS, type RunningSimulator, type SimSnapshot } from '../../src/sim/index.js';
import { call, client, jql, searchAll, type SimClient } from './helpers.js';
import { useSimulator } from '../helpers/sim.js';

let sim: RunningSimulator;
let agent: SimClient;
let snapshot: SimSnapshot;

useSimulator({}, (started) => {
  sim = started;
  agent = client(sim.url, SIM_USERS.agent);
  snapshot = sim.snapshot();
});

const REMOVED_MESSAGE =
  'The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046';

describe('enhanced search paging', () => {
  it('pages with nextPageToken until isLast, without duplicates or a total', async () => {
    const { issues, pages } = await searchAll(agent, 'project = ENG', '&maxResults=7');
    const expected = snapshot.issues.filter((i) => i.projectKey === 'ENG').map((i) => i.id);
    expect(issues.map((i) => i.id).sort()).toEqual([...expected].sort());
    expect(new Set(issues.map((i) => i.id)).size).toBe(issues.length);
    expect(pages.length).toBe(Math.ceil(expected.length / 7));
    for (const page of pages.slice(0, -1)) {
      expect(page.isLast).toBe(false);
      expect(typeof page.nextPageToken).toBe('string');
      expect(page.issues).toHaveLength(7);
    }
    const last = pages.at(-1);
    expect(last.isLast).toBe(true);
    expect(last).not.toHaveProperty('nextPageToken');
    for (const page of pages) expect(page).not.toHaveProperty('total');
  });

  it('returns only issue ids by default', async () => {
    const reply = await agent.get(`/rest/api/3/search/jql?jql=${jql('project = OPS')}&maxResults=3`);
    expect(reply.status).toBe(200);
    expect(reply.body.issues).toHaveLength(3);
    for (const issue of reply.body.issues) expect(Object.keys(issue)).toEqual(['id']);
  });

  it('defaults maxResults to 50', async () => {
    const reply = await agent.get(`/rest/api/3/search/jql?jql=${jql('project = ENG')}`);
    expect(reply.body.issues).toHaveLength(50);
    expect(reply.body.isLast).toBe(false);
  });

  it('returns up to 5000 ids per page but at most 100 issues when fields are requested', async () => {
    const ids = await agent.get(`/rest/api/3/search/jql?jql=${jql('project in (ENG, SEC, OPS, HR)')}&maxResults=5000`);
    expect(ids.body.issues).toHaveLength(SIM_FIXTURES.totalIssues);
    expect(ids.body.isLast).toBe(true);
    const withFields = await agent.get(`/rest/api/3/search/jql?jql=${jql('project in (ENG, SEC, OPS, HR)')}&maxResults=5000&fields=summary`);
    expect(withFields.body.issues).toHaveLength(100);
    expect(withFields.body.isLast).toBe(false);
  });

  it.each([0, -1, 5001])('refuses maxResults=%i', async (max) => {
    const reply = await agent.get(`/rest/api/3/search/jql?jql=${jql('project = ENG')}&maxResults=${max}`);
    expect(reply.status).toBe(400);
    expect(reply.body.errorMessages[0]).toMatch(/maxResults/);
  });

  it('refuses a maxResults that is not a number in the RFC 7807 shape', async () => {
    const reply = await agent.get(`/rest/api/3/search/jql?jql=${jql('project = ENG')}&maxResults=abc`);
    expect(reply.status).toBe(400);
    expect(reply.headers.get('content-type')).toBe('application/problem+json;charset=UTF-8');
    expect(reply.body).toMatchObject({ status: 400, detail: "Failed to convert 'maxResults' with value: 'abc'" });
  });

  it('refuses a forged or foreign nextPageToken', async () => {
    const bad = await agent.get(`/rest/api/3/search/jql?jql=${jql('project = ENG')}&nextPageToken=not-a-token`);
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ errorMessages: ['The provided nextPageToken is invalid or has expired.'], errors: {} });
    const first = await agent.get(`/rest/api/3/search/jql?jql=${jql('project = ENG')}&maxResults=5`);
    const reused = await agent.get(`/rest/api/3/search/jql?jql=${jql('project = SEC')}&nextPageToken=${encodeURIComponent(first.body.nextPageToken)}`);
    expect(reused.status).toBe(400);
  });
});

describe('enhanced search fields and expand', () => {
  const one = async (fields: string, extra = '') =>
    (await agent.get(`/rest/api/3/search/jql?jql=${jql(`key = ${SIM_FIXTURES.issues.withSubtasks}`)}&fields=${fields}${extra}`)).body;

  it('returns the requested fields only', async () => {
    const body = await one('summary,status');
    const [issue] = body.issues;
    expect(Object.keys(issue.fields).sort()).toEqual(['status', 'summary']);
    expect(issue.key).toBe(SIM_FIXTURES.issues.withSubtasks);
    expect(issue.self).toBe(`${sim.url}/rest/api/3/issue/${issue.id}`);
  });

  it('*navigable leaves out the comment field, *all includes it', async () => {
    const navigable = (await one('*navigable')).issues[0].fields;
    const all = (await one('*all')).issues[0].fields;
    expect(navigable).not.toHaveProperty('comment');
    expect(all).toHaveProperty('comment');
    expect(navigable).toHaveProperty('summary');
    expect(navigable).toHaveProperty('customfield_10016');
  });

  it('excludes fields prefixed with a minus', async () => {
    const fields = (await one('*all,-comment,-description')).issues[0].fields;
    expect(fields).not.toHaveProperty('comment');
    expect(fields).not.toHaveProperty('description');
    expect(fields).toHaveProperty('summary');
    const onlyExclusion = (await one('-summary')).issues[0].fields;
    expect(onlyExclusion).not.toHaveProperty('summary');
    expect(onlyExclusion).not.toHaveProperty('comment');
    expect(onlyExclusion).toHaveProperty('status');
  });

  it('accepts repeated fields parameters', async () => {
    const body = await one('summary', '&fields=labels');
    expect(Object.keys(body.issues[0].fields).sort()).toEqual(['labels', 'summary']);
  });

  it('expands names and schema at the top level, renderedFields and changelog per issue', async () => {
    const body = await one('summary,description,created', '&expand=names,schema,renderedFields,changelog');
    expect(body.names).toEqual({ summary: 'Summary', description: 'Description', created: 'Created' });
    expect(body.schema.created).toEqual({ type: 'datetime', system: 'created' });
    const [issue] = body.issues;
    expect(issue.renderedFields).toHaveProperty('summary');
    expect(typeof issue.changelog.total).toBe('number');
    expect(Array.isArray(issue.changelog.histories)).toBe(true);
  });
});

describe('POST search and approximate count', () => {
  it('answers POST like GET', async () => {
    const get = await agent.get(`/rest/api/3/search/jql?jql=${jql('project = HR ORDER BY key ASC')}&maxResults=10&fields=summary`);
    const post = await agent.post('/rest/api/3/search/jql', { jql: 'project = HR ORDER BY key ASC', maxResults: 10, fields: ['summary'] });
    expect(post.status).toBe(200);
    expect(post.body.issues).toEqual(get.body.issues);
  });

  it('refuses a POST body with an unknown property or a wrong type', async () => {
    const unknown = await agent.post('/rest/api/3/search/jql', { jql: 'project = HR', startAt: 0 });
    expect(unknown.status).toBe(400);
    const wrongType = await agent.post('/rest/api/3/search/jql', { jql: 'project = HR', maxResults: '10' });
    expect(wrongType.status).toBe(400);
  });

  it('counts matching issues', async () => {
    const reply = await agent.post('/rest/api/3/search/approximate-count', { jql: 'project = SEC AND status = Done' });
    expect(reply.status).toBe(200);
    const expected = snapshot.issues.filter((i) => i.projectKey === 'SEC' && i.statusId === SIM_FIXTURES.statuses.done).length;
    expect(reply.body).toEqual({ count: expected });
  });
});

describe('unbounded and removed searches', () => {
  it.each(['', 'ORDER BY created DESC', '   order by key'])('refuses the unbounded query %j', async (query) => {
    const reply = await agent.get(`/rest/api/3/search/jql?jql=${jql(query)}`);
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ errorMessages: ['Unbounded JQL queries are not allowed here. Please add a search restriction to your query.'], errors: {} });
  });

  it('refuses a search with no jql parameter at all', async () => {
    const reply = await agent.get('/rest/api/3/search/jql');
    expect(reply.status).toBe(400);
    expect(reply.body.errorMessages[0]).toMatch(/^Unbounded JQL/);
  });

  it.each(['GET', 'POST'])('answers %s /rest/api/3/search with 410 Gone, even without credentials', async (method) => {
    for (const auth of [null, `Basic ${Buffer.from(`${SIM_USERS.agent.email}:${SIM_USERS.agent.apiToken}`).toString('base64')}`]) {
      const reply = await call(sim.url, method, '/rest/api/3/search?jql=project%3DENG', { auth, ...(method === 'POST' ? { body: { jql: 'project = ENG' } } : {}) });
      expect(reply.status).toBe(410);
      expect(reply.body).toEqual({ errorMessages: [REMOVED_MESSAGE], errors: {} });
    }
  });
});
