import { describe, expect, it } from 'vitest';
import { parseJql } from '../../src/jql/parser.js';
import { tokenize } from '../../src/jql/lexer.js';
import { JqlError } from '../../src/jql/errors.js';
import { SIM_FIXTURES, SIM_PEOPLE, SIM_USERS, type RunningSimulator, type SimIssue, type SimSnapshot } from '../../src/sim/index.js';
import { client, jql, searchAll, type SimClient } from './helpers.js';
import { useSimulator } from '../helpers/sim.js';

const DAY = 86_400_000;

function messagesOf(source: string): readonly string[] {
  try {
    parseJql(source);
  } catch (error) {
    if (error instanceof JqlError) return error.messages;
    throw error;
  }
  throw new Error(`expected a parse error for ${source}`);
}

describe('JQL tokenizer and parser', () => {
  it('unescapes single- and double-quoted strings', () => {
    const tokens = tokenize(String.raw`summary ~ "say \"hi\" \\ now" OR summary ~ 'it\'s\ta\u0041'`);
    const strings = tokens.filter((t) => t.kind === 'string').map((t) => t.value);
    expect(strings).toEqual(['say "hi" \\ now', "it's\taA"]);
  });

  it('parses precedence: AND binds tighter than OR, NOT tighter than AND', () => {
    const query = parseJql('project = A OR project = B AND NOT status = Done');
    expect(query.where).toMatchObject({
      kind: 'or',
      left: { kind: 'clause', field: { name: 'project' } },
      right: { kind: 'and', right: { kind: 'not', expr: { kind: 'clause', field: { name: 'status' } } } },
    });
  });

  it('parses lists, functions, EMPTY, IS NOT, NOT IN and ORDER BY with several keys', () => {
    const query = parseJql('assignee in (currentUser(), EMPTY, "bob") AND labels NOT IN (a, b) AND duedate IS NOT empty ORDER BY priority DESC, key ASC, created');
    expect(query.orderBy.map((k) => [k.field.name, k.direction])).toEqual([
      ['priority', 'desc'],
      ['key', 'asc'],
      ['created', null],
    ]);
    expect(JSON.stringify(query.where)).toContain('"operator":"not in"');
    expect(JSON.stringify(query.where)).toContain('"operator":"is not"');
    expect(JSON.stringify(query.where)).toContain('"kind":"function","name":"currentUser"');
  });

  it('accepts && and || as AND and OR, and cf[id] field references', () => {
    const query = parseJql('cf[10016] >= 5 && (status = Done || status = "In Review")');
    expect(query.where).toMatchObject({ kind: 'and', left: { field: { name: 'cf[10016]' }, operator: '>=' }, right: { kind: 'or' } });
  });

  it.each([
    ['project = ENG AND', 'Error in the JQL Query: Expecting a field name before the end of the query.'],
    ['(project = ENG', "Error in the JQL Query: Expecting ')' before the end of the query."],
    ['project ENG', "Error in the JQL Query: Expecting operator but got 'ENG'. The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'. (line 1, character 9)"],
    ['project = AND', "Error in the JQL Query: Expecting either a value, list or function but got 'AND'. You must surround 'AND' in quotation marks to use it as a value. (line 1, character 11)"],
    ['status = To Do', "Error in the JQL Query: 'To' is a reserved JQL word. You must surround it in quotation marks to use it in a query. (line 1, character 10)"],
    ['summary ~ "open', "Error in the JQL Query: The quoted string 'open' has not been completed. (line 1, character 11)"],
    ['assignee = bob@example.com', "Error in the JQL Query: The character '@' is a reserved JQL character. You must enclose it in a string or use the escape '\\u0040' instead. (line 1, character 15)"],
    ['summary ~ "a\\qb"', "Error in the JQL Query: '\\q' is an illegal JQL escape sequence. The valid escape sequences are \\', \\\", \\t, \\n, \\r, \\\\, '\\ ' and \\uXXXX. (line 1, character 13)"],
    ['project = ENG status = Done', "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'status'. (line 1, character 15)"],
    ['project = ENG\nAND (', "Error in the JQL Query: Expecting a field name before the end of the query."],
    ['project = ENG\n  AND status = "x', "Error in the JQL Query: The quoted string 'x' has not been completed. (line 2, character 16)"],
  ])('reports %j as Jira does', (source, message) => {
    expect(messagesOf(source)).toEqual([message]);
  });
});

let sim: RunningSimulator;
let agent: SimClient;
let limited: SimClient;
let snapshot: SimSnapshot;

useSimulator({ seed: 1234 }, (started) => {
  sim = started;
  agent = client(sim.url, SIM_USERS.agent);
  limited = client(sim.url, SIM_USERS.limited);
  snapshot = sim.snapshot();
});

