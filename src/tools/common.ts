import { z } from 'zod';
import { adfToMarkdown } from '../jira/adf/index.js';
import { isFieldReadable, showsRestrictedComments } from '../policy/fields.js';
import { GateDenied } from '../gate/denial.js';
import type { TargetFacts, ToolContext } from '../gate/tool.js';
import type { Comment, Issue } from '../jira/types.js';

/** An issue key (ENG-42) or a numeric issue id. Never a URL, never JQL. */
export const IssueKeySchema = z
  .string()
  .regex(/^([A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,17}|[1-9][0-9]{0,17})$/, 'an issue key like ENG-42, or a numeric issue id')
  .describe('Issue key (e.g. ENG-42) or numeric id');

export const ProjectKeySchema = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]{0,254}$/, 'a project key like ENG')
  .describe('Project key, e.g. ENG');

export const FieldIdSchema = z.string().min(1).max(255).regex(/^[A-Za-z0-9_.\- ]+$/, 'a field id or name');

/**
 * Values a custom field may take. Deliberately narrow: scalars, lists of scalars, and the `{value}`/`{id}`
 * option shapes. No nested objects, so nothing can hide a second field inside a value.
 */
export const CustomFieldValueSchema = z.union([
  z.string().max(32_768),
  z.number(),
  z.boolean(),
  z.null(),
  z.array(z.union([z.string().max(1024), z.number()])).max(100),
  z.strictObject({ value: z.string().max(1024) }),
  z.strictObject({ id: z.string().max(64) }),
  z.array(z.union([z.strictObject({ value: z.string().max(1024) }), z.strictObject({ id: z.string().max(64) })])).max(100),
]);
export type CustomFieldValue = z.infer<typeof CustomFieldValueSchema>;

export const CustomFieldsSchema = z
  .record(FieldIdSchema, CustomFieldValueSchema)
  .describe(
    'Other fields by field id (customfield_10016) or display name (Story Points). Checked against the policy exactly like named fields.',
  );

export const UserSchema = z.strictObject({ account_id: z.string().nullable(), display_name: z.string().nullable() }).nullable();

/**
 * One issue for the model: its key (which names its project) and the fields it asked for (or the readable
 * defaults) that have a value. No numeric id, no project or type it did not ask for.
 */
export const IssueOutputSchema = z.strictObject({
  key: z.string(),
  fields: z.record(z.string(), z.unknown()),
  /** Fields the model would have been shown but the read policy withholds; absent when there are none. */
  withheld_fields: z.array(z.string()).optional(),
});
export type IssueOutput = z.infer<typeof IssueOutputSchema>;

/** A search hit: the key and exactly the fields asked for (or the readable defaults), nothing else. */
export const SearchHitSchema = z.strictObject({ key: z.string(), fields: z.record(z.string(), z.unknown()) });
export type SearchHit = z.infer<typeof SearchHitSchema>;

export const CommentOutputSchema = z.strictObject({
  id: z.string(),
  author: UserSchema,
  created: z.string().nullable(),
  updated: z.string().nullable(),
  body_markdown: z.string(),
  /** Shown only when the WPC lets restricted comments through: who in Jira may see this comment. */
  visibility: z.strictObject({ type: z.string(), value: z.string().nullable() }).optional(),
});
export type CommentOutput = z.infer<typeof CommentOutputSchema>;

/** Text-bearing ADF fields are turned into Markdown for the model. */
const RICH_TEXT = new Set(['description', 'environment']);

export function projectOf(issue: Issue): string | undefined {
  const project = issue.fields?.project;
  if (project && typeof project === 'object' && 'key' in project && typeof project.key === 'string') return project.key;
  return undefined;
}

export function issueTypeOf(issue: Issue): string | undefined {
  const type = issue.fields?.issuetype;
  if (type && typeof type === 'object' && 'name' in type && typeof type.name === 'string') return type.name;
  return undefined;
}

