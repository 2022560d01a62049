import { describe, expect, it } from 'vitest';
import { SIM_FIXTURES, SIM_PEOPLE, SIM_USERS, type RunningSimulator } from '../../src/sim/index.js';
import { adf, client, jql, type SimClient } from './helpers.js';
import { useSimulator } from '../helpers/sim.js';

let sim: RunningSimulator;
let agent: SimClient;

useSimulator({ reset: true }, (started) => {
  sim = started;
  agent = client(sim.url, SIM_USERS.agent);
});

const ADF_MESSAGE = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
const person = (n: number): string => {
  const p = SIM_PEOPLE[n];
  if (!p) throw new Error('fixture person missing');
  return p.accountId;
};

async function createTask(fields: Record<string, unknown> = {}, project = 'ENG'): Promise<{ id: string; key: string }> {
  const reply = await agent.post('/rest/api/3/issue', {
    fields: { project: { key: project }, issuetype: { name: 'Task' }, summary: 'Created by a test', ...fields },
  });
  expect(reply.status, reply.text).toBe(201);
  return reply.body;
}

describe('get issue', () => {
  it('answers by key and by numeric id with every field by default', async () => {
    const byKey = await agent.get(`/rest/api/3/issue/${SIM_FIXTURES.issues.withSubtasks}`);
    expect(byKey.status).toBe(200);
    const byId = await agent.get(`/rest/api/3/issue/${byKey.body.id}`);
    expect(byId.body).toEqual(byKey.body);
    expect(byKey.body.fields).toHaveProperty('comment');
    expect(byKey.body.fields.subtasks.map((s: { key: string }) => s.key)).toContain(SIM_FIXTURES.issues.subtask);
    expect(byKey.body.fields.project.key).toBe('ENG');
  });

  it('answers a moved issue under its old key with its new key and project', async () => {
    for (const moved of SIM_FIXTURES.movedIssues) {
      const reply = await agent.get(`/rest/api/3/issue/${moved.oldKey}?fields=project`);
      expect(reply.status).toBe(200);
      expect(reply.body.key).toBe(moved.newKey);
      expect(reply.body.fields.project.key).toBe(moved.to);
    }
  });

  it('records the move in the changelog', async () => {
    const moved = SIM_FIXTURES.movedIssues[0];
    if (!moved) throw new Error('fixture missing');
    const log = await agent.get(`/rest/api/3/issue/${moved.newKey}/changelog`);
    const items = log.body.values.flatMap((h: { items: unknown[] }) => h.items);
    expect(items).toContainEqual(expect.objectContaining({ field: 'Key', fromString: moved.oldKey, toString: moved.newKey }));
    expect(items).toContainEqual(expect.objectContaining({ field: 'project', fromString: 'Engineering', toString: 'Security' }));
  });

  it('selects fields and expands names, schema, renderedFields, transitions and changelog', async () => {
    const reply = await agent.get(`/rest/api/3/issue/ENG-7?fields=summary,description&expand=names,schema,renderedFields,transitions,changelog`);
    expect(Object.keys(reply.body.fields).sort()).toEqual(['description', 'summary']);
    expect(reply.body.names).toEqual({ summary: 'Summary', description: 'Description' });
    expect(reply.body.schema.description).toEqual({ type: 'string', system: 'description' });
    expect(reply.body.renderedFields.description).toContain('<pre><code>');
    expect(reply.body.renderedFields.description).not.toContain('<script');
    expect(Array.isArray(reply.body.transitions)).toBe(true);
    expect(reply.body.changelog).toMatchObject({ startAt: 0 });
  });

  it('answers 404 with Jira body for an unknown issue', async () => {
    const reply = await agent.get('/rest/api/3/issue/ENG-99999');
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({ errorMessages: ['Issue does not exist or you do not have permission to see it.'], errors: {} });
  });
});

