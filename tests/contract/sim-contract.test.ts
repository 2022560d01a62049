/**
 * Every simulator response for the operations it serves validates against the Jira spec's schema
 * for that status, and every request these tests send validates against the spec too.
 */
import { describe, expect, it } from 'vitest';
import { SIM_FIXTURES, SIM_USERS, type RunningSimulator } from '../../src/sim/index.js';
import { adf, basicAuth, call, type JiraReply } from '../sim/helpers.js';
import { assertValidRequest, assertValidResponse, jiraSpec, validateResponse } from './openapi.js';
import { useSimulator } from '../helpers/sim.js';

let sim: RunningSimulator;
const checked = new Map<string, Set<number>>();

useSimulator({ reset: true }, (started) => {
  sim = started;
});

/** Sends a request as `user`, checks request and response against the spec, returns the reply. */
async function jira(method: string, path: string, body?: unknown, user = SIM_USERS.agent): Promise<JiraReply<any>> {
  if (body !== undefined) assertValidRequest(method, path, body);
  const reply = await call<any>(sim.url, method, path, { auth: basicAuth(user), ...(body === undefined ? {} : { body }) });
  assertValidResponse(method, path, reply.status, reply.body);
  if (reply.status >= 400 && typeof reply.body === 'object') {
    const shape = jiraSpec().validateSchema('ErrorCollection', reply.body);
    expect(shape.errors).toEqual([]);
  }
  const op = jiraSpec().matchOperation(method, path);
  if (op) checked.set(op.operationId, (checked.get(op.operationId) ?? new Set()).add(reply.status));
  return reply;
}

const { todo, inProgress, withSubtasks, epic } = SIM_FIXTURES.issues;

describe('read operations match the spec', () => {
  it('search/jql GET and POST, with every field and expansion, over every issue', async () => {
    let token: string | undefined;
    let pages = 0;
    do {
      const reply = await jira(
        'GET',
        `/rest/api/3/search/jql?jql=${encodeURIComponent('project in (ENG, SEC, OPS, HR) ORDER BY key')}&fields=*all&expand=names,schema,renderedFields,changelog,transitions,editmeta&maxResults=100${token ? `&nextPageToken=${encodeURIComponent(token)}` : ''}`,
      );
      expect(reply.status).toBe(200);
      token = reply.body.nextPageToken;
      pages += 1;
    } while (token && pages < 10);
    expect(pages).toBe(3);
    await jira('GET', `/rest/api/3/search/jql?jql=${encodeURIComponent('project = ENG')}`);
    await jira('POST', '/rest/api/3/search/jql', { jql: 'assignee = currentUser() ORDER BY updated DESC', fields: ['summary', 'status'], maxResults: 5 });
    await jira('POST', '/rest/api/3/search/approximate-count', { jql: 'project = ENG' });
  });

  it('search/jql and approximate-count errors', async () => {
    expect((await jira('GET', `/rest/api/3/search/jql?jql=${encodeURIComponent('project = ')}`)).status).toBe(400);
    expect((await jira('POST', '/rest/api/3/search/jql', { jql: '' })).status).toBe(400);
    expect((await jira('POST', '/rest/api/3/search/approximate-count', { jql: 'status = Nope' })).status).toBe(400);
  });

  it('get issue with every expansion, for plain, moved, injected, epic and sub-task issues', async () => {
    for (const key of [todo, withSubtasks, SIM_FIXTURES.issues.subtask, epic, ...SIM_FIXTURES.injectionIssues, ...SIM_FIXTURES.movedIssues.map((m) => m.oldKey)]) {
      const reply = await jira('GET', `/rest/api/3/issue/${key}?expand=names,schema,renderedFields,changelog,transitions,editmeta`);
      expect(reply.status).toBe(200);
    }
    expect((await jira('GET', '/rest/api/3/issue/NOPE-1')).status).toBe(404);
  });

  it('comments, changelog and transitions', async () => {
    const comments = await jira('GET', '/rest/api/3/issue/HR-5/comment?expand=renderedBody');
    expect(comments.body.total).toBeGreaterThan(0);
    await jira('GET', `/rest/api/3/issue/HR-5/comment/${comments.body.comments[0].id}?expand=renderedBody`);
    expect((await jira('GET', '/rest/api/3/issue/HR-5/comment/1')).status).toBe(404);
    await jira('GET', `/rest/api/3/issue/${SIM_FIXTURES.movedIssues[0]?.newKey ?? ''}/changelog?maxResults=1`);
    expect((await jira('GET', '/rest/api/3/issue/NOPE-1/changelog')).status).toBe(404);
    await jira('GET', `/rest/api/3/issue/${todo}/transitions?expand=transitions.fields`);
    expect((await jira('GET', '/rest/api/3/issue/NOPE-1/transitions')).status).toBe(404);
  });

  it('metadata: fields, projects, createmeta, users, myself, server info', async () => {
    await jira('GET', '/rest/api/3/field');
    await jira('GET', '/rest/api/3/project/search?expand=description,lead,issueTypes,insight&maxResults=2');
    await jira('GET', '/rest/api/3/project/SEC');
    expect((await jira('GET', '/rest/api/3/project/NOPE')).status).toBe(404);
    await jira('GET', '/rest/api/3/issue/createmeta/ENG/issuetypes');
    for (const typeId of Object.values(SIM_FIXTURES.issueTypes)) {
      await jira('GET', `/rest/api/3/issue/createmeta/SEC/issuetypes/${typeId}`);
    }
    expect((await jira('GET', `/rest/api/3/issue/createmeta/HR/issuetypes/${SIM_FIXTURES.issueTypes.bug}`)).status).toBe(400);
    await jira('GET', '/rest/api/3/myself');
    await jira('GET', '/rest/api/3/serverInfo');
    await jira('GET', '/rest/api/3/user/search?query=ali');
    expect((await jira('GET', '/rest/api/3/user/search')).status).toBe(400);
    await jira('GET', '/rest/api/3/user/assignable/search?project=ENG');
  });

  it('401 on an operation that documents it', async () => {
    const reply = await call(sim.url, 'GET', `/rest/api/3/issue/${todo}`, { auth: null });
    expect(reply.status).toBe(401);
    expect(validateResponse('GET', `/rest/api/3/issue/${todo}`, 401, reply.body)).toMatchObject({ documented: true, valid: true });
  });
});

