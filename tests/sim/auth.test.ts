import { describe, expect, it } from 'vitest';
import { SIM_FIXTURES, SIM_USERS, type RunningSimulator } from '../../src/sim/index.js';
import { adf, basicAuth, bearerAuth, call, client, jql } from './helpers.js';
import { useSimulator } from '../helpers/sim.js';

let sim: RunningSimulator;

useSimulator({}, (started) => {
  sim = started;
});

const UNAUTHENTICATED = 'Client must be authenticated to access this resource.';

describe('authentication', () => {
  it('accepts Cloud basic auth (email:api_token) and bearer tokens', async () => {
    const basic = await call(sim.url, 'GET', '/rest/api/3/myself', { auth: basicAuth(SIM_USERS.agent) });
    expect(basic.status).toBe(200);
    expect(basic.body).toMatchObject({ accountId: SIM_USERS.agent.accountId, emailAddress: SIM_USERS.agent.email, displayName: 'Claw Agent', active: true });
    const bearer = await call(sim.url, 'GET', '/rest/api/3/myself', { auth: bearerAuth(SIM_USERS.limited) });
    expect(bearer.body.accountId).toBe(SIM_USERS.limited.accountId);
    const recorded = sim.requests().slice(-2);
    expect(recorded.map((r) => [r.user, r.authScheme])).toEqual([
      [SIM_USERS.agent.accountId, 'basic'],
      [SIM_USERS.limited.accountId, 'bearer'],
    ]);
  });

  it.each([
    ['no credentials', null],
    ['a wrong token', basicAuth({ email: SIM_USERS.agent.email, apiToken: 'wrong' })],
    ['an unknown user', basicAuth({ email: 'nobody@example.com', apiToken: SIM_USERS.agent.apiToken })],
    ['another user’s token', basicAuth({ email: SIM_USERS.viewer.email, apiToken: SIM_USERS.agent.apiToken })],
    ['a wrong bearer', 'Bearer nope'],
    ['an unknown scheme', 'Digest username="agent"'],
    ['a malformed header', 'Basic'],
  ])('answers 401 with Jira’s body for %s', async (_name, auth) => {
    const reply = await call(sim.url, 'GET', `/rest/api/3/issue/${SIM_FIXTURES.issues.todo}`, { auth });
    expect(reply.status).toBe(401);
    expect(reply.text).toBe(UNAUTHENTICATED);
    expect(reply.headers.get('www-authenticate')).toMatch(/^OAuth realm=/);
    if (auth) expect(reply.headers.get('x-seraph-loginreason')).toBe('AUTHENTICATED_FAILED');
  });

  it('follows Accept for the 401 media type, as Jira does', async () => {
    const json = await call(sim.url, 'GET', '/rest/api/3/myself', { auth: null, headers: { Accept: 'application/json' } });
    expect(json.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    const plain = await call(sim.url, 'GET', '/rest/api/3/myself', { auth: null, headers: { Accept: '*/*' } });
    expect(plain.headers.get('content-type')).toBe('text/plain;charset=UTF-8');
  });

  it('serves server info anonymously', async () => {
    const reply = await call(sim.url, 'GET', '/rest/api/3/serverInfo', { auth: null });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ baseUrl: sim.url, deploymentType: 'Cloud' });
  });
});