export function simplifyUser(value: unknown): z.infer<typeof UserSchema> {
  if (!value || typeof value !== 'object') return null;
  const user = value as { accountId?: unknown; displayName?: unknown };
  return {
    account_id: typeof user.accountId === 'string' ? user.accountId : null,
    display_name: typeof user.displayName === 'string' ? user.displayName : null,
  };
}

/**
 * Fields that embed other issues (with their summary, status, type...). Those issues may live in projects the
 * policy hides, so only their key is passed on: the model can ask for the issue itself, and the gate decides.
 */
const ISSUE_REFERENCE_FIELDS = new Set(['parent', 'subtasks', 'issuelinks']);

function issueKeysOnly(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(issueKeysOnly);
  if (value && typeof value === 'object') {
    const record = value as { key?: unknown; data?: { key?: unknown }; type?: { name?: unknown }; inwardIssue?: unknown; outwardIssue?: unknown };
    if (typeof record.key === 'string') return { key: record.key };
    // A Parent Link (Advanced Roadmaps) wraps the issue in `data`.
    if (typeof record.data?.key === 'string') return { key: record.data.key };
    // An issue link: its type, and the linked issue's key.
    const linked = (record.inwardIssue ?? record.outwardIssue) as { key?: unknown } | undefined;
    return {
      ...(typeof record.type?.name === 'string' ? { type: record.type.name } : {}),
      ...(linked && typeof linked.key === 'string' ? { key: linked.key } : {}),
    };
  }
  // An issue picker may hold a bare key.
  if (typeof value === 'string' && /^[A-Z][A-Z0-9_]*-[1-9][0-9]*$/.test(value)) return { key: value };
  return null;
}

/**
 * A field value as the model reads it: ADF becomes Markdown, users and named objects are simplified. A field
 * that references other issues (`referencesIssue`: parent, links, or a custom field whose schema says so) is
 * reduced to their keys.
 */
export function presentValue(field: string, value: unknown, referencesIssue = ISSUE_REFERENCE_FIELDS.has(field)): unknown {
  if (value === null || value === undefined) return null;
  if (referencesIssue) return issueKeysOnly(value);
  if ((RICH_TEXT.has(field) || isAdf(value)) && typeof value === 'object') return adfToMarkdown(value);
  if (Array.isArray(value)) return value.map((item) => presentValue(field, item));
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if ('accountId' in record) return simplifyUser(record);
    if (typeof record.key === 'string' && typeof record.name === 'string') return { key: record.key, name: record.name };
    if (typeof record.name === 'string') return record.name;
    if (typeof record.value === 'string') return record.value;
  }
  return value;
}

function isAdf(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'doc';
}

/** One readable field as the model sees it; the catalogue says which custom fields reference issues. */
function presentField(field: string, value: unknown, ctx: ToolContext): unknown {
  if (field === 'comment') return presentCommentField(value, ctx);
  return presentValue(field, value, ISSUE_REFERENCE_FIELDS.has(field) || ctx.fields.referencesIssues(field));
}

/**
 * The fields the model asked for (`asked`, or the tool's defaults `expected`), each only if the read policy
 * lets the model see it and it has a value: the gate's own control fields (project, issue type) are not passed
 * on unless asked, and a field with no value (null, an empty list) is left out rather than spelled `null`.
 * `withheld_fields` names the hidden ones among those, only when there are any: a fact about the policy, the
 * same for every issue, never whether this issue has a value there.
 */
export function presentIssue(issue: Issue, ctx: ToolContext, expected: readonly string[] = [], asked?: readonly string[]): IssueOutput {
  const shown = [...new Set(asked ?? expected)];
  const withheld = shown.filter((field) => !isFieldReadable(field, ctx.wpc)).sort();
  return { key: issue.key, fields: readableValues(issue, shown, ctx), ...(withheld.length > 0 ? { withheld_fields: withheld } : {}) };
}

/**
 * A search hit carries the key and the fields asked for, nothing else: no id, project or type unless asked
 * (the key names the project), and no list of withheld fields (asking for a hidden one is refused, and the
 * defaults leave hidden ones out).
 */
