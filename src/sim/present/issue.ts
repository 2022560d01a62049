/** IssueBean: the issue as GET issue and the search answer it. */
import { adfToHtml, type AdfDoc } from '../adf.js';
import {
  CUSTOM_BY_ID,
  FIELD_BY_ID,
  ISSUE_FIELD_IDS,
  NAVIGABLE_FIELD_IDS,
  PRIORITY_BY_ID,
  PROJECT_BY_KEY,
  RESOLUTION_BY_ID,
  STATUS_BY_ID,
  TYPE_BY_ID,
  editScreen,
  type ProjectDef,
} from '../catalog.js';
import type { SimComment, SimHistory, SimIssue } from '../model.js';
import type { SimStore } from '../store.js';
import { jiraTime } from '../time.js';
import { fieldMetadata } from './fieldmeta.js';
import {
  componentRef,
  issueTypeRef,
  optionRef,
  priorityRef,
  projectRef,
  resolutionRef,
  statusCategoryRef,
  statusRef,
  userRefById,
} from './refs.js';
import { availableTransitions, presentTransition } from './transitions.js';

export const ISSUE_EXPAND = 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations';

export interface FieldSelection {
  /** Field ids to return, in Jira's order. */
  readonly ids: readonly string[];
  /** The caller asked for ids only (`fields=id`, the search default): the bean is `{ id }`. */
  readonly idOnly: boolean;
  /** `fields=key` (alone or with `id`): the bean carries id and key and no fields. */
  readonly keyOnly: boolean;
}

/**
 * Resolves a `fields` parameter: `*all`, `*navigable`, `-field` exclusions, `id`, `key`, field ids.
 * Unknown field ids are ignored, as Jira does. Only exclusions start from `whenOnlyExclusions`.
 */
export function selectFields(tokens: readonly string[], fallback: '*all' | '*navigable' | 'id', whenOnlyExclusions: '*all' | '*navigable'): FieldSelection {
  const wanted = tokens.length > 0 ? tokens : [fallback];
  const include = new Set<string>();
  const exclude = new Set<string>();
  let positive = false;
  let idAsked = false;
  let keyAsked = false;
  const byLower = new Map(ISSUE_FIELD_IDS.map((id) => [id.toLowerCase(), id]));
  for (const raw of wanted) {
    const token = raw.trim();
    if (token.startsWith('-')) {
      const id = byLower.get(token.slice(1).toLowerCase());
      if (id) exclude.add(id);
      continue;
    }
    positive = true;
    if (token === '*all') ISSUE_FIELD_IDS.forEach((id) => include.add(id));
    else if (token === '*navigable') NAVIGABLE_FIELD_IDS.forEach((id) => include.add(id));
    else if (token.toLowerCase() === 'id') idAsked = true;
    else if (token.toLowerCase() === 'key') keyAsked = true;
    else {
      const id = byLower.get(token.toLowerCase());
      if (id) include.add(id);
    }
  }
  if (!positive) {
    (whenOnlyExclusions === '*all' ? ISSUE_FIELD_IDS : NAVIGABLE_FIELD_IDS).forEach((id) => include.add(id));
  }
  const ids = ISSUE_FIELD_IDS.filter((id) => include.has(id) && !exclude.has(id));
  return { ids, idOnly: ids.length === 0 && idAsked && !keyAsked, keyOnly: ids.length === 0 && keyAsked };
}

/** The short form Jira nests for parents and sub-tasks. */
function issueLink(base: string, issue: SimIssue): Record<string, unknown> {
  const status = STATUS_BY_ID.get(issue.statusId);
  const priority = PRIORITY_BY_ID.get(issue.priorityId);
  const type = TYPE_BY_ID.get(issue.typeId);
  return {
    id: issue.id,
    key: issue.key,
    self: `${base}/rest/api/3/issue/${issue.id}`,
    fields: {
      summary: issue.summary,
      ...(status ? { status: statusRef(base, status) } : {}),
      ...(priority ? { priority: priorityRef(base, priority) } : {}),
      ...(type ? { issuetype: issueTypeRef(base, type) } : {}),
    },
  };
}

