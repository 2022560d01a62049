import { z } from 'zod';
import { markdownToAdf } from '../jira/adf/index.js';
import { isJiraError } from '../jira/errors.js';
import { isFieldReadable } from '../policy/fields.js';
import { GateDenied } from '../gate/denial.js';
import { defineTool, type Tool, type ToolContext } from '../gate/tool.js';
import type { FieldChange } from '../receipts/types.js';
import { IssueKeySchema, ProjectKeySchema, presentValue, resolveIssue } from './common.js';
import { NamedFieldsShape, buildFieldWrite, compareWrite } from './field-writes.js';

const ChangeOutput = z.strictObject({ field: z.string(), before: z.unknown(), after: z.unknown() });
const WriteOutput = z.strictObject({ issue_key: z.string(), changes: z.array(ChangeOutput) });

/** Shown in place of a value the read policy hides: a write tool must not become a way to read it. */
const WITHHELD = '[withheld by the read policy]';

function presentChanges(changes: FieldChange[], ctx: ToolContext) {
  return changes.map((change) =>
    isFieldReadable(change.field, ctx.wpc)
      ? { field: change.field, before: presentValue(change.field, change.before), after: presentValue(change.field, change.after) }
      : { field: change.field, before: WITHHELD, after: WITHHELD },
  );
}

/** The key Jira answered with (the current one, if the issue moved), else the one the model sent: for people. */
function currentKey(target: { issueKeys: string[] }, fallback: string): string {
  return target.issueKeys[target.issueKeys.length - 1] ?? fallback;
}

/**
 * What the write and its read-back address: the numeric id resolved once, before the decision. A key is a
 * look-up handle that follows moves; the id names the one issue the policy decided on.
 */
function issueRef(target: { issueKeys: string[]; issueId?: string }, fallback: string): string {
  return target.issueId ?? currentKey(target, fallback);
}

const POLICY_NOTE =
  'The policy checks the project (read from Jira), the issue type and every field you set; a field outside the allowlist ' +
  'refuses the whole call. Each write is read back from Jira and reported with before and after values.';

export const createIssue = defineTool({
  name: 'jira_create_issue',
  title: 'Create a Jira issue',
  description:
    'Create an issue in a project. Give structured fields: summary, description (Markdown), labels, components, priority, ' +
    `parent_key, and other fields through custom_fields (required fields differ per project and issue type). ${POLICY_NOTE} ` +
    'Creates count against the job budget and are never retried automatically.',
  operation: 'issue.create',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  input: z.strictObject({
    project_key: ProjectKeySchema,
    issue_type: z.string().min(1).max(255).describe('Issue type name, e.g. Bug, Task, Story'),
    ...NamedFieldsShape,
    summary: z.string().min(1).max(255).describe('One-line title'),
    parent_key: IssueKeySchema.optional().describe('Parent issue (for sub-tasks, or an epic)'),
  }),
  output: z.strictObject({ issue_key: z.string(), id: z.string(), fields: z.record(z.string(), z.unknown()) }),
  async resolve(args, ctx) {
    const write = await buildFieldWrite(args, ctx);
    const issueKeys: string[] = [];
    let parentProject: string | undefined;
    if (args.parent_key !== undefined) {
      write.touched.push('parent');
      // The parent is another issue: its project, resolved from Jira, is decided like the call's own.
      const parent = await resolveIssue(ctx, args.parent_key);
      parentProject = parent.target.project;
      issueKeys.push(...parent.target.issueKeys);
    }
    return {
      project: args.project_key,
      issueType: args.issue_type,
      fieldsWrite: write.touched,
      ...(parentProject !== undefined ? { parentProject } : {}),
      issueKeys,
      state: write,
    };
  },
  async run(args, target, ctx) {
    const write = target.state;
    const created = await ctx.jira.createIssue({
      // The decided project and type come last, so nothing in the field map can override them.
      fields: {
        ...write.fields,
        project: { key: args.project_key },
        issuetype: { name: args.issue_type },
        ...(args.parent_key ? { parent: { key: args.parent_key } } : {}),
      },
      ...(Object.keys(write.update).length > 0 ? { update: write.update } : {}),
    });
    const after = await ctx.jira.getIssue(created.key, { fields: write.touched });
    const changes: FieldChange[] = write.touched.map((field) => ({ issue: created.key, field, before: null, after: after.fields?.[field] ?? null }));
    const fields = Object.fromEntries(
      changes.map((change) => [change.field, isFieldReadable(change.field, ctx.wpc) ? presentValue(change.field, change.after) : WITHHELD]),
    );
    return { data: { issue_key: created.key, id: created.id, fields }, changes, issueKeys: [created.key] };
  },
});

