/**
 * The search and create-parent dimensions of decide(): the pure function the gate and the bundle verifier both
 * run, so every refusal here is also what `bundle verify` re-derives from a recorded request.
 */
import { describe, expect, it } from 'vitest';
import { decide, effectiveIssueTypes, isFieldWritable, showsRestrictedComments } from '../../src/policy/decide.js';
import { WpcSchema } from '../../src/wpc/schema.js';

const wpc = WpcSchema.parse({
  wpc_version: 'v1',
  tool: 'jira',
  allow: {
    projects: ['ENG', 'SEC', 'OPS'],
    operations: ['issue.search', 'issue.create'],
    issue_types: ['Bug', 'Task'],
    fields_write_allowlist: ['summary', 'parent', 'labels'],
  },
  deny: { projects: ['SEC'], fields_read: ['priority'], fields_write_denylist: ['labels'] },
});
const listed = WpcSchema.parse({ wpc_version: 'v1', tool: 'jira', allow: { projects: ['ENG'], operations: ['issue.search'], fields_read: ['summary', 'status'] } });
const scope = { operations: ['issue.search' as const, 'issue.create' as const], projects: ['ENG'], issue_types: ['Bug'] };

const codes = (decision: ReturnType<typeof decide>) => decision.reasons.map((reason) => reason.code);

describe('decide: a search', () => {
  const search = { operation: 'issue.search' as const, projects: ['ENG'] };

  it('is allowed on its confined projects and readable fields', () => {
    expect(decide({ ...search, fieldsRead: ['summary', 'status'] }, wpc).effect).toBe('allow');
  });

  it('is refused when its JQL names a hidden field, with the denylist or the allowlist rule', () => {
    const denied = decide({ ...search, fieldsRead: ['status', 'priority'] }, wpc);
    expect(denied).toEqual({ effect: 'deny', reasons: [{ code: 'FIELD_READ_DENIED', rule: 'deny.fields_read[priority]' }] });
    const unlisted = decide({ ...search, fieldsRead: ['summary', 'customfield_10033'] }, listed);
    expect(unlisted.effect).toBe('deny');
    expect(unlisted.reasons[0]).toEqual({ code: 'FIELD_READ_NOT_ALLOWED', rule: 'allow.fields_read(customfield_10033)' });
  });

  it('is refused when its JQL names an issue type outside the WPC or the token, each named in its rule', () => {
    const denied = decide({ ...search, issueTypes: ['Bug', 'Epic'] }, wpc);
    expect(denied).toEqual({ effect: 'deny', reasons: [{ code: 'ISSUE_TYPE_NOT_ALLOWED', rule: 'allow.issue_types(Epic)' }] });
    const token = decide({ ...search, issueTypes: ['Task'] }, wpc, scope);
    expect(codes(token)).toEqual(['SCOPE_ISSUE_TYPE_NOT_GRANTED']);
    expect(token.reasons[0]?.rule).toBe('cst.scope.issue_types(Task)');
  });

  it('is refused with no readable project (it would be unconfined), and on a project it may not see', () => {
    expect(decide({ operation: 'issue.search', projects: [] }, wpc).reasons[0]).toEqual({ code: 'PROJECT_NOT_ALLOWED', rule: 'allow.projects' });
    // A recorded request whose projects were widened is caught by the same rules: what verify re-runs.
    expect(codes(decide({ operation: 'issue.search', projects: ['ENG', 'SEC'] }, wpc))).toContain('PROJECT_DENIED');
    expect(codes(decide({ operation: 'issue.search', projects: ['ENG', 'OPS'] }, wpc, scope))).toContain('SCOPE_PROJECT_NOT_GRANTED');
  });

  it('is refused when the WPC and the token share no issue type: nothing may be searched', () => {
    const none = { ...scope, issue_types: ['Story'] };
    expect(effectiveIssueTypes(wpc, none)).toEqual([]);
    expect(codes(decide(search, wpc, none))).toContain('ISSUE_TYPE_NOT_ALLOWED');
  });

  it('a search that names no type is not ISSUE_TYPE_UNKNOWN: it is confined to the visible types instead', () => {
    expect(decide(search, wpc).effect).toBe('allow');
    expect(codes(decide({ ...search, issueTypes: [] }, wpc))).not.toContain('ISSUE_TYPE_UNKNOWN');
  });
});

describe('decide: the parent of a create', () => {
  const create = { operation: 'issue.create' as const, project: 'ENG', issueType: 'Bug', fieldsWrite: ['summary', 'parent'] };

  it('is refused in a project the call may not touch: denied by the WPC, outside it, or not granted', () => {
    for (const parentProject of ['SEC', 'HR']) {
      expect(decide({ ...create, parentProject }, wpc).reasons).toEqual([{ code: 'PROJECT_NOT_ALLOWED', rule: 'allow.projects(parent)' }]);
    }
    expect(codes(decide({ ...create, parentProject: 'OPS' }, wpc, scope))).toEqual(['PROJECT_NOT_ALLOWED']);
  });

  it('is allowed in a project the call may touch, and names the rule', () => {
    const allowed = decide({ ...create, parentProject: 'OPS' }, wpc);
    expect(allowed.effect).toBe('allow');
    expect(allowed.reasons).toContainEqual({ code: 'PROJECT_ALLOWED', rule: 'allow.projects[OPS](parent)' });
  });
});

describe('policy answers the tools ask (one source: decide.ts)', () => {
  it('isFieldWritable gives exactly what decide() gives for a written field', () => {
    for (const field of ['summary', 'labels', 'duedate', 'parent']) {
      for (const s of [undefined, { ...scope, fields_write: ['summary'] }]) {
        const decided = decide({ operation: 'issue.create', project: 'ENG', issueType: 'Bug', fieldsWrite: [field] }, wpc, s).effect === 'allow';
        expect(isFieldWritable(field, wpc, s), field).toBe(decided);
      }
    }
  });

  it('effectiveIssueTypes is the WPC list cut to the token, undefined when neither names types', () => {
    expect(effectiveIssueTypes(wpc)).toEqual(['Bug', 'Task']);
    expect(effectiveIssueTypes(wpc, scope)).toEqual(['Bug']);
    expect(effectiveIssueTypes(listed)).toBeUndefined();
    expect(effectiveIssueTypes(listed, scope)).toEqual(['Bug']);
  });

  it('restricted comments are withheld unless the WPC says allow.restricted_comments: true', () => {
    expect(showsRestrictedComments(wpc)).toBe(false);
    expect(showsRestrictedComments(WpcSchema.parse({ wpc_version: 'v1', tool: 'jira', allow: { restricted_comments: true } }))).toBe(true);
    expect(() => WpcSchema.parse({ wpc_version: 'v1', tool: 'jira', allow: { restricted_comment: true } })).toThrow();
  });
});
