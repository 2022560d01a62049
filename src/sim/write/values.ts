/**
 * The writable part of an issue, and how requests change it: field validation, the `fields` /
 * `update` operations, and the history items a change produces. Shared by create, edit and
 * transition, so a field is checked the same way on every path.
 */
import { adfProblem, adfToText, type AdfDoc } from '../adf.js';
import {
  CUSTOM_BY_ID,
  PRIORITIES,
  PRIORITY_BY_ID,
  RESOLUTIONS,
  RESOLUTION_BY_ID,
  TYPE,
  TYPE_BY_ID,
  componentOf,
  findNamed,
  type ProjectDef,
  type ScreenField,
} from '../catalog.js';
import { ADF_REQUIRED, STRING_REQUIRED } from '../http/errors.js';
import { isRecord } from '../http/context.js';
import type { ChangeItem, CustomValue, SimIssue } from '../model.js';
import { fieldNameOf } from '../present/fieldmeta.js';
import type { SimStore } from '../store.js';
import { hasAccess, userById } from '../users.js';

export interface IssueValues {
  summary: string;
  description: AdfDoc | null;
  labels: string[];
  componentIds: string[];
  priorityId: string;
  assigneeId: string | null;
  reporterId: string;
  dueDate: string | null;
  parentId: string | null;
  resolutionId: string | null;
  custom: Record<string, CustomValue>;
}

export function valuesOf(issue: SimIssue): IssueValues {
  return {
    summary: issue.summary,
    description: issue.description,
    labels: [...issue.labels],
    componentIds: [...issue.componentIds],
    priorityId: issue.priorityId,
    assigneeId: issue.assigneeId,
    reporterId: issue.reporterId,
    dueDate: issue.dueDate,
    parentId: issue.parentId,
    resolutionId: issue.resolutionId,
    custom: { ...issue.custom },
  };
}

export interface WriteContext {
  readonly store: SimStore;
  readonly project: ProjectDef;
  readonly typeId: string;
  /** The issue being edited (undefined on create). */
  readonly issueId?: string;
  /** Who is writing: parents must be visible to them. */
  readonly actorId: string;
}

export interface WriteInput {
  readonly fields?: unknown;
  readonly update?: unknown;
}

export interface WritePlan {
  readonly errors: Record<string, string>;
  readonly next: IssueValues;
  /** Comments added through `update.comment` (edit and transition screens accept them). */
  readonly comments: AdfDoc[];
}

const MULTI_VALUE = new Set(['labels', 'components']);

export const notOnScreen = (fieldId: string): string => `Field '${fieldId}' cannot be set. It is not on the appropriate screen, or unknown.`;

type OpResult = string | null;

function userFor(ctx: WriteContext, value: unknown, field: 'assignee' | 'reporter'): { id: string | null } | string {
  if (value === null) return { id: null };
  if (!isRecord(value)) return 'data was not an object';
  const accountId = value['accountId'] ?? value['id'];
  if (accountId === null || accountId === undefined) return { id: null };
  if (typeof accountId !== 'string') return STRING_REQUIRED;
  if (field === 'assignee' && accountId === '-1') return { id: null };
  const user = userById(accountId);
  if (field === 'assignee') {
    if (!user || !user.active || !hasAccess(accountId, ctx.project.key, 'browse')) return `User '${accountId}' cannot be assigned issues.`;
  } else if (!user) {
    return 'The reporter specified is not a user.';
  }
  return { id: accountId };
}

function labelProblem(label: unknown): string | null {
  if (typeof label !== 'string') return 'Specify the value for labels in an array of strings';
  if (label.trim() === '') return 'Labels cannot be empty.';
  if (/\s/.test(label)) return `The label '${label}' contains spaces which is invalid.`;
  if (label.length > 255) return 'The label must not exceed 255 characters.';
  return null;
}