describe('permissions', () => {
  it('answers 404 for issues in projects the user cannot browse, including moved ones', async () => {
    const limited = client(sim.url, SIM_USERS.limited);
    expect((await limited.get(`/rest/api/3/issue/${SIM_FIXTURES.issues.epic}`)).status).toBe(200);
    for (const key of [SIM_FIXTURES.issues.secTask, SIM_FIXTURES.issues.hrTask, 'ENG-42']) {
      const reply = await limited.get(`/rest/api/3/issue/${key}`);
      expect(reply.status).toBe(404);
      expect(reply.body).toEqual({ errorMessages: ['Issue does not exist or you do not have permission to see it.'], errors: {} });
    }
    // SEC-9 moved into ENG: its old key now answers the limited user.
    expect((await limited.get('/rest/api/3/issue/SEC-9')).body.key).toBe('ENG-121');
  });

  it('lists only browsable projects', async () => {
    const limited = client(sim.url, SIM_USERS.limited);
    const reply = await limited.get('/rest/api/3/project/search');
    expect(reply.body.values.map((p: { key: string }) => p.key)).toEqual(['ENG', 'OPS']);
    expect(reply.body.total).toBe(2);
    expect((await limited.get('/rest/api/3/project/SEC')).status).toBe(404);
  });

  it('answers 403 to writes by a user who can only browse, and changes nothing', async () => {
    const viewer = client(sim.url, SIM_USERS.viewer);
    const before = sim.stateHash();
    const key = SIM_FIXTURES.issues.todo;
    const replies = [
      await viewer.put(`/rest/api/3/issue/${key}`, { fields: { summary: 'x' } }),
      await viewer.post(`/rest/api/3/issue/${key}/transitions`, { transition: { id: SIM_FIXTURES.transitions.start } }),
      await viewer.put(`/rest/api/3/issue/${key}/assignee`, { accountId: null }),
      await viewer.post(`/rest/api/3/issue/${key}/comment`, { body: adf('hi') }),
      await viewer.del(`/rest/api/3/issue/${key}`),
      await viewer.post('/rest/api/3/issue', { fields: { project: { key: 'ENG' }, issuetype: { name: 'Task' }, summary: 'x' } }),
    ];
    for (const reply of replies) {
      expect(reply.status).toBe(403);
      expect(reply.body.errorMessages).toHaveLength(1);
      expect(reply.body.errors).toEqual({});
    }
    expect((await viewer.get(`/rest/api/3/issue/${key}/transitions`)).body.transitions).toEqual([]);
    expect(sim.stateHash()).toBe(before);
  });

  it('answers 403 to deletes by a user without the delete permission', async () => {
    const limited = client(sim.url, SIM_USERS.limited);
    expect((await limited.del(`/rest/api/3/issue/${SIM_FIXTURES.issues.todo}`)).status).toBe(403);
  });
});

describe('request handling', () => {
  const auth = basicAuth(SIM_USERS.agent);

  it('answers unknown endpoints with Jira’s RFC 7807 404, before authentication', async () => {
    for (const credentials of [auth, null]) {
      const reply = await call(sim.url, 'GET', '/rest/api/3/nopesuchroute?x=1', { auth: credentials });
      expect(reply.status).toBe(404);
      expect(reply.headers.get('content-type')).toBe('application/problem+json;charset=UTF-8');
      expect(reply.body).toEqual({ type: 'about:blank', title: 'Not Found', status: 404, detail: 'No endpoint GET /rest/api/3/nopesuchroute.', instance: '/rest/api/3/nopesuchroute' });
    }
  });

  it('answers an unsupported method with 405 and Allow', async () => {
    const reply = await call(sim.url, 'PATCH', `/rest/api/3/issue/${SIM_FIXTURES.issues.todo}`, { auth });
    expect(reply.status).toBe(405);
    expect(reply.headers.get('allow')?.split(', ').sort()).toEqual(['DELETE', 'GET', 'PUT']);
  });

  it('refuses malformed JSON, an empty body and a non-object body', async () => {
    const path = '/rest/api/3/issue';
    const malformed = await call(sim.url, 'POST', path, { auth, rawBody: '{"fields": ', headers: { 'Content-Type': 'application/json' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toEqual({ errorMessages: ['There was an error parsing JSON. Check that your request body is valid.'] });
    const empty = await call(sim.url, 'POST', path, { auth, rawBody: '', headers: { 'Content-Type': 'application/json' } });
    expect(empty.body).toEqual({ errorMessages: ['No content to map to Object due to end of input'] });
    const array = await call(sim.url, 'POST', path, { auth, body: [1, 2] });
    expect(array.body).toEqual({ errorMessages: ['Invalid request payload. Refer to the REST API documentation and try again.'] });
  });

  it('refuses a body that is not JSON with 415', async () => {
    const reply = await call(sim.url, 'POST', '/rest/api/3/search/jql', { auth, rawBody: 'jql=project', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(reply.status).toBe(415);
    expect(reply.body.detail).toBe("Content-Type 'application/x-www-form-urlencoded' is not supported.");
  });

  it('answers JSON with Jira’s media type', async () => {
    const reply = await call(sim.url, 'GET', `/rest/api/3/search/jql?jql=${jql('project = ENG')}&maxResults=1`, { auth });
    expect(reply.headers.get('content-type')).toBe('application/json;charset=UTF-8');
  });
});