async function keys(query: string, c: SimClient = agent): Promise<string[]> {
  const { issues } = await searchAll(c, query, '&maxResults=5000&fields=key');
  return issues.map((i) => i.key as string);
}

function expected(filter: (i: SimIssue) => boolean): string[] {
  return snapshot.issues.filter(filter).map((i) => i.key).sort();
}

const text = (node: unknown): string => JSON.stringify(node ?? '').toLowerCase();

describe('JQL evaluation over HTTP', () => {
  it('project =, IN and NOT IN', async () => {
    expect((await keys('project = ENG')).sort()).toEqual(expected((i) => i.projectKey === 'ENG'));
    expect((await keys('project in (SEC, "hr")')).sort()).toEqual(expected((i) => ['SEC', 'HR'].includes(i.projectKey)));
    expect((await keys('project not in (ENG, SEC) AND issuetype = Epic')).sort()).toEqual(
      expected((i) => !['ENG', 'SEC'].includes(i.projectKey) && i.typeId === SIM_FIXTURES.issueTypes.epic),
    );
    expect((await keys('project = 10002')).sort()).toEqual(expected((i) => i.projectKey === 'OPS'));
  });

  it('key = an old key of a moved issue finds it under its new key', async () => {
    for (const moved of SIM_FIXTURES.movedIssues) {
      expect(await keys(`key = ${moved.oldKey}`)).toEqual([moved.newKey]);
      expect(await keys(`issuekey in (${moved.oldKey}, ${moved.newKey})`)).toEqual([moved.newKey]);
    }
  });

  it('issuetype, status (quoted), labels and priority', async () => {
    expect((await keys('issuetype = Bug AND status = "In Review"')).sort()).toEqual(
      expected((i) => i.typeId === SIM_FIXTURES.issueTypes.bug && i.statusId === SIM_FIXTURES.statuses.inReview),
    );
    expect((await keys("labels in ('backend', performance)")).sort()).toEqual(expected((i) => i.labels.includes('backend') || i.labels.includes('performance')));
    expect((await keys('labels is EMPTY AND project = OPS')).sort()).toEqual(expected((i) => i.labels.length === 0 && i.projectKey === 'OPS'));
    expect((await keys('priority = Highest')).sort()).toEqual(expected((i) => i.priorityId === '1'));
  });

  it('assignee: currentUser(), EMPTY, IS EMPTY, IS NOT EMPTY, != excludes unassigned', async () => {
    const me = SIM_USERS.agent.accountId;
    expect((await keys('assignee = currentUser()')).sort()).toEqual(expected((i) => i.assigneeId === me));
    expect((await keys('assignee = EMPTY AND project = ENG')).sort()).toEqual(expected((i) => i.assigneeId === null && i.projectKey === 'ENG'));
    expect((await keys('assignee is EMPTY AND project = ENG')).sort()).toEqual(expected((i) => i.assigneeId === null && i.projectKey === 'ENG'));
    expect((await keys('assignee is not EMPTY AND project = HR')).sort()).toEqual(expected((i) => i.assigneeId !== null && i.projectKey === 'HR'));
    expect((await keys('assignee != currentUser() AND project = HR')).sort()).toEqual(expected((i) => i.assigneeId !== null && i.assigneeId !== me && i.projectKey === 'HR'));
  });

  it('reporter by accountId, email and display name', async () => {
    const person = SIM_PEOPLE[1];
    if (!person) throw new Error('fixture person missing');
    const want = expected((i) => i.reporterId === person.accountId);
    expect(want.length).toBeGreaterThan(0);
    expect((await keys(`reporter = "${person.accountId}"`)).sort()).toEqual(want);
    expect((await keys(`reporter = "${person.email}"`)).sort()).toEqual(want);
    expect((await keys(`reporter = "${person.displayName}"`)).sort()).toEqual(want);
  });

  it('summary ~, description ~ and text ~ search words, phrases and prefixes', async () => {
    const flaky = await keys('summary ~ flaky');
    expect(flaky.length).toBeGreaterThan(0);
    expect(flaky.sort()).toEqual(expected((i) => /\bflaky\b/i.test(i.summary)));
    expect((await keys('summary ~ "rotat*"')).sort()).toEqual(expected((i) => /\brotat/i.test(i.summary)));
    const phrase = await keys('text ~ "\\"move every SEC issue to Done\\""');
    expect(phrase.sort()).toEqual(['ENG-7', 'SEC-3']);
    expect((await keys('description ~ "ignore"')).sort()).toEqual(expected((i) => text(i.description).includes('ignore')));
    expect(await keys('text ~ "paste the Jira API token"')).toEqual(['HR-5']);
  });

  it('created and updated against absolute and relative dates', async () => {
    const now = Date.parse(SIM_FIXTURES.now);
    expect((await keys('created >= "2026-01-01"')).sort()).toEqual(expected((i) => i.created >= Date.UTC(2026, 0, 1)));
    expect((await keys('created < "2025/06/01" AND project = ENG')).sort()).toEqual(expected((i) => i.created < Date.UTC(2025, 5, 1) && i.projectKey === 'ENG'));
    const recent = await keys('updated >= -7d');
    expect(recent.length).toBeGreaterThan(0);
    expect(recent.sort()).toEqual(expected((i) => i.updated >= now - 7 * DAY));
    expect((await keys('created > -4w AND created <= "2026-03-01 12:00"')).sort()).toEqual(expected((i) => i.created > now - 28 * DAY && i.created <= now));
    expect((await keys('created >= startOfMonth()')).sort()).toEqual(expected((i) => i.created >= Date.UTC(2026, 2, 1)));
  });

  it('AND, OR, NOT and parentheses combine as boolean logic', async () => {
    const result = await keys('(project = OPS OR project = HR) AND NOT (status = Done OR priority = Low)');
    expect(result.sort()).toEqual(
      expected((i) => ['OPS', 'HR'].includes(i.projectKey) && !(i.statusId === SIM_FIXTURES.statuses.done || i.priorityId === '4')),
    );
  });

  it('ORDER BY several keys, ASC and DESC', async () => {
    const { issues } = await searchAll(agent, 'project = ENG ORDER BY priority DESC, created ASC', '&maxResults=5000&fields=priority,created');
    const rank = (name: string): number => ['Lowest', 'Low', 'Medium', 'High', 'Highest'].indexOf(name);
    for (let n = 1; n < issues.length; n++) {
      const a = issues[n - 1].fields;
      const b = issues[n].fields;
      expect(rank(a.priority.name)).toBeGreaterThanOrEqual(rank(b.priority.name));
      if (a.priority.name === b.priority.name) expect(Date.parse(a.created.replace('+0000', 'Z'))).toBeLessThanOrEqual(Date.parse(b.created.replace('+0000', 'Z')));
    }
    const byKey = await keys('project = HR ORDER BY key ASC');
    const numbers = byKey.map((k) => Number(k.split('-')[1]));
    expect(numbers).toEqual([...numbers].sort((x, y) => x - y));
  });

  it('answers parse errors with a 400 ErrorCollection', async () => {
    const reply = await agent.get(`/rest/api/3/search/jql?jql=${jql('project = ENG AND (')}`);
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ errorMessages: ['Error in the JQL Query: Expecting a field name before the end of the query.'], errors: {} });
  });

  it('reports every value and field that does not exist', async () => {
    const reply = await agent.get(`/rest/api/3/search/jql?jql=${jql('project = NOPE AND status = Frozen AND nofield = 1 AND summary = x')}`);
    expect(reply.status).toBe(400);
    expect(reply.body.errorMessages).toEqual([
      "The value 'NOPE' does not exist for the field 'project'.",
      "The value 'Frozen' does not exist for the field 'status'.",
      "Field 'nofield' does not exist or you do not have permission to view it.",
      "The operator '=' is not supported by the 'summary' field.",
    ]);
  });

  it('reports unknown issue keys and malformed ones', async () => {
    const reply = await agent.get(`/rest/api/3/search/jql?jql=${jql('key in (ENG-9999, nonsense)')}`);
    expect(reply.body.errorMessages).toEqual(["An issue with key 'ENG-9999' does not exist for field 'key'.", "The issue key 'nonsense' for field 'key' is invalid."]);
  });

  it('hides projects the caller cannot browse: their values do not exist', async () => {
    const reply = await limited.get(`/rest/api/3/search/jql?jql=${jql('project = SEC')}`);
    expect(reply.status).toBe(400);
    expect(reply.body.errorMessages).toEqual(["The value 'SEC' does not exist for the field 'project'."]);
    const moved = await limited.get(`/rest/api/3/search/jql?jql=${jql('key = ENG-42')}`);
    expect(moved.status).toBe(400);
    expect(moved.body.errorMessages).toEqual(["An issue with key 'ENG-42' does not exist for field 'key'."]);
  });

  it('filters results by permission even when the query does not name a project', async () => {
    const visible = await keys('created >= "2025-01-01"', limited);
    expect(visible.length).toBeGreaterThan(0);
    expect(visible.every((k) => k.startsWith('ENG-') || k.startsWith('OPS-'))).toBe(true);
  });
});
