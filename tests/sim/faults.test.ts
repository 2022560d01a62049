import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { SIM_FIXTURES, SIM_USERS, startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { adf, call, client, type SimClient } from './helpers.js';
import { useSimulator } from '../helpers/sim.js';

let sim: RunningSimulator;
let agent: SimClient;

useSimulator({ reset: true }, (started) => {
  sim = started;
  agent = client(sim.url, SIM_USERS.agent);
});

const key = SIM_FIXTURES.issues.todo;
const issuePath = `/rest/api/3/issue/${key}`;

describe('rate limiting and unavailability', () => {
  it('answers 429 with Retry-After, X-RateLimit-* and RateLimit-Reason', async () => {
    sim.faults.add({ kind: '429', retryAfterSeconds: 7, rateLimitReason: 'jira-per-issue-on-write' });
    const reply = await agent.get(issuePath);
    expect(reply.status).toBe(429);
    expect(reply.headers.get('retry-after')).toBe('7');
    expect(reply.headers.get('x-ratelimit-limit')).toMatch(/^\d+$/);
    expect(reply.headers.get('x-ratelimit-remaining')).toBe('0');
    const resetAt = reply.headers.get('x-ratelimit-reset') ?? '';
    expect(resetAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    expect(Number.isNaN(Date.parse(resetAt))).toBe(false);
    expect(reply.headers.get('ratelimit-reason')).toBe('jira-per-issue-on-write');
    expect(reply.body.errorMessages).toHaveLength(1);
    expect((await agent.get(issuePath)).status).toBe(200);
  });

  it('defaults to Retry-After 1 and jira-burst-based, and can leave Retry-After out', async () => {
    sim.faults.add({ kind: '429' });
    const first = await agent.get(issuePath);
    expect(first.headers.get('retry-after')).toBe('1');
    expect(first.headers.get('ratelimit-reason')).toBe('jira-burst-based');
    sim.faults.add({ kind: '429', retryAfterSeconds: null });
    const second = await agent.get(issuePath);
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBeNull();
  });

  it('applies to exactly `times` matching requests, by method and path prefix', async () => {
    sim.faults.add({ kind: '503', times: 2, match: { method: 'POST', pathPrefix: '/rest/api/3/search' }, retryAfterSeconds: 3 });
    const search = () => agent.post('/rest/api/3/search/jql', { jql: 'project = ENG' });
    expect((await agent.get(issuePath)).status).toBe(200);
    const a = await search();
    expect(a.status).toBe(503);
    expect(a.headers.get('retry-after')).toBe('3');
    expect((await search()).status).toBe(503);
    expect((await search()).status).toBe(200);
    expect(sim.faults.list()).toEqual([]);
    const faulted = sim.requests().filter((r) => r.fault === '503');
    expect(faulted).toHaveLength(2);
  });

  it('answers 503 without Retry-After unless asked', async () => {
    sim.faults.add({ kind: '503' });
    const reply = await agent.get(issuePath);
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).toBeNull();
  });

  it('drops the connection without an answer', async () => {
    sim.faults.add({ kind: 'drop', match: { pathPrefix: issuePath } });
    await expect(fetch(`${sim.url}${issuePath}`, { headers: { Authorization: `Bearer ${SIM_USERS.agent.bearer}` }, signal: AbortSignal.timeout(5000) })).rejects.toThrow();
    expect(sim.requests().at(-1)).toMatchObject({ path: issuePath, status: 0, fault: 'drop' });
    expect((await agent.get(issuePath)).status).toBe(200);
  });

  it('delays a request with a latency fault and still answers it', async () => {
    sim.faults.add({ kind: 'latency', latencyMs: 20 });
    const reply = await agent.get(issuePath);
    expect(reply.status).toBe(200);
    expect(sim.requests().at(-1)).toMatchObject({ status: 200, fault: 'latency' });
  });

  it('refuses an invalid fault', () => {
    expect(() => sim.faults.add({ kind: 'teapot' } as never)).toThrow(/invalid fault/);
    expect(() => sim.faults.add({ kind: '429', times: 0 })).toThrow(/times/);
  });
});

describe('noop_write: success status, nothing applied', () => {
  it('edit answers 204 but the value does not change', async () => {
    const before = sim.stateHash();
    sim.faults.add({ kind: 'noop_write' });
    const reply = await agent.put(issuePath, { fields: { summary: 'Silently ignored' } });
    expect(reply.status).toBe(204);
    expect((await agent.get(`${issuePath}?fields=summary`)).body.fields.summary).not.toBe('Silently ignored');
    expect(sim.stateHash()).toBe(before);
  });

  it('skips reads and only hits writes', async () => {
    sim.faults.add({ kind: 'noop_write' });
    expect((await agent.get(issuePath)).status).toBe(200);
    expect(sim.faults.list()).toHaveLength(1);
    await agent.post(`${issuePath}/transitions`, { transition: { id: SIM_FIXTURES.transitions.start } });
    expect((await agent.get(`${issuePath}?fields=status`)).body.fields.status.name).toBe('To Do');
    expect(sim.faults.list()).toHaveLength(0);
  });

  it('comment answers 201 with a comment that does not exist; assign and delete change nothing', async () => {
    const before = sim.stateHash();
    sim.faults.add({ kind: 'noop_write', times: 3 });
    const added = await agent.post(`${issuePath}/comment`, { body: adf('never stored') });
    expect(added.status).toBe(201);
    expect((await agent.get(`${issuePath}/comment/${added.body.id}`)).status).toBe(404);
    expect((await agent.put(`${issuePath}/assignee`, { accountId: SIM_USERS.agent.accountId })).status).toBe(204);
    expect((await agent.del(issuePath)).status).toBe(204);
    expect((await agent.get(issuePath)).status).toBe(200);
    expect(sim.stateHash()).toBe(before);
  });

  it('still validates: a bad write under noop_write is refused as usual', async () => {
    sim.faults.add({ kind: 'noop_write' });
    const reply = await agent.put(issuePath, { fields: { status: { name: 'Done' } } });
    expect(reply.status).toBe(400);
  });
});

describe('request log', () => {
  it('records method, path, query, parsed body and user; create is sent once', async () => {
    sim.clearRequests();
    await agent.post('/rest/api/3/issue', { fields: { project: { key: 'ENG' }, issuetype: { name: 'Task' }, summary: 'once' } });
    await agent.get('/rest/api/3/search/jql?jql=project%3DENG&fields=summary&fields=status');
    const log = sim.requests();
    expect(log).toHaveLength(2);
    expect(log[0]).toMatchObject({ method: 'POST', path: '/rest/api/3/issue', status: 201, user: SIM_USERS.agent.accountId, body: { fields: { summary: 'once' } } });
    expect(log[1]?.query).toEqual({ jql: 'project=ENG', fields: ['summary', 'status'] });
    expect(log.filter((r) => r.method === 'POST' && r.path === '/rest/api/3/issue')).toHaveLength(1);
    expect(JSON.stringify(log)).not.toContain(SIM_USERS.agent.apiToken);
  });
});

describe('admin endpoint', () => {
  it('controls faults and reports state like the in-process API', async () => {
    const added = await call(sim.url, 'POST', '/__sim/faults', { body: [{ kind: '429', times: 2 }, { kind: 'noop_write' }] });
    expect(added.status).toBe(201);
    expect(added.body.faults).toHaveLength(2);
    expect(sim.faults.list().map((f) => f.kind)).toEqual(['429', 'noop_write']);
    expect((await call(sim.url, 'GET', '/__sim/faults')).body.faults).toHaveLength(2);
    expect((await call(sim.url, 'DELETE', '/__sim/faults')).status).toBe(204);
    expect(sim.faults.list()).toEqual([]);
    expect((await call(sim.url, 'POST', '/__sim/faults', { body: { kind: 'nope' } })).status).toBe(400);

    const hash = await call(sim.url, 'GET', '/__sim/state-hash');
    expect(hash.body).toEqual({ hash: sim.stateHash() });
    expect(sim.stateHash()).toMatch(/^sha256:[0-9a-f]{64}$/);
    const snapshot = await call(sim.url, 'GET', '/__sim/snapshot');
    expect(snapshot.body.issues).toHaveLength(SIM_FIXTURES.totalIssues);
  });

  it('needs no Jira credentials, is not recorded, and resets state', async () => {
    const initial = sim.stateHash();
    await agent.put(issuePath, { fields: { summary: 'changed' } });
    expect(sim.stateHash()).not.toBe(initial);
    sim.clearRequests();
    const reset = await call(sim.url, 'POST', '/__sim/reset', { auth: null });
    expect(reset.status).toBe(200);
    expect(reset.body.hash).toBe(initial);
    expect(sim.stateHash()).toBe(initial);
    expect(sim.requests()).toEqual([]);
    const reseeded = await call(sim.url, 'POST', '/__sim/reset', { body: { seed: 7 } });
    expect(reseeded.body.hash).not.toBe(initial);
  });

  it('refuses browser requests (Origin header)', async () => {
    const reply = await call(sim.url, 'POST', '/__sim/reset', { headers: { Origin: 'https://evil.example' } });
    expect(reply.status).toBe(403);
  });

  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

  it.skipIf(!external)('is not served to callers that are not on loopback', async () => {
    // Bound to a non-loopback address, so the caller's address is not loopback either.
    const exposed = await startSimulator({ host: external as string });
    try {
      expect((await call(exposed.url, 'GET', '/__sim/state-hash')).status).toBe(404);
      expect((await call(exposed.url, 'POST', '/__sim/reset')).status).toBe(404);
      expect((await call(exposed.url, 'GET', '/rest/api/3/serverInfo')).status).toBe(200);
    } finally {
      await exposed.close();
    }
  });
});
