import { describe, expect, it } from 'vitest';
import { SIM_FIXTURES, SIM_PEOPLE, SIM_USERS, type RunningSimulator } from '../../src/sim/index.js';
import { adf, client, type SimClient } from './helpers.js';
import { useSimulator } from '../helpers/sim.js';

let sim: RunningSimulator;
let agent: SimClient;

useSimulator({ reset: true }, (started) => {
  sim = started;
  agent = client(sim.url, SIM_USERS.agent);
});

const { todo, inProgress, done } = SIM_FIXTURES.issues;
const T = SIM_FIXTURES.transitions;
const ids = (body: { transitions: { id: string }[] }): string[] => body.transitions.map((t) => t.id).sort();
const activePerson = SIM_PEOPLE.find((p) => p.active);
const inactivePerson = SIM_PEOPLE.find((p) => !p.active);

describe('transitions', () => {
  it('lists the transitions available from the current status', async () => {
    expect(ids((await agent.get(`/rest/api/3/issue/${todo}/transitions`)).body)).toEqual([T.start, T.done].sort());
    expect(ids((await agent.get(`/rest/api/3/issue/${inProgress}/transitions`)).body)).toEqual([T.review, T.done, T.stop].sort());
    expect(ids((await agent.get(`/rest/api/3/issue/${done}/transitions`)).body)).toEqual([T.reopen]);
    const hr = await agent.get(`/rest/api/3/issue/${SIM_FIXTURES.issues.hrTask}/transitions`);
    expect(hr.body.transitions.map((t: { id: string }) => t.id)).not.toContain(T.review);
  });

  it('describes the screen fields with expand=transitions.fields', async () => {
    const plain = await agent.get(`/rest/api/3/issue/${todo}/transitions`);
    expect(plain.body.transitions[0]).not.toHaveProperty('fields');
    const reply = await agent.get(`/rest/api/3/issue/${todo}/transitions?expand=transitions.fields`);
    const toDone = reply.body.transitions.find((t: { id: string }) => t.id === T.done);
    expect(toDone).toMatchObject({ hasScreen: true, to: { name: 'Done', statusCategory: { key: 'done' } } });
    expect(toDone.fields.resolution).toMatchObject({ required: true, key: 'resolution', operations: ['set'] });
    expect(toDone.fields.resolution.allowedValues.map((v: { name: string }) => v.name)).toContain("Won't Do");
    const start = reply.body.transitions.find((t: { id: string }) => t.id === T.start);
    expect(start).toMatchObject({ hasScreen: false, fields: {} });
  });

  it('performs a transition (204), records status history and reads back', async () => {
    const reply = await agent.post(`/rest/api/3/issue/${todo}/transitions`, { transition: { id: T.start } });
    expect(reply.status).toBe(204);
    const issue = (await agent.get(`/rest/api/3/issue/${todo}?fields=status`)).body;
    expect(issue.fields.status.name).toBe('In Progress');
    const log = (await agent.get(`/rest/api/3/issue/${todo}/changelog`)).body;
    expect(log.values.at(-1).items).toEqual([{ field: 'status', fieldtype: 'jira', fieldId: 'status', from: '10000', fromString: 'To Do', to: '3', toString: 'In Progress' }]);
  });

  it('requires the screen fields and sets resolution on Done; Reopen clears it', async () => {
    const missing = await agent.post(`/rest/api/3/issue/${inProgress}/transitions`, { transition: { id: T.done } });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ errorMessages: [], errors: { resolution: 'Resolution is required.' } });
    const ok = await agent.post(`/rest/api/3/issue/${inProgress}/transitions`, {
      transition: { id: T.done },
      fields: { resolution: { name: "Won't Do" } },
      update: { comment: [{ add: { body: adf('Closing: superseded.') } }] },
    });
    expect(ok.status).toBe(204);
    let issue = (await agent.get(`/rest/api/3/issue/${inProgress}?fields=status,resolution,resolutiondate,comment`)).body.fields;
    expect(issue.status.name).toBe('Done');
    expect(issue.resolution.name).toBe("Won't Do");
    expect(typeof issue.resolutiondate).toBe('string');
    expect(issue.comment.comments.at(-1).body).toEqual(adf('Closing: superseded.'));
    expect((await agent.post(`/rest/api/3/issue/${inProgress}/transitions`, { transition: { id: T.reopen } })).status).toBe(204);
    issue = (await agent.get(`/rest/api/3/issue/${inProgress}?fields=status,resolution,resolutiondate`)).body.fields;
    expect(issue).toMatchObject({ status: { name: 'To Do' }, resolution: null, resolutiondate: null });
  });

  it('refuses a transition that is not available, a missing id, and fields off the screen', async () => {
    const before = sim.stateHash();
    const unavailable = await agent.post(`/rest/api/3/issue/${todo}/transitions`, { transition: { id: T.reopen } });
    expect(unavailable.status).toBe(400);
    expect(unavailable.body).toEqual({ errorMessages: [`Transition id '${T.reopen}' is not valid for this issue.`], errors: {} });
    const missing = await agent.post(`/rest/api/3/issue/${todo}/transitions`, {});
    expect(missing.body.errorMessages).toEqual(["Missing 'transition' identifier"]);
    const offScreen = await agent.post(`/rest/api/3/issue/${todo}/transitions`, { transition: { id: T.start }, fields: { resolution: { name: 'Done' } } });
    expect(offScreen.body.errors).toEqual({ resolution: "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown." });
    expect(sim.stateHash()).toBe(before);
  });
});

