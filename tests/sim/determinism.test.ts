import { afterAll, describe, expect, it } from 'vitest';
import { SIM_FIXTURES, SIM_USERS, startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { adfToText } from '../../src/sim/adf.js';
import { client } from './helpers.js';

const running: RunningSimulator[] = [];
async function start(seed?: number): Promise<RunningSimulator> {
  const sim = await startSimulator(seed === undefined ? {} : { seed });
  running.push(sim);
  return sim;
}
afterAll(async () => {
  await Promise.all(running.map((s) => s.close()));
});

describe('determinism', () => {
  it('gives the same state hash for the same seed and a different one for another seed', async () => {
    const [a, b, c] = await Promise.all([start(), start(42), start(43)]);
    expect(a.stateHash()).toBe(b.stateHash());
    expect(a.stateHash()).not.toBe(c.stateHash());
    expect(a.snapshot()).toEqual(b.snapshot());
  });

  it('replays the same writes to the same hash, and reads never change it', async () => {
    const [a, b] = await Promise.all([start(5), start(5)]);
    for (const sim of [a, b]) {
      const agent = client(sim.url, SIM_USERS.agent);
      const before = sim.stateHash();
      await agent.get(`/rest/api/3/issue/${SIM_FIXTURES.issues.todo}?expand=changelog,renderedFields`);
      await agent.get('/rest/api/3/search/jql?jql=project%3DENG&fields=*all');
      expect(sim.stateHash()).toBe(before);
      const created = await agent.post('/rest/api/3/issue', { fields: { project: { key: 'OPS' }, issuetype: { name: 'Bug' }, summary: 'Replay me' } });
      await agent.post(`/rest/api/3/issue/${created.body.key}/transitions`, { transition: { id: SIM_FIXTURES.transitions.start } });
      expect(sim.stateHash()).not.toBe(before);
    }
    expect(a.stateHash()).toBe(b.stateHash());
  });

  it('returns a deep copy from snapshot()', async () => {
    const sim = await start();
    const hash = sim.stateHash();
    const snapshot = sim.snapshot();
    const first = snapshot.issues[0];
    if (!first) throw new Error('no issues');
    first.summary = 'tampered';
    first.labels.push('tampered');
    snapshot.issues.pop();
    expect(sim.stateHash()).toBe(hash);
  });

  it('reset() restores the seeded state', async () => {
    const sim = await start(9);
    const initial = sim.stateHash();
    await client(sim.url, SIM_USERS.agent).del(`/rest/api/3/issue/${SIM_FIXTURES.issues.todo}`);
    expect(sim.stateHash()).not.toBe(initial);
    sim.reset();
    expect(sim.stateHash()).toBe(initial);
  });
});

describe('documented fixtures hold for every seed', () => {
  it.each([1, 42, 2024, 4_000_000_000])('seed %i', async (seed) => {
    const sim = await start(seed);
    const { issues } = sim.snapshot();
    expect(issues).toHaveLength(SIM_FIXTURES.totalIssues);
    const byKey = (key: string) => issues.find((i) => i.key === key || i.formerKeys.includes(key));
    for (const moved of SIM_FIXTURES.movedIssues) {
      const issue = byKey(moved.oldKey);
      expect(issue?.key).toBe(moved.newKey);
      expect(issue?.projectKey).toBe(moved.to);
      expect(issue?.formerKeys).toEqual([moved.oldKey]);
    }
    for (const injection of SIM_FIXTURES.injections) {
      const issue = byKey(injection.key);
      const texts = [adfToText(issue?.description), ...(issue?.comments ?? []).map((c) => adfToText(c.body))].join('\n');
      expect(texts).toContain(injection.text);
    }
    expect(byKey(SIM_FIXTURES.issues.todo)).toMatchObject({ statusId: SIM_FIXTURES.statuses.todo, assigneeId: null, resolutionId: null });
    expect(byKey(SIM_FIXTURES.issues.inProgress)?.statusId).toBe(SIM_FIXTURES.statuses.inProgress);
    expect(byKey(SIM_FIXTURES.issues.done)?.statusId).toBe(SIM_FIXTURES.statuses.done);
    expect(byKey(SIM_FIXTURES.issues.subtask)?.parentId).toBe(byKey(SIM_FIXTURES.issues.withSubtasks)?.id);
    expect(byKey(SIM_FIXTURES.issues.epic)?.typeId).toBe(SIM_FIXTURES.issueTypes.epic);
    const projects = new Set(issues.map((i) => i.projectKey));
    expect([...projects].sort()).toEqual([...SIM_FIXTURES.projectKeys].sort());
    const now = Date.parse(SIM_FIXTURES.now);
    for (const issue of issues) {
      expect(issue.created).toBeLessThanOrEqual(issue.updated);
      expect(issue.updated).toBeLessThan(now);
      expect(issue.created).toBeGreaterThan(now - 366 * 86_400_000);
      for (const h of issue.histories) expect(h.created).toBeGreaterThanOrEqual(issue.created);
    }
  });
});

describe('state hash definition', () => {
  it('is sha256 over the RFC 8785 canonical snapshot, before and after writes', async () => {
    const { hashOfJson } = await import('../../src/util/canonical.js');
    const sim = await start(77);
    expect(sim.stateHash()).toBe(hashOfJson(sim.snapshot()));
    const agent = client(sim.url, SIM_USERS.agent);
    await agent.put(`/rest/api/3/issue/${SIM_FIXTURES.issues.todo}`, { fields: { summary: 'Ünïcödé “quotes” \u2028 and emoji 🚀' } });
    await agent.post(`/rest/api/3/issue/${SIM_FIXTURES.issues.todo}/comment`, { body: { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'z', marks: [{ type: 'link', attrs: { title: 't', href: 'https://x' } }] }] }] } });
    expect(sim.stateHash()).toBe(hashOfJson(sim.snapshot()));
  });
});