describe('create issue', () => {
  it('creates with 201 CreatedIssue and the issue reads back', async () => {
    const reply = await agent.post('/rest/api/3/issue', {
      fields: {
        project: { key: 'ENG' },
        issuetype: { id: SIM_FIXTURES.issueTypes.story },
        summary: 'Export audit events as CSV',
        description: adf('Users need an export.'),
        labels: ['api', 'customer-reported'],
        components: [{ name: 'API' }, { id: '10000' }],
        priority: { name: 'High' },
        assignee: { accountId: person(0) },
        customfield_10016: 5,
        customfield_10030: adf('CSV has a header row'),
      },
    });
    expect(reply.status).toBe(201);
    expect(Object.keys(reply.body).sort()).toEqual(['id', 'key', 'self']);
    expect(reply.body.key).toBe('ENG-122');
    expect(reply.body.self).toBe(`${sim.url}/rest/api/3/issue/${reply.body.id}`);
    const issue = (await agent.get(`/rest/api/3/issue/${reply.body.key}`)).body;
    expect(issue.fields).toMatchObject({
      summary: 'Export audit events as CSV',
      labels: ['api', 'customer-reported'],
      priority: { name: 'High' },
      assignee: { accountId: person(0) },
      reporter: { accountId: SIM_USERS.agent.accountId },
      status: { name: 'To Do' },
      customfield_10016: 5,
      resolution: null,
    });
    expect(issue.fields.components.map((c: { name: string }) => c.name).sort()).toEqual(['API', 'Backend']);
    expect(issue.fields.description).toEqual(adf('Users need an export.'));
  });

  it('refuses plain strings where Jira wants ADF, and labels with spaces', async () => {
    const reply = await agent.post('/rest/api/3/issue', {
      fields: { project: { key: 'ENG' }, issuetype: { name: 'Story' }, summary: 'x', description: 'plain text', customfield_10030: 'also plain', labels: ['two words'] },
    });
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({
      errorMessages: [],
      errors: { description: ADF_MESSAGE, customfield_10030: ADF_MESSAGE, labels: "The label 'two words' contains spaces which is invalid." },
    });
  });

  it('refuses a summary that is not a string and a missing one', async () => {
    const notString = await agent.post('/rest/api/3/issue', { fields: { project: { key: 'ENG' }, issuetype: { name: 'Task' }, summary: adf('x') } });
    expect(notString.body.errors).toEqual({ summary: 'Operation value must be a string' });
    const missing = await agent.post('/rest/api/3/issue', { fields: { project: { key: 'ENG' }, issuetype: { name: 'Task' } } });
    expect(missing.body.errors).toEqual({ summary: 'You must specify a summary of the issue.' });
  });

  it('refuses unknown components, unknown projects and issue types not in the project', async () => {
    const component = await agent.post('/rest/api/3/issue', { fields: { project: { key: 'ENG' }, issuetype: { name: 'Task' }, summary: 'x', components: [{ name: 'Payroll' }] } });
    expect(component.body.errors).toEqual({ components: "Component name 'Payroll' is not valid" });
    const project = await agent.post('/rest/api/3/issue', { fields: { project: { key: 'NOPE' }, issuetype: { name: 'Task' }, summary: 'x' } });
    expect(project.body).toEqual({ errorMessages: [], errors: { project: 'Specify a valid project ID or key' } });
    const type = await agent.post('/rest/api/3/issue', { fields: { project: { key: 'HR' }, issuetype: { name: 'Bug' }, summary: 'x' } });
    expect(type.body.errors).toEqual({ issuetype: 'The issue type selected is invalid.' });
  });

  it('refuses a field that is not on the create screen, and enforces required fields per type', async () => {
    const status = await agent.post('/rest/api/3/issue', { fields: { project: { key: 'ENG' }, issuetype: { name: 'Task' }, summary: 'x', status: { name: 'Done' } } });
    expect(status.body.errors).toEqual({ status: "Field 'status' cannot be set. It is not on the appropriate screen, or unknown." });
    const secBug = await agent.post('/rest/api/3/issue', { fields: { project: { key: 'SEC' }, issuetype: { name: 'Bug' }, summary: 'x' } });
    expect(secBug.body.errors).toEqual({ customfield_10033: 'Security classification is required.' });
    const subtask = await agent.post('/rest/api/3/issue', { fields: { project: { key: 'ENG' }, issuetype: { name: 'Sub-task' }, summary: 'x' } });
    expect(subtask.body.errors).toEqual({ parent: 'Issue type is a sub-task but parent issue key or id not specified.' });
    const ok = await agent.post('/rest/api/3/issue', {
      fields: { project: { key: 'SEC' }, issuetype: { name: 'Bug' }, summary: 'XSS in preview', customfield_10033: { value: 'Confidential' } },
    });
    expect(ok.status).toBe(201);
  });

  it('never changes state when it refuses', async () => {
    const before = sim.stateHash();
    await agent.post('/rest/api/3/issue', { fields: { project: { key: 'ENG' }, issuetype: { name: 'Task' }, summary: 'x', description: 'plain' } });
    expect(sim.stateHash()).toBe(before);
  });
});