export const updateIssue = defineTool({
  name: 'jira_update_issue',
  title: 'Update fields of a Jira issue',
  description:
    'Change fields of an existing issue: summary, description (Markdown), labels (replace, or labels_add/labels_remove), ' +
    `components, priority, duedate, and other fields through custom_fields. ${POLICY_NOTE} If Jira accepts the edit but the ` +
    'read-back shows no change, the call reports WRITE_NOT_APPLIED.',
  operation: 'issue.update',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  input: z
    .strictObject({
      issue_key: IssueKeySchema,
      ...NamedFieldsShape,
      labels_add: z.array(z.string().regex(/^\S{1,255}$/)).max(50).optional().describe('Labels to add'),
      labels_remove: z.array(z.string().regex(/^\S{1,255}$/)).max(50).optional().describe('Labels to remove'),
    }),
  output: WriteOutput,
  async resolve(args, ctx) {
    const write = await buildFieldWrite(args, ctx);
    if (write.touched.length === 0) {
      throw GateDenied.target('INPUT_INVALID', 'no field to change: name at least one field', 'fields');
    }
    const { issue, target } = await resolveIssue(ctx, args.issue_key, write.touched);
    return { ...target, fieldsWrite: write.touched, state: { write, before: issue } };
  },
  async run(args, target, ctx) {
    const { write, before } = target.state;
    const key = currentKey(target, args.issue_key);
    const ref = issueRef(target, args.issue_key);
    await ctx.jira.editIssue(ref, {
      ...(Object.keys(write.fields).length > 0 ? { fields: write.fields } : {}),
      ...(Object.keys(write.update).length > 0 ? { update: write.update } : {}),
    });
    const after = await ctx.jira.getIssue(ref, { fields: write.touched });
    const { changes, applied } = compareWrite(key, write, before, after);
    return { data: { issue_key: key, changes: presentChanges(changes, ctx) }, changes, applied };
  },
});

export const addComment = defineTool({
  name: 'jira_add_comment',
  title: 'Add a comment to a Jira issue',
  description:
    'Add a comment (Markdown, converted to Atlassian Document Format) to an issue. The policy decides on the issue’s real ' +
    'project. Comments count against the job budget and are never retried automatically.',
  operation: 'issue.comment.create',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  input: z.strictObject({ issue_key: IssueKeySchema, body: z.string().min(1).max(32_768).describe('Comment text in Markdown') }),
  output: z.strictObject({ issue_key: z.string(), comment_id: z.string() }),
  async resolve(args, ctx) {
    return (await resolveIssue(ctx, args.issue_key)).target;
  },
  async run(args, target, ctx) {
    const key = currentKey(target, args.issue_key);
    const ref = issueRef(target, args.issue_key);
    const comment = await ctx.jira.addComment(ref, markdownToAdf(args.body));
    const present = await commentExists(ctx, ref, comment.id);
    return {
      data: { issue_key: key, comment_id: comment.id },
      changes: [{ issue: key, field: 'comment', before: null, after: present ? { id: comment.id } : null }],
      applied: present,
    };
  },
});

/** Read-back for a comment: page through the issue's comments, newest pages last, bounded. */
async function commentExists(ctx: ToolContext, key: string, id: string): Promise<boolean> {
  let startAt = 0;
  for (let page = 0; page < 20; page++) {
    const result = await ctx.jira.getComments(key, { startAt, maxResults: 100 });
    if (result.comments.some((comment) => comment.id === id)) return true;
    startAt += result.comments.length;
    if (result.comments.length === 0 || startAt >= result.total) return false;
  }
  return false;
}

export const transitionIssue = defineTool({
  name: 'jira_transition_issue',
  title: 'Move a Jira issue through its workflow',
  description:
    'Perform a workflow transition (by transition id or name, as Jira lists them for the issue), optionally setting fields on the ' +
    "transition's screen (e.g. resolution). The policy checks the operation, the issue's real project and every field set. " +
    'The new status is read back and reported.',
  operation: 'workflow.transition',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  input: z.strictObject({
    issue_key: IssueKeySchema,
    transition: z.string().min(1).max(255).describe('Transition id or name, e.g. 31 or "Done"'),
    resolution: z.string().min(1).max(64).optional().describe('Resolution name, when the transition screen asks for one'),
    custom_fields: NamedFieldsShape.custom_fields,
  }),
  output: WriteOutput,
  async resolve(args, ctx) {
    const write = await buildFieldWrite({ custom_fields: args.custom_fields }, ctx);
    if (args.resolution !== undefined) {
      write.touched.push('resolution');
      write.fields.resolution = { name: args.resolution };
    }
    const { issue, target } = await resolveIssue(ctx, args.issue_key, ['status']);
    const available = await ctx.jira.getTransitions(issueRef(target, args.issue_key), { expandFields: true });
    const wanted = args.transition.toLowerCase();
    const transition = available.transitions.find((t) => t.id === args.transition || t.name.toLowerCase() === wanted);
    // Fields required by the transition screen but not given would make Jira refuse; fields given that are not
    // on the screen are still checked by the policy (and refused by Jira). A missing transition is reported only
    // after the decision: before it, the answer would tell a caller the workflow state of an issue it may not see.
    return { ...target, fieldsWrite: write.touched, state: { write, before: issue, transitionId: transition?.id } };
  },
  async run(args, target, ctx) {
    const { write, before, transitionId } = target.state;
    if (transitionId === undefined) {
      throw GateDenied.of('TRANSITION_NOT_AVAILABLE', `no transition '${args.transition}' from the issue's current status`, 'workflow');
    }
    const key = currentKey(target, args.issue_key);
    const ref = issueRef(target, args.issue_key);
    await ctx.jira.transitionIssue(ref, {
      transition: { id: transitionId },
      ...(Object.keys(write.fields).length > 0 ? { fields: write.fields } : {}),
    });
    const after = await ctx.jira.getIssue(ref, { fields: ['status', ...write.touched] });
    const status = compareWrite(key, { touched: ['status'], expected: {} }, before, after);
    const fields = compareWrite(key, write, before, after);
    const changes = [...status.changes, ...fields.changes];
    return { data: { issue_key: key, changes: presentChanges(changes, ctx) }, changes, applied: status.applied && fields.applied };
  },
});