export function presentComment(base: string, issue: SimIssue, comment: SimComment, renderedBody = false): Record<string, unknown> {
  return {
    self: `${base}/rest/api/3/issue/${issue.id}/comment/${comment.id}`,
    id: comment.id,
    author: userRefById(base, comment.authorId),
    body: comment.body,
    ...(renderedBody ? { renderedBody: adfToHtml(comment.body) } : {}),
    updateAuthor: userRefById(base, comment.updateAuthorId),
    created: jiraTime(comment.created),
    updated: jiraTime(comment.updated),
    ...(comment.visibility ? { visibility: { ...comment.visibility } } : {}),
    jsdPublic: true,
  };
}

export function presentHistory(base: string, history: SimHistory): Record<string, unknown> {
  return {
    id: history.id,
    author: userRefById(base, history.authorId),
    created: jiraTime(history.created),
    items: history.items.map((item) => ({ ...item })),
  };
}

/** The value of one field of an issue, or undefined when Jira leaves the key out. */
export function fieldValue(base: string, store: SimStore, project: ProjectDef, issue: SimIssue, fieldId: string): unknown {
  switch (fieldId) {
    case 'summary':
      return issue.summary;
    case 'description':
      return issue.description;
    case 'issuetype': {
      const type = TYPE_BY_ID.get(issue.typeId);
      return type ? issueTypeRef(base, type) : null;
    }
    case 'project':
      return projectRef(base, project);
    case 'status': {
      const status = STATUS_BY_ID.get(issue.statusId);
      return status ? statusRef(base, status) : null;
    }
    case 'statusCategory': {
      const status = STATUS_BY_ID.get(issue.statusId);
      return status ? statusCategoryRef(base, status.category) : null;
    }
    case 'priority': {
      const priority = PRIORITY_BY_ID.get(issue.priorityId);
      return priority ? priorityRef(base, priority) : null;
    }
    case 'resolution': {
      const resolution = issue.resolutionId ? RESOLUTION_BY_ID.get(issue.resolutionId) : undefined;
      return resolution ? resolutionRef(base, resolution) : null;
    }
    case 'resolutiondate':
      return issue.resolutionDate === null ? null : jiraTime(issue.resolutionDate);
    case 'labels':
      return [...issue.labels];
    case 'components':
      return issue.componentIds.flatMap((id) => {
        const component = project.components.find((c) => c.id === id);
        return component ? [componentRef(base, component)] : [];
      });
    case 'assignee':
      return userRefById(base, issue.assigneeId);
    case 'reporter':
      return userRefById(base, issue.reporterId);
    case 'creator':
      return userRefById(base, issue.creatorId);
    case 'created':
      return jiraTime(issue.created);
    case 'updated':
      return jiraTime(issue.updated);
    case 'statuscategorychangedate':
      return jiraTime(issue.statusCategoryChangeDate);
    case 'duedate':
      return issue.dueDate;
    case 'parent': {
      const parent = issue.parentId ? store.byId(issue.parentId) : undefined;
      return parent ? issueLink(base, parent) : undefined;
    }
    case 'subtasks':
      return store.subtasksOf(issue).map((s) => issueLink(base, s));
    case 'issuelinks':
      return [];
    case 'comment':
      return {
        comments: issue.comments.map((c) => presentComment(base, issue, c)),
        self: `${base}/rest/api/3/issue/${issue.id}/comment`,
        maxResults: issue.comments.length,
        total: issue.comments.length,
        startAt: 0,
      };
    default: {
      const custom = CUSTOM_BY_ID.get(fieldId);
      if (!custom) return undefined;
      const value = issue.custom[fieldId];
      if (value === undefined) return null;
      if (custom.kind === 'select' && typeof value === 'object' && 'optionId' in value) {
        const option = custom.options?.find((o) => o.id === value.optionId);
        return option ? optionRef(base, option) : null;
      }
      if (typeof value === 'object' && 'issueId' in value) {
        // The shape Jira Cloud gives a Parent Link: the linked issue, summary included, under `data`.
        const target = store.byId(value.issueId);
        if (!target) return null;
        const keyNum = Number(target.key.slice(target.key.lastIndexOf('-') + 1));
        const projectId = PROJECT_BY_KEY.get(target.projectKey)?.id;
        return { hasEpicLinkFieldDependency: false, showField: true, data: { id: Number(target.id), key: target.key, keyNum, summary: target.summary, projectId: Number(projectId) } };
      }
      return value;
    }
  }
}

