import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { World, callTool, toolNames, type Connected } from './harness.js';
import { jiraAsUser } from './threat-helpers.js';

describe('jira-read and jira-write over stdio (seed WPC)', () => {
  let world: World;
  let read: Connected;
  let write: Connected;

  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json' });
    read = await world.connect('read');
    write = await world.connect('write');
  });
  afterAll(async () => world?.close());

  it('lists only the tools whose operation the WPC and the token allow', async () => {
    // seed: issue.search, issue.get (read); issue.create, issue.comment.create (write); project.read not allowed.
    expect(await toolNames(read)).toEqual(['jira_get_changelog', 'jira_get_comments', 'jira_get_issue', 'jira_get_transitions', 'jira_search_issues']);
    expect(await toolNames(write)).toEqual(['jira_add_comment', 'jira_create_issue']);
  });

  it('describes each tool with a title, annotations, input and output schemas', async () => {
    const { tools } = await read.client.listTools();
    for (const tool of tools) {
      expect(tool.title).toBeTruthy();
      expect(tool.description?.length).toBeGreaterThan(40);
      expect(tool.annotations?.readOnlyHint).toBe(true);
      expect(tool.annotations?.destructiveHint).toBe(false);
      expect(tool.inputSchema.type).toBe('object');
      expect((tool.inputSchema as { additionalProperties?: unknown }).additionalProperties).toBe(false);
      expect(tool.outputSchema?.type).toBe('object');
    }
    const writeTools = (await write.client.listTools()).tools;
    const create = writeTools.find((tool) => tool.name === 'jira_create_issue');
    expect(create?.annotations).toMatchObject({ readOnlyHint: false, idempotentHint: false });
  });

  it('searches with JQL confined to the allowed projects, with structured content and a text copy', async () => {
    const result = await callTool(read, 'jira_search_issues', { jql: 'ORDER BY key ASC', max_results: 10 });
    expect(result.isError).toBe(false);
    const data = result.structured.data as { issues: Array<{ key: string }>; jql_sent: string; next_page_token: string | null };
    expect(result.structured.content_trust).toBe('untrusted');
    expect(data.jql_sent).toBe('project in ("ENG", "SEC") ORDER BY key ASC');
    expect(data.issues.length).toBe(10);
    // A hit is its key and the fields asked for; the key carries the project.
    for (const issue of data.issues) expect(['ENG', 'SEC']).toContain(issue.key.slice(0, issue.key.lastIndexOf('-')));
    expect(JSON.parse(result.text)).toEqual(result.structured);
    // The receipt travels in _meta, not in what the model reads.
    expect(result.receipt).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.structured.receipt).toBeUndefined();
    expect(result.text).not.toContain(result.receipt as string);
    // Paging with the token from the previous page.
    const next = await callTool(read, 'jira_search_issues', { jql: 'ORDER BY key ASC', max_results: 10, next_page_token: data.next_page_token });
    const nextKeys = (next.structured.data as { issues: Array<{ key: string }> }).issues.map((issue) => issue.key);
    expect(nextKeys.some((key) => data.issues.some((issue) => issue.key === key))).toBe(false);
  });

  it('gets an issue with its description as Markdown, comments, changelog and transitions', async () => {
    const issue = await callTool(read, 'jira_get_issue', { issue_key: 'ENG-1' });
    expect(issue.isError).toBe(false);
    const data = issue.structured.data as { key: string; fields: Record<string, unknown> };
    expect(data.key).toBe('ENG-1');
    expect(typeof data.fields.summary).toBe('string');
    expect(typeof data.fields.description).toBe('string');
    // Only what a model can use: the key (it names the project) and the default fields that have a value; no
    // numeric id, no project object the gate fetched for its own check, no nulls, no empty withheld list.
    expect(Object.keys(data).sort()).toEqual(['fields', 'key']);
    expect(Object.keys(data.fields)).not.toContain('project');
    expect(Object.values(data.fields).filter((value) => value === null || (Array.isArray(value) && value.length === 0))).toEqual([]);
    const raw = (await jiraAsUser(world.sim, 'GET', '/rest/api/3/issue/ENG-1?fields=duedate,labels,summary')).body as { fields: Record<string, unknown> };
    if (raw.fields.duedate === null) expect(data.fields).not.toHaveProperty('duedate');
    expect(JSON.parse(issue.text)).toEqual(issue.structured);
    // Named fields: exactly those (project included when asked), nothing the gate fetched besides.
    const named = await callTool(read, 'jira_get_issue', { issue_key: 'ENG-1', fields: ['summary', 'project'] });
    expect(named.structured.data).toEqual({ key: 'ENG-1', fields: { summary: raw.fields.summary, project: { key: 'ENG', name: expect.any(String) } } });
    const comments = await callTool(read, 'jira_get_comments', { issue_key: 'ENG-1' });
    expect(comments.isError).toBe(false);
    expect(Array.isArray((comments.structured.data as { comments: unknown[] }).comments)).toBe(true);
    const changelog = await callTool(read, 'jira_get_changelog', { issue_key: 'ENG-1' });
    expect(changelog.isError).toBe(false);
    const transitions = await callTool(read, 'jira_get_transitions', { issue_key: 'ENG-1' });
    expect(transitions.isError).toBe(false);
    expect((transitions.structured.data as { transitions: unknown[] }).transitions.length).toBeGreaterThan(0);
  });

  it('creates an issue and adds a comment, each read back and receipted with before/after', async () => {
    const before = world.sim.stateHash();
    const created = await callTool(write, 'jira_create_issue', {
      project_key: 'ENG',
      issue_type: 'Task',
      summary: 'Rotate the staging TLS certificate',
      description: '## Why\n\nThe cert expires in **5 days**.\n\n- renew\n- deploy',
      labels: ['ops'],
    });
    expect(created.isError, created.text).toBe(false);
    const key = (created.structured.data as { issue_key: string }).issue_key;
    expect(key).toMatch(/^ENG-\d+$/);
    expect(world.sim.stateHash()).not.toBe(before);
    const comment = await callTool(write, 'jira_add_comment', { issue_key: key, body: 'Renewal **scheduled**.' });
    expect(comment.isError, comment.text).toBe(false);
    const outcomes = world.receipts().filter((receipt) => receipt.kind === 'outcome');
    const createOutcome = outcomes.find((receipt) => receipt.tool === 'jira_create_issue');
    expect(createOutcome?.outcome?.status).toBe('succeeded');
    expect(createOutcome?.changes?.find((change) => change.field === 'summary')).toMatchObject({ issue: key, before: null, after: 'Rotate the staging TLS certificate' });
    expect(outcomes.find((receipt) => receipt.tool === 'jira_add_comment')?.changes?.[0]).toMatchObject({ field: 'comment', before: null });
  });

  it('refuses a tool the policy denies with isError, a stable code and a denial receipt, and Jira unchanged', async () => {
    const before = world.sim.stateHash();
    const result = await callTool(write, 'jira_update_issue', { issue_key: 'ENG-1', summary: 'x' });
    expect(result.isError).toBe(true);
    expect(result.structured.code).toBe('OPERATION_NOT_ALLOWED');
    expect(world.sim.stateHash()).toBe(before);
    expect(world.denials('OPERATION_NOT_ALLOWED').some((receipt) => receipt.tool === 'jira_update_issue')).toBe(true);
  });

  it('refuses a tool the server does not have, with a receipt (a write tool asked of the read server)', async () => {
    const result = await callTool(read, 'jira_delete_issue', { issue_key: 'ENG-1' });
    expect(result.isError).toBe(true);
    expect(result.structured.code).toBe('TOOL_UNKNOWN');
    expect(world.denials('TOOL_UNKNOWN').some((receipt) => receipt.tool === 'jira_delete_issue' && receipt.server === 'jira-read')).toBe(true);
  });

  it('rejects arguments outside the schema (no free-form escape hatch, no self-approval)', async () => {
    const result = await callTool(write, 'jira_add_comment', { issue_key: 'ENG-1', body: 'hi', confirm: true });
    expect(result.isError).toBe(true);
    expect(result.structured.code).toBe('INPUT_INVALID');
  });

  it('logs nothing but protocol on stdout and never prints the token', async () => {
    const token = (await import('node:fs')).readFileSync(world.tokenFile, 'utf8').trim();
    expect(read.stderr()).not.toContain(token);
    expect(write.stderr()).not.toContain(token);
    for (const receipt of world.receipts()) expect(JSON.stringify(receipt)).not.toContain(token);
  });
});
