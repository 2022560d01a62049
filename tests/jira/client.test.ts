import { describe, expect, it } from 'vitest';
import { JiraClient, type JiraClientOptions } from '../../src/jira/client.js';
import { JiraError, JiraHttpError } from '../../src/jira/errors.js';
import type { HttpSend } from '../../src/jira/http.js';
import { Secret } from '../../src/jira/secret.js';
import { json, recordingSleep, useStubs, type StubHandler } from '../helpers/stub.js';

const TOKEN = 'ATATT3xFfGF0-client-test-token-91e2';
const DOC = { version: 1 as const, type: 'doc' as const, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'hi' }] }] };

const stub = useStubs();

function client(url: string, extra: Partial<JiraClientOptions> = {}): JiraClient {
  return new JiraClient({ baseUrl: url, auth: { kind: 'bearer', token: new Secret(TOKEN) }, sleep: recordingSleep().sleep, ...extra });
}

/** Answers every operation the client knows with a minimal valid body. */
const jiraLike: StubHandler = (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  const issue = { id: '10001', key: 'ABC-1', fields: { summary: 's' } };
  if (req.method === 'POST' && path === '/rest/api/3/search/jql') return json(res, 200, { issues: [issue], isLast: true });
  if (path === '/rest/api/3/search/approximate-count') return json(res, 200, { count: 3 });
  if (req.method === 'POST' && path === '/rest/api/3/issue') return json(res, 201, { id: '10002', key: 'ABC-2', self: 'x' });
  if (req.method === 'POST' && path.endsWith('/comment')) return json(res, 201, { id: '7', body: DOC });
  if (req.method !== 'GET') return json(res, 204, undefined);
  if (path.endsWith('/comment')) return json(res, 200, { startAt: 0, maxResults: 50, total: 0, comments: [] });
  if (path.endsWith('/changelog')) return json(res, 200, { startAt: 0, maxResults: 100, total: 0, isLast: true, values: [] });
  if (path.endsWith('/transitions')) return json(res, 200, { transitions: [{ id: '31', name: 'Done' }] });
  if (path === '/rest/api/3/project/search') return json(res, 200, { startAt: 0, maxResults: 50, isLast: true, values: [{ id: '1', key: 'ABC', name: 'A' }] });
  if (path === '/rest/api/3/project/ABC') return json(res, 200, { id: '1', key: 'ABC', name: 'A' });
  if (path.endsWith('/issuetypes')) return json(res, 200, { startAt: 0, maxResults: 50, total: 1, issueTypes: [{ id: '3', name: 'Task' }] });
  if (path.includes('/issuetypes/')) {
    return json(res, 200, { startAt: 0, maxResults: 50, total: 1, fields: [{ fieldId: 'summary', key: 'summary', name: 'Summary', required: true }] });
  }
  if (path === '/rest/api/3/field') return json(res, 200, [{ id: 'summary', name: 'Summary', custom: false }]);
  if (path === '/rest/api/3/myself') return json(res, 200, { accountId: 'acc-1', displayName: 'Bot' });
  if (path === '/rest/api/3/serverInfo') return json(res, 200, { baseUrl: 'x', deploymentType: 'Cloud' });
  if (path.startsWith('/rest/api/3/issue/')) return json(res, 200, issue);
  return json(res, 404, { errorMessages: ['no route'], errors: {} });
};

