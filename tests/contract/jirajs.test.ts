/**
 * Drives the simulator with jira.js 5 (a third-party Jira Cloud client): proof the simulator speaks
 * Jira's dialect, not only ours.
 */
import { Version3Client } from 'jira.js';
import { describe, expect, it } from 'vitest';
import { SIM_FIXTURES, SIM_USERS, type RunningSimulator } from '../../src/sim/index.js';
import { useSimulator } from '../helpers/sim.js';

let sim: RunningSimulator;
let jira: Version3Client;

useSimulator({}, (started) => {
  sim = started;
  jira = new Version3Client({
    host: sim.url,
    authentication: { basic: { email: SIM_USERS.agent.email, apiToken: SIM_USERS.agent.apiToken } },
  });
});

describe('jira.js Version3Client against the simulator', () => {
  it('runs an enhanced search and follows nextPageToken', async () => {
    const first = await jira.issueSearch.searchForIssuesUsingJqlEnhancedSearch({ jql: 'project = OPS ORDER BY key ASC', fields: ['summary', 'status'], maxResults: 30 });
    expect(first.issues).toHaveLength(30);
    expect(first.issues?.[0]?.key).toBe('OPS-1');
    expect(first.issues?.[0]?.fields.summary).toEqual(expect.any(String));
    // jira.js 5's SearchAndReconcileResults type omits isLast; the spec and Jira have it.
    expect((first as { isLast?: boolean }).isLast).toBe(false);
    const second = await jira.issueSearch.searchForIssuesUsingJqlEnhancedSearch({
      jql: 'project = OPS ORDER BY key ASC',
      fields: ['summary', 'status'],
      maxResults: 30,
      ...(first.nextPageToken ? { nextPageToken: first.nextPageToken } : {}),
    });
    // OPS-16 moved to HR, so the first page of 30 ends at OPS-31.
    expect(first.issues?.at(-1)?.key).toBe('OPS-31');
    expect(second.issues?.[0]?.key).toBe('OPS-32');
    const posted = await jira.issueSearch.searchForIssuesUsingJqlEnhancedSearchPost({ jql: 'key = ENG-42', fields: ['project'] });
    expect(posted.issues?.[0]?.key).toBe('SEC-61');
  });

  it('gets an issue, including a moved one by its old key', async () => {
    const issue = await jira.issues.getIssue({ issueIdOrKey: SIM_FIXTURES.issues.withSubtasks, expand: 'names' });
    expect(issue.key).toBe(SIM_FIXTURES.issues.withSubtasks);
    expect(issue.fields.subtasks?.map((s) => s.key)).toContain(SIM_FIXTURES.issues.subtask);
    const moved = await jira.issues.getIssue({ issueIdOrKey: 'OPS-16', fields: ['project'] });
    expect(moved.key).toBe('HR-41');
    expect(moved.fields.project.key).toBe('HR');
  });

  it('creates an issue, comments on it, lists and performs transitions', async () => {
    const created = await jira.issues.createIssue({
      fields: {
        project: { key: 'ENG' },
        issuetype: { name: 'Task' },
        summary: 'Created through jira.js',
        description: { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'From a real client library.' }] }] },
        labels: ['jira-js'],
      },
    });
    expect(created.key).toMatch(/^ENG-\d+$/);

    const comment = await jira.issueComments.addComment({ issueIdOrKey: created.key, comment: 'Plain text becomes ADF in jira.js' });
    expect(comment.body).toEqual({ type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Plain text becomes ADF in jira.js' }] }] });

    const { transitions } = await jira.issues.getTransitions({ issueIdOrKey: created.key, expand: 'transitions.fields' });
    const start = transitions?.find((t) => t.to?.name === 'In Progress');
    expect(start?.id).toBe(SIM_FIXTURES.transitions.start);
    await jira.issues.doTransition({ issueIdOrKey: created.key, transition: { id: start?.id ?? '' } });

    const after = await jira.issues.getIssue({ issueIdOrKey: created.key, fields: ['status', 'labels', 'comment'] });
    expect(after.fields.status.name).toBe('In Progress');
    expect(after.fields.labels).toEqual(['jira-js']);
    expect(after.fields.comment.total).toBe(1);
    const posts = sim.requests().filter((r) => r.method === 'POST' && r.path === '/rest/api/3/issue');
    expect(posts).toHaveLength(1);
  });

  it('surfaces Jira errors as jira.js HTTP errors with the ErrorCollection', async () => {
    const error = await jira.issues.getIssue({ issueIdOrKey: 'ENG-99999' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(JSON.stringify(error)).toContain('Issue does not exist or you do not have permission to see it.');
  });
});