export const assignIssue = defineTool({
  name: 'jira_assign_issue',
  title: 'Assign a Jira issue',
  description:
    'Assign an issue to a user by Atlassian account id, or unassign it with null. This writes the assignee field, which the ' +
    'policy may forbid on its own. The new assignee is read back and reported.',
  operation: 'issue.assign',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  input: z.strictObject({
    issue_key: IssueKeySchema,
    account_id: z.string().min(1).max(128).regex(/^[A-Za-z0-9:_-]+$/).nullable().describe('Atlassian account id, or null to unassign'),
  }),
  output: WriteOutput,
  async resolve(args, ctx) {
    const { issue, target } = await resolveIssue(ctx, args.issue_key, ['assignee']);
    return { ...target, fieldsWrite: ['assignee'], state: issue };
  },
  async run(args, target, ctx) {
    const before = target.state;
    const key = currentKey(target, args.issue_key);
    const ref = issueRef(target, args.issue_key);
    await ctx.jira.assignIssue(ref, args.account_id);
    const after = await ctx.jira.getIssue(ref, { fields: ['assignee'] });
    const changes: FieldChange[] = [{ issue: key, field: 'assignee', before: before.fields?.assignee ?? null, after: after.fields?.assignee ?? null }];
    // Applied means the assignee now is the one asked for (already being so counts: assigning is idempotent).
    const now = presentValue('assignee', after.fields?.assignee ?? null) as { account_id?: string | null } | null;
    const applied = (now?.account_id ?? null) === args.account_id;
    return { data: { issue_key: key, changes: presentChanges(changes, ctx) }, changes, applied };
  },
});

export const deleteIssue = defineTool({
  name: 'jira_delete_issue',
  title: 'Delete a Jira issue (needs human approval)',
  description:
    'Delete an issue. Always needs a human approval: the first call is refused with APPROVAL_REQUIRED and an approval ' +
    'request id; a person approves that exact call with `claw-jira approve <id>`; the identical call then proceeds once. ' +
    'Any change of arguments needs a new approval. You cannot approve it yourself.',
  operation: 'issue.delete',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  input: z.strictObject({
    issue_key: IssueKeySchema,
    delete_subtasks: z.boolean().default(false).describe('Also delete its sub-tasks (Jira refuses otherwise when it has some)'),
  }),
  output: z.strictObject({ issue_key: z.string(), deleted: z.boolean() }),
  async resolve(args, ctx) {
    const snapshot = ['summary', 'status', 'labels', 'components', 'priority', 'assignee', 'description'];
    const { issue, target } = await resolveIssue(ctx, args.issue_key, snapshot);
    return { ...target, state: issue };
  },
  async run(args, target, ctx) {
    const before = target.state;
    const key = currentKey(target, args.issue_key);
    const ref = issueRef(target, args.issue_key);
    await ctx.jira.deleteIssue(ref, { deleteSubtasks: args.delete_subtasks });
    let gone = false;
    try {
      await ctx.jira.getIssue(ref, { fields: ['summary'] });
    } catch (error) {
      if (isJiraError(error) && error.code === 'JIRA_NOT_FOUND') gone = true;
      else throw error;
    }
    const changes: FieldChange[] = [{ issue: key, field: '*', before: before.fields ?? null, after: gone ? null : before.fields ?? null }];
    return { data: { issue_key: key, deleted: gone }, changes, applied: gone };
  },
});

export const WRITE_TOOLS: readonly Tool[] = [createIssue, addComment, updateIssue, transitionIssue, assignIssue, deleteIssue];