describe('JiraClient requests', () => {
  it('sends each operation to the documented method, path, query and body', async () => {
    const s = await stub(jiraLike);
    const c = client(s.url);
    const calls: Array<[string, () => Promise<{ request: { method: string; path: string; status: number | undefined } }>]> = [
      ['POST /rest/api/3/search/jql', () => c.searchJql({ jql: 'project = ABC', fields: ['summary', 'status'], maxResults: 10, expand: ['names'] })],
      ['POST /rest/api/3/search/approximate-count', () => c.approximateCount('project = ABC')],
      ['GET /rest/api/3/issue/ABC-1?fields=summary%2Cstatus&expand=renderedFields', () => c.getIssue('ABC-1', { fields: ['summary', 'status'], expand: 'renderedFields' })],
      ['GET /rest/api/3/issue/ABC-1/comment?startAt=5&maxResults=10', () => c.getComments('ABC-1', { startAt: 5, maxResults: 10 })],
      ['GET /rest/api/3/issue/ABC-1/changelog?startAt=0', () => c.getChangelog('ABC-1', { startAt: 0 })],
      ['GET /rest/api/3/project/search?maxResults=2&query=ab&keys=ABC&keys=DEF', () => c.listProjects({ maxResults: 2, query: 'ab', keys: ['ABC', 'DEF'] })],
      ['GET /rest/api/3/project/ABC', () => c.getProject('ABC')],
      ['GET /rest/api/3/issue/createmeta/ABC/issuetypes', () => c.getCreateMetaIssueTypes('ABC')],
      ['GET /rest/api/3/issue/createmeta/ABC/issuetypes/3?maxResults=200', () => c.getCreateMetaFields('ABC', '3', { maxResults: 200 })],
      ['GET /rest/api/3/issue/ABC-1/transitions?expand=transitions.fields', () => c.getTransitions('ABC-1', { expandFields: true })],
      ['GET /rest/api/3/field', () => c.getFields()],
      ['POST /rest/api/3/issue', () => c.createIssue({ fields: { project: { key: 'ABC' }, summary: 'x', issuetype: { id: '3' } } })],
      ['PUT /rest/api/3/issue/ABC-1?notifyUsers=false', () => c.editIssue('ABC-1', { fields: { summary: 'y' }, update: { labels: [{ add: 'l' }] } }, { notifyUsers: false })],
      ['POST /rest/api/3/issue/ABC-1/transitions', () => c.transitionIssue('ABC-1', { transition: { id: '31' } })],
      ['PUT /rest/api/3/issue/ABC-1/assignee', () => c.assignIssue('ABC-1', null)],
      ['DELETE /rest/api/3/issue/ABC-1?deleteSubtasks=true', () => c.deleteIssue('ABC-1', { deleteSubtasks: true })],
      ['POST /rest/api/3/issue/ABC-1/comment', () => c.addComment('ABC-1', DOC)],
      ['DELETE /rest/api/3/issue/ABC-1/comment/7', () => c.deleteComment('ABC-1', '7')],
      ['GET /rest/api/3/myself', () => c.myself()],
      ['GET /rest/api/3/serverInfo', () => c.serverInfo()],
    ];
    for (const [expected, call] of calls) {
      const { request } = await call();
      expect(`${request.method} ${request.path}`).toBe(expected);
      const seen = s.requests.at(-1);
      expect(`${seen?.method} ${seen?.url}`).toBe(expected);
      expect(request.status).toBeGreaterThanOrEqual(200);
      expect(request.status).toBeLessThan(300);
    }
    expect(s.requests.some((r) => new URL(r.url, 'http://x').pathname === '/rest/api/3/search')).toBe(false);
    const bodies = Object.fromEntries(s.requests.map((r) => [`${r.method} ${r.url}`, r.body === '' ? undefined : JSON.parse(r.body)]));
    expect(bodies['POST /rest/api/3/search/jql']).toEqual({ jql: 'project = ABC', fields: ['summary', 'status'], maxResults: 10, expand: 'names' });
    expect(bodies['POST /rest/api/3/search/approximate-count']).toEqual({ jql: 'project = ABC' });
    expect(bodies['PUT /rest/api/3/issue/ABC-1/assignee']).toEqual({ accountId: null });
    expect(bodies['POST /rest/api/3/issue/ABC-1/transitions']).toEqual({ transition: { id: '31' } });
    expect(bodies['POST /rest/api/3/issue/ABC-1/comment']).toEqual({ body: DOC });
    expect(bodies['PUT /rest/api/3/issue/ABC-1?notifyUsers=false']).toEqual({ fields: { summary: 'y' }, update: { labels: [{ add: 'l' }] } });
    expect(bodies['GET /rest/api/3/field']).toBeUndefined();
  });

  it('returns parsed, normalised data with the exchange', async () => {
    const s = await stub(jiraLike);
    const c = client(s.url);
    const created = await c.createIssue({ fields: { summary: 'x' } });
    expect(created).toEqual({ data: { id: '10002', key: 'ABC-2', self: 'x' }, request: { method: 'POST', path: '/rest/api/3/issue', status: 201, attempts: 1 } });
    expect((await c.getCreateMetaIssueTypes('ABC')).data.issueTypes).toEqual([{ id: '3', name: 'Task' }]);
    expect((await c.editIssue('ABC-1', { fields: { summary: 'z' } })).data).toBeUndefined();
  });

  it('normalises createMetaIssueType/results variants of createmeta', async () => {
    const s = await stub((req, res) =>
      req.url.includes('/issuetypes/')
        ? json(res, 200, { results: [{ fieldId: 'labels', name: 'Labels', required: false }] })
        : json(res, 200, { createMetaIssueType: [{ id: '9', name: 'Bug' }] }),
    );
    const c = client(s.url);
    expect((await c.getCreateMetaIssueTypes('ABC')).data.issueTypes).toEqual([{ id: '9', name: 'Bug' }]);
    expect((await c.getCreateMetaFields('ABC', '9')).data.fields.map((f) => f.fieldId)).toEqual(['labels']);
  });

  it('sends basic and bearer credentials as Jira expects', async () => {
    const s = await stub(jiraLike);
    await client(s.url).myself();
    expect(s.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    await new JiraClient({ baseUrl: s.url, auth: { kind: 'basic', email: 'bot@acme.com', apiToken: new Secret(TOKEN) } }).myself();
    expect(s.requests[1]?.headers.authorization).toBe(`Basic ${Buffer.from(`bot@acme.com:${TOKEN}`).toString('base64')}`);
    expect(s.requests[1]?.headers.accept).toBe('application/json');
  });

  it('uses the api.atlassian.com/ex/jira/<cloudId> base for every path', async () => {
    const seen: string[] = [];
    const send: HttpSend = async (url) => {
      seen.push(url.href);
      const body = Buffer.from(JSON.stringify({ accountId: 'acc-1' }));
      return { status: 200, header: (name) => (name === 'content-type' ? 'application/json' : undefined), read: async () => body, discard: () => undefined };
    };
    const c = client('https://api.atlassian.com/ex/jira/11223344-aaaa-bbbb-cccc-556677889900', { send });
    await c.myself();
    await c.searchJql({ jql: 'x' }).catch(() => undefined);
    expect(seen).toEqual([
      'https://api.atlassian.com/ex/jira/11223344-aaaa-bbbb-cccc-556677889900/rest/api/3/myself',
      'https://api.atlassian.com/ex/jira/11223344-aaaa-bbbb-cccc-556677889900/rest/api/3/search/jql',
    ]);
  });

  it('encodes identifiers and refuses dot segments before sending anything', async () => {
    const s = await stub(jiraLike);
    const c = client(s.url);
    await c.getIssue('A/B?x');
    expect(s.requests[0]?.url).toBe('/rest/api/3/issue/A%2FB%3Fx');
    await expect(c.getIssue('..')).rejects.toMatchObject({ code: 'JIRA_BAD_REQUEST' });
    await expect(c.deleteComment('ABC-1', '.')).rejects.toMatchObject({ code: 'JIRA_BAD_REQUEST' });
    expect(s.requests).toHaveLength(1);
  });

  it('refuses a non-https base URL that is not loopback', () => {
    expect(() => client('http://jira.example.com')).toThrow(expect.objectContaining({ code: 'JIRA_CONFIG_INVALID' }));
  });
});

describe('JiraClient errors', () => {
  it("keeps Jira's errorMessages and errors and maps status to a stable code", async () => {
    const cases: Array<[number, string]> = [
      [400, 'JIRA_BAD_REQUEST'],
      [401, 'JIRA_UNAUTHORIZED'],
      [403, 'JIRA_FORBIDDEN'],
      [404, 'JIRA_NOT_FOUND'],
      [410, 'JIRA_GONE'],
      [500, 'JIRA_UNAVAILABLE'],
    ];
    for (const [status, code] of cases) {
      const s = await stub((_req, res) => json(res, status, { errorMessages: ['Field errors'], errors: { summary: 'You must specify a summary.' } }));
      const error = await client(s.url).createIssue({ fields: {} }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(JiraHttpError);
      expect(error).toMatchObject({
        code,
        status,
        errorMessages: ['Field errors'],
        errors: { summary: 'You must specify a summary.' },
        request: { method: 'POST', path: '/rest/api/3/issue', status, attempts: 1 },
        inDoubt: status >= 500,
      });
      expect((error as Error).message).toContain('summary: You must specify a summary.');
    }
  });

  it('rejects bodies that are not JSON or not the documented shape', async () => {
    const s = await stub((req, res) => {
      if (req.url.endsWith('myself')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>login</html>');
      } else {
        json(res, 200, { unexpected: true });
      }
    });
    const c = client(s.url);
    await expect(c.myself()).rejects.toMatchObject({ code: 'JIRA_BAD_RESPONSE', request: { status: 200 } });
    await expect(c.getIssue('ABC-1')).rejects.toMatchObject({ code: 'JIRA_BAD_RESPONSE' });
    // A create that succeeded but cannot be read back is reported in doubt, not as failed.
    await expect(c.createIssue({ fields: {} })).rejects.toMatchObject({ code: 'JIRA_BAD_RESPONSE', inDoubt: true });
  });
});

describe('JiraClient paging', () => {
  it('follows nextPageToken until isLast', async () => {
    const s = await stub((req, res) => {
      const body = JSON.parse(req.body) as { nextPageToken?: string };
      if (body.nextPageToken === undefined) return json(res, 200, { issues: [{ id: '1' }], nextPageToken: 'p2' });
      return json(res, 200, { issues: [{ id: '2' }], isLast: true });
    });
    const ids: string[] = [];
    for await (const page of client(s.url).searchAll({ jql: 'x', fields: ['key'] })) ids.push(...page.data.issues.map((i) => i.id));
    expect(ids).toEqual(['1', '2']);
    expect(s.requests.map((r) => (JSON.parse(r.body) as { nextPageToken?: string }).nextPageToken)).toEqual([undefined, 'p2']);
  });

  it('stops at the page bound and on a repeated token', async () => {
    let n = 0;
    const endless = await stub((_req, res) => json(res, 200, { issues: [], nextPageToken: `t${++n}` }));
    const pages: unknown[] = [];
    const error = await (async () => {
      for await (const page of client(endless.url).searchAll({ jql: 'x' }, { maxPages: 3 })) pages.push(page);
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'JIRA_PAGE_LIMIT' });
    expect(pages).toHaveLength(3);
    expect(endless.requests).toHaveLength(3);

    const stuck = await stub((_req, res) => json(res, 200, { issues: [], nextPageToken: 'same' }));
    const loop = async (): Promise<void> => {
      for await (const _ of client(stuck.url).searchAll({ jql: 'x' })) void _;
    };
    await expect(loop()).rejects.toMatchObject({ code: 'JIRA_BAD_RESPONSE' });
    expect(stuck.requests).toHaveLength(2);
  });

  it('pages comments and changelog by startAt', async () => {
    const s = await stub((req, res) => {
      const url = new URL(req.url, 'http://x');
      const startAt = Number(url.searchParams.get('startAt'));
      const all = [0, 1, 2, 3, 4].map(String);
      const slice = all.slice(startAt, startAt + 2);
      if (url.pathname.endsWith('/comment')) return json(res, 200, { startAt, maxResults: 2, total: 5, comments: slice.map((id) => ({ id })) });
      return json(res, 200, { startAt, maxResults: 2, isLast: startAt + 2 >= 5, values: slice.map((id) => ({ id, items: [] })) });
    });
    const c = client(s.url);
    const comments: string[] = [];
    for await (const page of c.commentsAll('ABC-1', { pageSize: 2 })) comments.push(...page.data.comments.map((x) => x.id));
    const changes: string[] = [];
    for await (const page of c.changelogAll('ABC-1', { pageSize: 2 })) changes.push(...page.data.values.map((x) => x.id));
    expect(comments).toEqual(['0', '1', '2', '3', '4']);
    expect(changes).toEqual(['0', '1', '2', '3', '4']);
    expect(s.requests.map((r) => new URL(r.url, 'http://x').searchParams.get('startAt'))).toEqual(['0', '2', '4', '0', '2', '4']);
  });
});

describe('JiraClient is safe to print', () => {
  it('shows the base URL and nothing else', async () => {
    const { inspect } = await import('node:util');
    const c = client('http://127.0.0.1:1');
    for (const text of [String(c), JSON.stringify(c), inspect(c, { showHidden: true, depth: 10 })]) expect(text).not.toContain(TOKEN);
    expect(JSON.parse(JSON.stringify(c))).toEqual({ baseUrl: 'http://127.0.0.1:1' });
    expect(new JiraError('JIRA_NETWORK', 'x')).toBeInstanceOf(Error);
  });
});