function componentId(ctx: WriteContext, value: unknown): string | { error: string } {
  if (!isRecord(value)) return { error: 'data was not an object' };
  const id = value['id'];
  const name = value['name'];
  if (id !== undefined) {
    const found = componentOf(ctx.project, { id: String(id) });
    return found ? found.id : { error: `Component with id '${String(id)}' does not exist.` };
  }
  if (typeof name === 'string') {
    const found = componentOf(ctx.project, { name });
    return found ? found.id : { error: `Component name '${name}' is not valid` };
  }
  return { error: 'data was not an object' };
}

function parentFor(ctx: WriteContext, value: unknown): { id: string | null } | string {
  if (value === null) return { id: null };
  if (!isRecord(value)) return 'data was not an object';
  if (value['none'] === true) return { id: null };
  const ref = value['key'] ?? value['id'];
  if (typeof ref !== 'string' && typeof ref !== 'number') return 'Could not find issue by id or key.';
  const parent = ctx.store.find(String(ref));
  if (!parent || !ctx.store.can(ctx.actorId, parent, 'browse')) return 'Could not find issue by id or key.';
  if (parent.id === ctx.issueId) return 'An issue cannot be its own parent.';
  const parentType = TYPE_BY_ID.get(parent.typeId);
  const ok = ctx.typeId === TYPE.subtask ? parentType !== undefined && !parentType.subtask && parentType.hierarchyLevel === 0 : parent.typeId === TYPE.epic;
  if (!ok) return 'Given parent work item does not belong to appropriate hierarchy.';
  if (ctx.typeId === TYPE.subtask && parent.projectKey !== ctx.project.key) return 'Sub-tasks must be created in the same project as the parent.';
  return { id: parent.id };
}

function customFor(ctx: WriteContext, fieldId: string, value: unknown): { value: CustomValue | null } | string {
  const def = CUSTOM_BY_ID.get(fieldId);
  if (!def) return notOnScreen(fieldId);
  if (value === null) return { value: null };
  switch (def.kind) {
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? { value } : 'Operation value must be a number';
    case 'text':
      if (typeof value !== 'string') return STRING_REQUIRED;
      if (value.length > 255) return 'The entered text is too long. It exceeds the allowed limit of 255 characters.';
      return { value };
    case 'textarea':
      return adfProblem(value) === null ? { value: value as AdfDoc } : ADF_REQUIRED;
    case 'select': {
      if (!isRecord(value)) return 'Could not find valid \'id\' or \'value\' in the Parent Option object.';
      const option = value['id'] !== undefined
        ? def.options?.find((o) => o.id === String(value['id']))
        : def.options?.find((o) => o.value.toLowerCase() === String(value['value'] ?? '').toLowerCase());
      if (!option) return value['id'] !== undefined ? `Option id '${String(value['id'])}' is not valid` : `Option value '${String(value['value'] ?? '')}' is not valid`;
      return { value: { optionId: option.id } };
    }
    case 'issue': {
      // An issue key (or id), as a string or `{ key }`; the issue must be visible to the writer.
      const ref = isRecord(value) ? (value['key'] ?? value['id']) : value;
      const target = typeof ref === 'string' || typeof ref === 'number' ? ctx.store.find(String(ref)) : undefined;
      if (!target || !ctx.store.can(ctx.actorId, target, 'browse')) return 'Could not find issue by id or key.';
      return { value: { issueId: target.id } };
    }
  }
}

