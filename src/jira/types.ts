/**
 * The parts of Jira's responses claw-jira relies on, checked at the boundary (zod). Objects are loose:
 * Jira adds fields freely and callers may read more than is declared here.
 */
import { z } from 'zod';

const fieldsRecord = z.record(z.string(), z.unknown());
const userRef = z.looseObject({ accountId: z.string().optional(), displayName: z.string().optional() });

export const SearchIssueSchema = z.looseObject({
  id: z.string(),
  // The enhanced search returns only `id` unless fields are asked for.
  key: z.string().optional(),
  fields: fieldsRecord.optional(),
});
export const SearchPageSchema = z.looseObject({
  issues: z.array(SearchIssueSchema),
  nextPageToken: z.string().optional(),
  isLast: z.boolean().optional(),
});
export const CountSchema = z.looseObject({ count: z.number() });

export const IssueSchema = z.looseObject({
  id: z.string(),
  key: z.string(),
  self: z.string().optional(),
  fields: fieldsRecord.optional(),
});

export const CommentSchema = z.looseObject({
  id: z.string(),
  body: z.unknown().optional(),
  author: userRef.optional(),
  created: z.string().optional(),
  updated: z.string().optional(),
});
export const CommentsPageSchema = z.looseObject({
  startAt: z.number(),
  maxResults: z.number(),
  total: z.number(),
  comments: z.array(CommentSchema),
});

export const ChangeItemSchema = z.looseObject({
  field: z.string(),
  fieldId: z.string().optional(),
  from: z.string().nullish(),
  fromString: z.string().nullish(),
  to: z.string().nullish(),
});
export const ChangelogSchema = z.looseObject({
  id: z.string(),
  author: userRef.optional(),
  created: z.string().optional(),
  items: z.array(ChangeItemSchema),
});
export const ChangelogPageSchema = z.looseObject({
  startAt: z.number(),
  maxResults: z.number(),
  total: z.number().optional(),
  isLast: z.boolean().optional(),
  values: z.array(ChangelogSchema),
});

export const ProjectSchema = z.looseObject({ id: z.string(), key: z.string(), name: z.string() });
export const ProjectsPageSchema = z.looseObject({
  startAt: z.number(),
  maxResults: z.number(),
  total: z.number().optional(),
  isLast: z.boolean().optional(),
  values: z.array(ProjectSchema),
});

const issueTypeMeta = z.looseObject({ id: z.string(), name: z.string(), subtask: z.boolean().optional() });
/** Jira has sent the list as `issueTypes` and as `createMetaIssueType`; normalised to `issueTypes`. */
export const CreateMetaIssueTypesSchema = z
  .looseObject({
    startAt: z.number().optional(),
    maxResults: z.number().optional(),
    total: z.number().optional(),
    issueTypes: z.array(issueTypeMeta).optional(),
    createMetaIssueType: z.array(issueTypeMeta).optional(),
  })
  .transform(({ createMetaIssueType, issueTypes, ...rest }) => ({ ...rest, issueTypes: issueTypes ?? createMetaIssueType ?? [] }));

export const FieldMetaSchema = z.looseObject({
  fieldId: z.string(),
  key: z.string().optional(),
  name: z.string(),
  required: z.boolean(),
  schema: z.looseObject({ type: z.string() }).optional(),
  operations: z.array(z.string()).optional(),
  allowedValues: z.array(z.unknown()).optional(),
});
/** `fields` (documented) or `results` (also seen); normalised to `fields`. */
export const CreateMetaFieldsSchema = z
  .looseObject({
    startAt: z.number().optional(),
    maxResults: z.number().optional(),
    total: z.number().optional(),
    fields: z.array(FieldMetaSchema).optional(),
    results: z.array(FieldMetaSchema).optional(),
  })
  .transform(({ results, fields, ...rest }) => ({ ...rest, fields: fields ?? results ?? [] }));

export const TransitionSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  to: z.looseObject({ id: z.string().optional(), name: z.string().optional() }).optional(),
  fields: fieldsRecord.optional(),
});
export const TransitionsSchema = z.looseObject({ transitions: z.array(TransitionSchema) });

export const FieldSchema = z.looseObject({
  id: z.string(),
  key: z.string().optional(),
  name: z.string(),
  custom: z.boolean().optional(),
  /** The names JQL accepts for the field (`cf[10033]`, its display name, `type` for issuetype). */
  clauseNames: z.array(z.string()).optional(),
  schema: z.looseObject({ type: z.string(), items: z.string().optional(), custom: z.string().optional() }).optional(),
});
export const FieldsSchema = z.array(FieldSchema);

export const CreatedIssueSchema = z.looseObject({ id: z.string(), key: z.string(), self: z.string().optional() });
export const MyselfSchema = z.looseObject({
  accountId: z.string(),
  displayName: z.string().optional(),
  emailAddress: z.string().optional(),
  active: z.boolean().optional(),
});
export const ServerInfoSchema = z.looseObject({
  baseUrl: z.string().optional(),
  version: z.string().optional(),
  deploymentType: z.string().optional(),
  serverTitle: z.string().optional(),
});
/** 204 No Content (or a body we do not use). */
export const NoContentSchema = z.unknown().transform((): undefined => undefined);

export type SearchIssue = z.infer<typeof SearchIssueSchema>;
export type SearchPage = z.infer<typeof SearchPageSchema>;
export type Count = z.infer<typeof CountSchema>;
export type Issue = z.infer<typeof IssueSchema>;
export type Comment = z.infer<typeof CommentSchema>;
export type CommentsPage = z.infer<typeof CommentsPageSchema>;
export type ChangeItem = z.infer<typeof ChangeItemSchema>;
export type Changelog = z.infer<typeof ChangelogSchema>;
export type ChangelogPage = z.infer<typeof ChangelogPageSchema>;
export type Project = z.infer<typeof ProjectSchema>;
export type ProjectsPage = z.infer<typeof ProjectsPageSchema>;
export type CreateMetaIssueTypes = z.output<typeof CreateMetaIssueTypesSchema>;
export type FieldMeta = z.infer<typeof FieldMetaSchema>;
export type CreateMetaFields = z.output<typeof CreateMetaFieldsSchema>;
export type Transition = z.infer<typeof TransitionSchema>;
export type Transitions = z.infer<typeof TransitionsSchema>;
export type Field = z.infer<typeof FieldSchema>;
export type CreatedIssue = z.infer<typeof CreatedIssueSchema>;
export type Myself = z.infer<typeof MyselfSchema>;
export type ServerInfo = z.infer<typeof ServerInfoSchema>;

// ---- request shapes --------------------------------------------------------------------------

export interface Paging {
  readonly startAt?: number;
  readonly maxResults?: number;
}

export interface SearchJqlParams {
  readonly jql: string;
  readonly fields?: readonly string[];
  readonly maxResults?: number;
  readonly nextPageToken?: string;
  readonly expand?: string | readonly string[];
}

/** Jira's update operations: `{ labels: [{ add: 'x' }], summary: [{ set: 'y' }] }`. */
export type UpdateOperations = Readonly<Record<string, ReadonlyArray<Readonly<Record<string, unknown>>>>>;

export interface IssueWrite {
  readonly fields?: Readonly<Record<string, unknown>>;
  readonly update?: UpdateOperations;
}

export interface CreateIssueInput extends IssueWrite {
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface TransitionInput extends IssueWrite {
  readonly transition: { readonly id: string };
}