describe('write operations match the spec', () => {
  it('create (201, 400, 403)', async () => {
    const created = await jira('POST', '/rest/api/3/issue', {
      fields: { project: { key: 'SEC' }, issuetype: { name: 'Bug' }, summary: 'Stored XSS', description: adf('details'), customfield_10033: { value: 'Restricted' }, labels: ['vuln'] },
    });
    expect(created.status).toBe(201);
    expect((await jira('POST', '/rest/api/3/issue', { fields: { project: { key: 'SEC' }, issuetype: { name: 'Bug' }, summary: 'x' } })).status).toBe(400);
    const forbidden = await jira('POST', '/rest/api/3/issue', { fields: { project: { key: 'ENG' }, issuetype: { name: 'Task' }, summary: 'x' } }, SIM_USERS.viewer);
    expect(forbidden.status).toBe(403);
  });

  it('edit (204, 200 with returnIssue, 400, 403, 404)', async () => {
    expect((await jira('PUT', `/rest/api/3/issue/${todo}`, { fields: { summary: 'Edited' }, update: { labels: [{ add: 'contract' }] } })).status).toBe(204);
    expect((await jira('PUT', `/rest/api/3/issue/${todo}?returnIssue=true&expand=names`, { fields: { summary: 'Edited again' } })).status).toBe(200);
    expect((await jira('PUT', `/rest/api/3/issue/${todo}`, { fields: { status: { name: 'Done' } } })).status).toBe(400);
    expect((await jira('PUT', `/rest/api/3/issue/${todo}`, { fields: { summary: 'x' } }, SIM_USERS.viewer)).status).toBe(403);
    expect((await jira('PUT', '/rest/api/3/issue/NOPE-1', { fields: { summary: 'x' } })).status).toBe(404);
  });

  it('transition (204, 400, 404) and assign (204, 400, 403, 404)', async () => {
    expect((await jira('POST', `/rest/api/3/issue/${inProgress}/transitions`, { transition: { id: '31' }, fields: { resolution: { name: 'Done' } } })).status).toBe(204);
    expect((await jira('POST', `/rest/api/3/issue/${todo}/transitions`, { transition: { id: '61' } })).status).toBe(400);
    expect((await jira('POST', '/rest/api/3/issue/NOPE-1/transitions', { transition: { id: '11' } })).status).toBe(404);
    expect((await jira('PUT', `/rest/api/3/issue/${todo}/assignee`, { accountId: SIM_USERS.agent.accountId })).status).toBe(204);
    expect((await jira('PUT', `/rest/api/3/issue/${todo}/assignee`, { accountId: 'nobody' })).status).toBe(400);
    expect((await jira('PUT', `/rest/api/3/issue/${todo}/assignee`, { accountId: null }, SIM_USERS.viewer)).status).toBe(403);
    expect((await jira('PUT', '/rest/api/3/issue/NOPE-1/assignee', { accountId: null })).status).toBe(404);
  });

  it('comments (201, 400, 404, 204)', async () => {
    const added = await jira('POST', `/rest/api/3/issue/${todo}/comment`, { body: adf('contract'), visibility: { type: 'role', value: 'Developers' } });
    expect(added.status).toBe(201);
    expect((await jira('POST', `/rest/api/3/issue/${todo}/comment`, { body: adf('') })).status).toBe(400);
    expect((await jira('POST', '/rest/api/3/issue/NOPE-1/comment', { body: adf('x') })).status).toBe(404);
    expect((await jira('DELETE', `/rest/api/3/issue/${todo}/comment/${added.body.id}`)).status).toBe(204);
  });

  it('delete (400, 403, 404, 204)', async () => {
    expect((await jira('DELETE', `/rest/api/3/issue/${withSubtasks}`)).status).toBe(400);
    expect((await jira('DELETE', `/rest/api/3/issue/${todo}`, undefined, SIM_USERS.limited)).status).toBe(403);
    expect((await jira('DELETE', '/rest/api/3/issue/NOPE-1')).status).toBe(404);
    expect((await jira('DELETE', `/rest/api/3/issue/${withSubtasks}?deleteSubtasks=true`)).status).toBe(204);
  });
});

describe('coverage', () => {
  it('exercised every served operation except the removed search', () => {
    const served = [
      'searchAndReconsileIssuesUsingJql', 'searchAndReconsileIssuesUsingJqlPost', 'countIssues', 'getIssue', 'createIssue', 'editIssue', 'deleteIssue',
      'getComments', 'addComment', 'getComment', 'deleteComment', 'getTransitions', 'doTransition', 'assignIssue', 'getChangeLogs',
      'getCreateIssueMetaIssueTypes', 'getCreateIssueMetaIssueTypeId', 'getFields', 'searchProjects', 'getProject', 'getCurrentUser',
      'getServerInfo', 'findUsers', 'findAssignableUsers',
    ];
    expect([...checked.keys()].sort()).toEqual(expect.arrayContaining(served.sort()));
  });
});