describe('edit issue', () => {
  it('applies fields and update operations, answers 204 and records the changelog', async () => {
    const { key } = await createTask({ labels: ['one'] });
    const reply = await agent.put(`/rest/api/3/issue/${key}`, {
      fields: { summary: 'Renamed', priority: { name: 'Low' } },
      update: { labels: [{ add: 'two' }, { remove: 'one' }], components: [{ set: [{ name: 'Frontend' }] }] },
    });
    expect(reply.status).toBe(204);
    expect(reply.text).toBe('');
    const issue = (await agent.get(`/rest/api/3/issue/${key}?fields=summary,labels,priority,components`)).body.fields;
    expect(issue.summary).toBe('Renamed');
    expect(issue.labels).toEqual(['two']);
    expect(issue.priority.name).toBe('Low');
    expect(issue.components.map((c: { name: string }) => c.name)).toEqual(['Frontend']);
    const log = (await agent.get(`/rest/api/3/issue/${key}/changelog`)).body;
    expect(log.total).toBe(1);
    const [entry] = log.values;
    expect(entry.author.accountId).toBe(SIM_USERS.agent.accountId);
    expect(entry.items).toEqual(
      expect.arrayContaining([
        { field: 'summary', fieldtype: 'jira', fieldId: 'summary', from: null, fromString: 'Created by a test', to: null, toString: 'Renamed' },
        { field: 'labels', fieldtype: 'jira', fieldId: 'labels', from: null, fromString: 'one', to: null, toString: 'two' },
        { field: 'priority', fieldtype: 'jira', fieldId: 'priority', from: '3', fromString: 'Medium', to: '4', toString: 'Low' },
      ]),
    );
  });

  it('refuses the same field in fields and update', async () => {
    const reply = await agent.put(`/rest/api/3/issue/${SIM_FIXTURES.issues.todo}`, { fields: { labels: ['a'] }, update: { labels: [{ add: 'b' }] } });
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ errorMessages: [], errors: { labels: "Field 'labels' cannot appear in both 'fields' and 'update'" } });
  });

  it('refuses fields not on the edit screen (status, project, resolution, unknown)', async () => {
    const before = sim.stateHash();
    const reply = await agent.put(`/rest/api/3/issue/${SIM_FIXTURES.issues.todo}`, {
      fields: { status: { name: 'Done' }, resolution: { name: 'Done' }, customfield_99999: 1 },
      update: { project: [{ set: { key: 'SEC' } }] },
    });
    expect(reply.status).toBe(400);
    for (const field of ['status', 'resolution', 'customfield_99999', 'project']) {
      expect(reply.body.errors[field]).toBe(`Field '${field}' cannot be set. It is not on the appropriate screen, or unknown.`);
    }
    expect(sim.stateHash()).toBe(before);
  });

  it('refuses a custom field that belongs to another issue type', async () => {
    const reply = await agent.put(`/rest/api/3/issue/${SIM_FIXTURES.issues.todo}`, { fields: { customfield_10031: adf('not a bug') } });
    expect(reply.body.errors).toEqual({ customfield_10031: "Field 'customfield_10031' cannot be set. It is not on the appropriate screen, or unknown." });
  });

  it('returns the issue with returnIssue=true', async () => {
    const reply = await agent.put(`/rest/api/3/issue/${SIM_FIXTURES.issues.todo}?returnIssue=true`, { fields: { summary: 'Edited and returned' } });
    expect(reply.status).toBe(200);
    expect(reply.body.fields.summary).toBe('Edited and returned');
  });

  it('does not write history for an edit that changes nothing', async () => {
    const issue = (await agent.get(`/rest/api/3/issue/${SIM_FIXTURES.issues.todo}?fields=summary`)).body;
    const before = sim.stateHash();
    const reply = await agent.put(`/rest/api/3/issue/${SIM_FIXTURES.issues.todo}`, { fields: { summary: issue.fields.summary } });
    expect(reply.status).toBe(204);
    expect(sim.stateHash()).toBe(before);
  });
});

describe('delete issue', () => {
  it('refuses to delete an issue with sub-tasks unless deleteSubtasks=true', async () => {
    const { withSubtasks, subtask } = SIM_FIXTURES.issues;
    const refused = await agent.del(`/rest/api/3/issue/${withSubtasks}`);
    expect(refused.status).toBe(400);
    expect(refused.body.errorMessages[0]).toMatch(/deleteSubtasks/);
    const ok = await agent.del(`/rest/api/3/issue/${withSubtasks}?deleteSubtasks=true`);
    expect(ok.status).toBe(204);
    expect((await agent.get(`/rest/api/3/issue/${withSubtasks}`)).status).toBe(404);
    expect((await agent.get(`/rest/api/3/issue/${subtask}`)).status).toBe(404);
  });

  it('deletes a plain issue; the key is then gone from search too', async () => {
    const { key } = await createTask();
    expect((await agent.del(`/rest/api/3/issue/${key}`)).status).toBe(204);
    const search = await agent.get(`/rest/api/3/search/jql?jql=${jql('project = ENG AND summary ~ "Created by a test"')}`);
    expect(search.body.issues).toEqual([]);
  });
});