/** Applies one operation to the draft; returns an error message or null. */
function applyOp(ctx: WriteContext, draft: IssueValues, fieldId: string, op: string, value: unknown): OpResult {
  if (!MULTI_VALUE.has(fieldId) && op !== 'set') return `Field '${fieldId}' does not support operation '${op}'.`;
  if (!['set', 'add', 'remove'].includes(op)) return `Field '${fieldId}' does not support operation '${op}'.`;
  switch (fieldId) {
    case 'summary': {
      if (typeof value !== 'string') return value === null ? 'You must specify a summary of the issue.' : STRING_REQUIRED;
      if (value.trim() === '') return 'You must specify a summary of the issue.';
      if (value.length > 255) return 'Summary must be less than 255 characters.';
      if (/[\r\n]/.test(value)) return 'The summary is invalid because it contains newline characters.';
      draft.summary = value;
      return null;
    }
    case 'description':
      if (value !== null && adfProblem(value) !== null) return ADF_REQUIRED;
      draft.description = value as AdfDoc | null;
      return null;
    case 'labels': {
      if (op === 'set') {
        if (value === null) {
          draft.labels = [];
          return null;
        }
        if (!Array.isArray(value)) return 'data was not an array';
        for (const label of value) {
          const problem = labelProblem(label);
          if (problem) return problem;
        }
        draft.labels = [...new Set(value as string[])].sort();
        return null;
      }
      const problem = labelProblem(value);
      if (problem) return problem;
      const label = value as string;
      draft.labels = op === 'add' ? [...new Set([...draft.labels, label])].sort() : draft.labels.filter((l) => l !== label);
      return null;
    }
    case 'components': {
      if (op === 'set') {
        if (value === null) {
          draft.componentIds = [];
          return null;
        }
        if (!Array.isArray(value)) return 'data was not an array';
        const ids: string[] = [];
        for (const item of value) {
          const id = componentId(ctx, item);
          if (typeof id !== 'string') return id.error;
          ids.push(id);
        }
        draft.componentIds = [...new Set(ids)].sort();
        return null;
      }
      const id = componentId(ctx, value);
      if (typeof id !== 'string') return id.error;
      draft.componentIds = op === 'add' ? [...new Set([...draft.componentIds, id])].sort() : draft.componentIds.filter((c) => c !== id);
      return null;
    }
    case 'priority': {
      if (!isRecord(value)) return 'data was not an object';
      const found = findNamed(PRIORITIES, value);
      if (!found) return 'The priority selected is invalid.';
      draft.priorityId = found.id;
      return null;
    }
    case 'resolution': {
      if (value === null) {
        draft.resolutionId = null;
        return null;
      }
      if (!isRecord(value)) return 'data was not an object';
      const found = findNamed(RESOLUTIONS, value);
      if (!found) return 'The resolution selected is invalid.';
      draft.resolutionId = found.id;
      return null;
    }
    case 'assignee':
    case 'reporter': {
      const user = userFor(ctx, value, fieldId);
      if (typeof user === 'string') return user;
      if (fieldId === 'assignee') draft.assigneeId = user.id;
      else {
        if (user.id === null) return 'Reporter is required.';
        draft.reporterId = user.id;
      }
      return null;
    }
    case 'duedate': {
      if (value === null) {
        draft.dueDate = null;
        return null;
      }
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
        return `Error parsing date string: ${String(value)}`;
      }
      draft.dueDate = value;
      return null;
    }
    case 'parent': {
      const parent = parentFor(ctx, value);
      if (typeof parent === 'string') return parent;
      draft.parentId = parent.id;
      return null;
    }
    default: {
      const custom = customFor(ctx, fieldId, value);
      if (typeof custom === 'string') return custom;
      if (custom.value === null) delete draft.custom[fieldId];
      else draft.custom[fieldId] = custom.value;
      return null;
    }
  }
}

function isEmptyValue(values: IssueValues, fieldId: string): boolean {
  switch (fieldId) {
    case 'summary':
      return values.summary.trim() === '';
    case 'description':
      return values.description === null;
    case 'labels':
      return values.labels.length === 0;
    case 'components':
      return values.componentIds.length === 0;
    case 'assignee':
      return values.assigneeId === null;
    case 'duedate':
      return values.dueDate === null;
    case 'parent':
      return values.parentId === null;
    case 'resolution':
      return values.resolutionId === null;
    case 'priority':
    case 'reporter':
    case 'project':
    case 'issuetype':
      return false;
    default:
      return values.custom[fieldId] === undefined;
  }
}

function requiredMessage(fieldId: string): string {
  if (fieldId === 'summary') return 'You must specify a summary of the issue.';
  if (fieldId === 'parent') return 'Issue type is a sub-task but parent issue key or id not specified.';
  return `${fieldNameOf(fieldId)} is required.`;
}