export function presentHit(issue: Issue, asked: readonly string[], ctx: ToolContext): SearchHit {
  // Belt and braces: the decision already refused a hidden field, so the readable check only guards a mistake.
  return { key: issue.key, fields: readableValues(issue, asked, ctx) };
}

/** Each named field the read policy lets the model see and that has a value, presented for the model. */
function readableValues(issue: Issue, names: readonly string[], ctx: ToolContext): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const field of names) {
    if (!isFieldReadable(field, ctx.wpc)) continue;
    const value = presentField(field, issue.fields?.[field], ctx);
    if (!hasValue(value)) continue;
    fields[field] = value;
  }
  return fields;
}

/** Null and the empty list are "no value": the model is not told `null` field by field. */
function hasValue(value: unknown): boolean {
  return value !== null && !(Array.isArray(value) && value.length === 0);
}

/**
 * Comments as the model reads them. One with a Jira `visibility` restriction (a role or a group) is withheld
 * unless the WPC sets `allow.restricted_comments`; then it is shown with its restriction, so the model can tell
 * it must not repeat it where everyone reads. Withheld comments are left out without a count: how many there
 * are is itself about them.
 */
export function presentComments(comments: readonly Comment[], ctx: ToolContext): CommentOutput[] {
  const show = showsRestrictedComments(ctx.wpc);
  return comments.flatMap((comment) => {
    const visibility = visibilityOf(comment);
    if (visibility && !show) return [];
    return [
      {
        id: comment.id,
        author: simplifyUser(comment.author),
        created: comment.created ?? null,
        updated: comment.updated ?? null,
        body_markdown: adfToMarkdown(comment.body),
        ...(visibility ? { visibility } : {}),
      },
    ];
  });
}

/**
 * A comment's restriction, if any. Anything present but unreadable counts as a restriction (fail closed): a
 * comment is shown unrestricted only when Jira says nothing about its visibility.
 */
function visibilityOf(comment: Comment): { type: string; value: string | null } | undefined {
  const raw = (comment as { visibility?: unknown }).visibility;
  if (raw === undefined || raw === null) return undefined;
  const record = raw && typeof raw === 'object' ? (raw as { type?: unknown; value?: unknown; identifier?: unknown }) : {};
  const value = typeof record.value === 'string' ? record.value : typeof record.identifier === 'string' ? record.identifier : null;
  return { type: typeof record.type === 'string' ? record.type : 'unknown', value };
}

/** The `comment` field of an issue (a page of comments) reads like jira_get_comments, restrictions included. */
function presentCommentField(value: unknown, ctx: ToolContext): unknown {
  if (value === null || value === undefined) return null;
  const page = value as { comments?: unknown };
  return Array.isArray(page.comments) ? presentComments(page.comments as Comment[], ctx) : null;
}

/**
 * Resolve an issue's real project and type from Jira. The key the model sent is only a lookup handle: a moved
 * issue keeps answering under its old key, so `ENG-7` may live in SEC now, and the policy must see SEC.
 */
export async function resolveIssue(
  ctx: ToolContext,
  key: string,
  extraFields: readonly string[] = [],
): Promise<{ issue: Issue; target: TargetFacts }> {
  const issue = await ctx.jira.getIssue(key, { fields: [...new Set(['project', 'issuetype', ...extraFields])] });
  const project = projectOf(issue);
  if (project === undefined) throw GateDenied.target('TARGET_UNRESOLVED', `Jira did not say which project ${key} belongs to`);
  const issueType = issueTypeOf(issue);
  return {
    issue,
    target: {
      project,
      ...(issueType !== undefined ? { issueType } : {}),
      issueKeys: [...new Set([key, issue.key])],
      ...(typeof issue.id === 'string' && /^\d+$/.test(issue.id) ? { issueId: issue.id } : {}),
    },
  };
}

export const readAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true } as const;