describe('assignee', () => {
  it('assigns, unassigns, and records both', async () => {
    if (!activePerson) throw new Error('fixture missing');
    expect((await agent.put(`/rest/api/3/issue/${todo}/assignee`, { accountId: activePerson.accountId })).status).toBe(204);
    expect((await agent.get(`/rest/api/3/issue/${todo}?fields=assignee`)).body.fields.assignee.accountId).toBe(activePerson.accountId);
    expect((await agent.put(`/rest/api/3/issue/${todo}/assignee`, { accountId: null })).status).toBe(204);
    expect((await agent.get(`/rest/api/3/issue/${todo}?fields=assignee`)).body.fields.assignee).toBeNull();
    const items = (await agent.get(`/rest/api/3/issue/${todo}/changelog`)).body.values.flatMap((h: { items: unknown[] }) => h.items);
    expect(items.slice(-2)).toEqual([
      { field: 'assignee', fieldtype: 'jira', fieldId: 'assignee', from: null, fromString: null, to: activePerson.accountId, toString: activePerson.displayName },
      { field: 'assignee', fieldtype: 'jira', fieldId: 'assignee', from: activePerson.accountId, fromString: activePerson.displayName, to: null, toString: null },
    ]);
  });

  it('refuses unknown, inactive and non-browsing users', async () => {
    if (!inactivePerson) throw new Error('fixture missing');
    for (const accountId of ['nobody', inactivePerson.accountId]) {
      const reply = await agent.put(`/rest/api/3/issue/${todo}/assignee`, { accountId });
      expect(reply.status).toBe(400);
      expect(reply.body).toEqual({ errorMessages: [], errors: { assignee: `User '${accountId}' cannot be assigned issues.` } });
    }
    const sec = await agent.put(`/rest/api/3/issue/${SIM_FIXTURES.issues.secTask}/assignee`, { accountId: SIM_USERS.limited.accountId });
    expect(sec.status).toBe(400);
  });
});

describe('comments', () => {
  it('adds a comment (201 Comment), lists it with total and paging, gets and deletes it', async () => {
    const key = SIM_FIXTURES.issues.todo;
    const before = (await agent.get(`/rest/api/3/issue/${key}/comment`)).body.total as number;
    const added = await agent.post(`/rest/api/3/issue/${key}/comment`, { body: adf('Looks good to me.') });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ body: adf('Looks good to me.'), author: { accountId: SIM_USERS.agent.accountId } });
    expect(added.body.self).toMatch(new RegExp(`/rest/api/3/issue/\\d+/comment/${added.body.id}$`));
    const list = await agent.get(`/rest/api/3/issue/${key}/comment?startAt=${before}&maxResults=1`);
    expect(list.body).toMatchObject({ startAt: before, maxResults: 1, total: before + 1 });
    expect(list.body.comments.map((c: { id: string }) => c.id)).toEqual([added.body.id]);
    const newestFirst = await agent.get(`/rest/api/3/issue/${key}/comment?orderBy=-created&maxResults=1`);
    expect(newestFirst.body.comments[0].id).toBe(added.body.id);
    expect((await agent.get(`/rest/api/3/issue/${key}/comment/${added.body.id}`)).body.id).toBe(added.body.id);
    expect((await agent.del(`/rest/api/3/issue/${key}/comment/${added.body.id}`)).status).toBe(204);
    expect((await agent.get(`/rest/api/3/issue/${key}/comment/${added.body.id}`)).status).toBe(404);
  });

  it('refuses a plain-string body, a missing body and an empty document', async () => {
    const key = SIM_FIXTURES.issues.todo;
    const before = sim.stateHash();
    expect((await agent.post(`/rest/api/3/issue/${key}/comment`, { body: 'plain' })).body).toEqual({
      errorMessages: [],
      errors: { comment: 'Operation value must be an Atlassian Document (see the Atlassian Document Format)' },
    });
    expect((await agent.post(`/rest/api/3/issue/${key}/comment`, {})).body.errors).toEqual({ comment: 'Comment body can not be empty!' });
    expect((await agent.post(`/rest/api/3/issue/${key}/comment`, { body: { type: 'doc', version: 1, content: [] } })).status).toBe(400);
    expect((await agent.post(`/rest/api/3/issue/${key}/comment`, { body: { type: 'doc', version: 1, content: [{ type: 'script' }] } })).status).toBe(400);
    expect(sim.stateHash()).toBe(before);
  });

  it('pages the changelog with startAt, maxResults, total and isLast', async () => {
    const issue = SIM_FIXTURES.movedIssues[0]?.newKey ?? '';
    const all = (await agent.get(`/rest/api/3/issue/${issue}/changelog`)).body;
    expect(all.total).toBeGreaterThan(1);
    const first = (await agent.get(`/rest/api/3/issue/${issue}/changelog?startAt=0&maxResults=1`)).body;
    expect(first).toMatchObject({ startAt: 0, maxResults: 1, total: all.total, isLast: false });
    expect(first.values).toEqual([all.values[0]]);
    expect(first.nextPage).toContain('startAt=1');
    const last = (await agent.get(`/rest/api/3/issue/${issue}/changelog?startAt=${all.total - 1}&maxResults=1`)).body;
    expect(last.isLast).toBe(true);
    expect(last).not.toHaveProperty('nextPage');
  });
});