function renderedValue(fieldId: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  const custom = CUSTOM_BY_ID.get(fieldId);
  if (fieldId === 'description' || custom?.kind === 'textarea') return adfToHtml(value as AdfDoc);
  if (fieldId === 'comment' && typeof value === 'object') {
    const page = value as { comments: { body: AdfDoc }[] };
    return { ...page, comments: page.comments.map((c) => ({ ...c, body: adfToHtml(c.body) })) };
  }
  const schema = FIELD_BY_ID.get(fieldId)?.schema;
  if (schema?.type === 'datetime' && typeof value === 'string') {
    const d = new Date(value.replace('+0000', 'Z'));
    const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
    const hours = d.getUTCHours() % 12 || 12;
    const ampm = d.getUTCHours() < 12 ? 'AM' : 'PM';
    return `${String(d.getUTCDate()).padStart(2, '0')}/${month}/${String(d.getUTCFullYear()).slice(2)} ${hours}:${String(d.getUTCMinutes()).padStart(2, '0')} ${ampm}`;
  }
  // Jira renders only rich text and dates; every other field is null in renderedFields.
  return null;
}

export interface PresentOptions {
  readonly selection: FieldSelection;
  readonly expand: ReadonlySet<string>;
  /** GET issue nests `names`/`schema` in the bean; the search puts them once at top level. */
  readonly namesInBean: boolean;
  /** How many histories `expand=changelog` includes (most recent first). */
  readonly changelogLimit?: number;
}

export function presentIssue(base: string, store: SimStore, accountId: string, issue: SimIssue, options: PresentOptions): Record<string, unknown> {
  const project = PROJECT_BY_KEY.get(issue.projectKey);
  if (!project) throw new Error(`issue ${issue.key} in unknown project ${issue.projectKey}`);
  if (options.selection.idOnly) return { id: issue.id };
  if (options.selection.keyOnly) return { id: issue.id, key: issue.key };
  const fields: Record<string, unknown> = {};
  for (const id of options.selection.ids) {
    const value = fieldValue(base, store, project, issue, id);
    if (value !== undefined) fields[id] = value;
  }
  const bean: Record<string, unknown> = {
    expand: ISSUE_EXPAND,
    id: issue.id,
    self: `${base}/rest/api/3/issue/${issue.id}`,
    key: issue.key,
    fields,
  };
  const { expand } = options;
  if (expand.has('renderedFields')) {
    bean['renderedFields'] = Object.fromEntries(Object.entries(fields).map(([id, value]) => [id, renderedValue(id, value)]));
  }
  if (expand.has('names') && options.namesInBean) bean['names'] = namesOf(Object.keys(fields));
  if (expand.has('schema') && options.namesInBean) bean['schema'] = schemasOf(Object.keys(fields));
  if (expand.has('transitions')) {
    bean['transitions'] = availableTransitions(project, issue).map((t) => presentTransition(base, project, issue, t, false));
  }
  if (expand.has('editmeta')) {
    bean['editmeta'] = store.can(accountId, issue, 'write')
      ? { fields: Object.fromEntries(editScreen(project, issue.typeId).map((f) => [f.fieldId, fieldMetadata(base, project, f)])) }
      : { fields: {} };
  }
  if (expand.has('changelog')) {
    const limit = options.changelogLimit ?? 100;
    const histories = [...issue.histories].reverse().slice(0, limit);
    bean['changelog'] = { startAt: 0, maxResults: histories.length, total: issue.histories.length, histories: histories.map((h) => presentHistory(base, h)) };
  }
  return bean;
}

export function namesOf(fieldIds: Iterable<string>): Record<string, string> {
  const names: Record<string, string> = {};
  for (const id of fieldIds) names[id] = FIELD_BY_ID.get(id)?.name ?? id;
  return names;
}

export function schemasOf(fieldIds: Iterable<string>): Record<string, unknown> {
  const schemas: Record<string, unknown> = {};
  for (const id of fieldIds) {
    const schema = FIELD_BY_ID.get(id)?.schema;
    if (schema) schemas[id] = schema;
  }
  return schemas;
}