/**
 * Plans a write. `fields` sets values, `update` applies operations; the same field in both is
 * refused, and every field must be on `screen`. `skip` lists fields the caller handles itself
 * (project and issue type on create). `checkRequired` applies the screen's required fields.
 */
export function planWrite(
  ctx: WriteContext,
  input: WriteInput,
  screen: readonly ScreenField[],
  current: IssueValues,
  options: { skip?: readonly string[]; checkRequired: 'all' | 'touched'; allowComment: boolean },
): WritePlan {
  const errors: Record<string, string> = {};
  const draft: IssueValues = { ...current, labels: [...current.labels], componentIds: [...current.componentIds], custom: { ...current.custom } };
  const comments: AdfDoc[] = [];
  const skip = new Set(options.skip ?? []);
  const onScreen = new Map(screen.map((f) => [f.fieldId, f]));

  const fields = input.fields === undefined || input.fields === null ? {} : input.fields;
  const update = input.update === undefined || input.update === null ? {} : input.update;
  if (!isRecord(fields)) return { errors: { fields: 'data was not an object' }, next: draft, comments };
  if (!isRecord(update)) return { errors: { update: 'data was not an object' }, next: draft, comments };

  const touched = new Set<string>();
  for (const fieldId of Object.keys(fields)) {
    if (skip.has(fieldId)) continue;
    if (fieldId in update) {
      errors[fieldId] = `Field '${fieldId}' cannot appear in both 'fields' and 'update'`;
      continue;
    }
    if (!onScreen.has(fieldId)) {
      errors[fieldId] = notOnScreen(fieldId);
      continue;
    }
    touched.add(fieldId);
    const problem = applyOp(ctx, draft, fieldId, 'set', fields[fieldId]);
    if (problem) errors[fieldId] = problem;
  }
  for (const [fieldId, ops] of Object.entries(update)) {
    if (skip.has(fieldId) || errors[fieldId]) continue;
    if (fieldId === 'comment' && options.allowComment) {
      if (!Array.isArray(ops)) {
        errors[fieldId] = 'data was not an array';
        continue;
      }
      for (const op of ops) {
        const body = isRecord(op) && isRecord(op['add']) ? op['add']['body'] : undefined;
        if (body === undefined || adfProblem(body) !== null) {
          errors['comment'] = body === undefined ? 'Comment body can not be empty!' : ADF_REQUIRED;
          break;
        }
        if (adfToText(body as AdfDoc).trim() === '') {
          errors['comment'] = 'Comment body can not be empty!';
          break;
        }
        comments.push(body as AdfDoc);
      }
      continue;
    }
    if (!onScreen.has(fieldId)) {
      errors[fieldId] = notOnScreen(fieldId);
      continue;
    }
    if (!Array.isArray(ops)) {
      errors[fieldId] = 'data was not an array';
      continue;
    }
    touched.add(fieldId);
    for (const op of ops) {
      if (!isRecord(op) || Object.keys(op).length !== 1) {
        errors[fieldId] = 'Each operation must be an object with exactly one of set, add, remove.';
        break;
      }
      const [name, value] = Object.entries(op)[0] as [string, unknown];
      const problem = applyOp(ctx, draft, fieldId, name, value);
      if (problem) {
        errors[fieldId] = problem;
        break;
      }
    }
  }
  for (const field of screen) {
    if (!field.required || skip.has(field.fieldId) || errors[field.fieldId]) continue;
    if (options.checkRequired === 'touched' && !touched.has(field.fieldId)) continue;
    if (isEmptyValue(draft, field.fieldId)) errors[field.fieldId] = requiredMessage(field.fieldId);
  }
  return { errors, next: draft, comments };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function userName(id: string | null): string | null {
  return id ? (userById(id)?.displayName ?? id) : null;
}

function customDisplay(fieldId: string, value: CustomValue | undefined): { raw: string | null; text: string | null } {
  if (value === undefined) return { raw: null, text: null };
  const def = CUSTOM_BY_ID.get(fieldId);
  if (typeof value === 'object' && 'optionId' in value) {
    return { raw: value.optionId, text: def?.options?.find((o) => o.id === value.optionId)?.value ?? null };
  }
  if (typeof value === 'object' && 'issueId' in value) return { raw: value.issueId, text: null };
  if (typeof value === 'object') return { raw: null, text: adfToText(value) };
  return { raw: null, text: String(value) };
}

/** History items for the differences between two value sets (Jira's changelog shape). */
export function diffValues(store: SimStore, project: ProjectDef, before: IssueValues, after: IssueValues): ChangeItem[] {
  const items: ChangeItem[] = [];
  const item = (field: string, fieldId: string, from: string | null, fromString: string | null, to: string | null, toString: string | null, fieldtype: 'jira' | 'custom' = 'jira'): void => {
    items.push({ field, fieldtype, fieldId, from, fromString, to, toString });
  };
  if (before.summary !== after.summary) item('summary', 'summary', null, before.summary, null, after.summary);
  if (!same(before.description, after.description)) item('description', 'description', null, adfToText(before.description) || null, null, adfToText(after.description) || null);
  if (!same(before.labels, after.labels)) item('labels', 'labels', null, before.labels.join(' ') || null, null, after.labels.join(' ') || null);
  if (!same(before.componentIds, after.componentIds)) {
    const names = (ids: string[]): string | null => ids.map((id) => project.components.find((c) => c.id === id)?.name ?? id).join(', ') || null;
    item('Component', 'components', before.componentIds.join(',') || null, names(before.componentIds), after.componentIds.join(',') || null, names(after.componentIds));
  }
  if (before.priorityId !== after.priorityId) {
    item('priority', 'priority', before.priorityId, PRIORITY_BY_ID.get(before.priorityId)?.name ?? null, after.priorityId, PRIORITY_BY_ID.get(after.priorityId)?.name ?? null);
  }
  if (before.assigneeId !== after.assigneeId) item('assignee', 'assignee', before.assigneeId, userName(before.assigneeId), after.assigneeId, userName(after.assigneeId));
  if (before.reporterId !== after.reporterId) item('reporter', 'reporter', before.reporterId, userName(before.reporterId), after.reporterId, userName(after.reporterId));
  if (before.dueDate !== after.dueDate) item('duedate', 'duedate', before.dueDate, before.dueDate, after.dueDate, after.dueDate);
  if (before.parentId !== after.parentId) {
    const key = (id: string | null): string | null => (id ? (store.byId(id)?.key ?? id) : null);
    item('Parent', 'parent', before.parentId, key(before.parentId), after.parentId, key(after.parentId));
  }
  if (before.resolutionId !== after.resolutionId) {
    const name = (id: string | null): string | null => (id ? (RESOLUTION_BY_ID.get(id)?.name ?? id) : null);
    item('resolution', 'resolution', before.resolutionId, name(before.resolutionId), after.resolutionId, name(after.resolutionId));
  }
  const customIds = [...new Set([...Object.keys(before.custom), ...Object.keys(after.custom)])].sort();
  for (const fieldId of customIds) {
    const a = before.custom[fieldId];
    const b = after.custom[fieldId];
    if (same(a, b)) continue;
    const from = customDisplay(fieldId, a);
    const to = customDisplay(fieldId, b);
    item(fieldNameOf(fieldId), fieldId, from.raw, from.text, to.raw, to.text, 'custom');
  }
  return items;
}

/** Writes planned values onto the issue. */
export function assignValues(issue: SimIssue, values: IssueValues): void {
  issue.summary = values.summary;
  issue.description = values.description;
  issue.labels = values.labels;
  issue.componentIds = values.componentIds;
  issue.priorityId = values.priorityId;
  issue.assigneeId = values.assigneeId;
  issue.reporterId = values.reporterId;
  issue.dueDate = values.dueDate;
  issue.parentId = values.parentId;
  issue.resolutionId = values.resolutionId;
  issue.custom = values.custom;
}
