/** How each JQL field reads an issue, resolves operand values and sorts. */
import { adfToText } from '../adf.js';
import {
  CUSTOM_FIELDS,
  ISSUE_TYPES,
  PRIORITIES,
  PROJECTS,
  RESOLUTIONS,
  STATUSES,
  STATUS_BY_ID,
  TYPE_BY_ID,
  RESOLUTION_BY_ID,
  type CustomFieldDef,
} from '../catalog.js';
import type { CustomValue, SimIssue } from '../model.js';
import type { SimStore } from '../store.js';
import { allUsers, hasAccess, userById } from '../users.js';

export interface JqlContext {
  readonly store: SimStore;
  readonly accountId: string;
  readonly now: number;
}

/** Resolved operand values; `empty` stands for EMPTY (and resolution "Unresolved"). */
export type Resolved = { readonly ids: readonly string[]; readonly empty: boolean } | null;

interface BaseSpec {
  /** Sort key for ORDER BY; absent when Jira cannot sort by the field. */
  readonly sort?: (issue: SimIssue, ctx: JqlContext) => string | number | null;
}

export interface EnumSpec extends BaseSpec {
  readonly kind: 'enum';
  readonly values: (issue: SimIssue, ctx: JqlContext) => readonly string[];
  /** null when the value does not exist (for this user). */
  readonly resolve: (value: string, ctx: JqlContext) => Resolved;
  readonly functions?: Readonly<Record<string, (ctx: JqlContext) => readonly string[]>>;
  /** Accepts any value (labels). */
  readonly free?: boolean;
}

export interface KeySpec extends BaseSpec {
  readonly kind: 'key';
  readonly values: (issue: SimIssue) => readonly string[];
}

export interface TextSpec extends BaseSpec {
  readonly kind: 'text';
  readonly texts: (issue: SimIssue) => readonly string[];
}

export interface DateSpec extends BaseSpec {
  readonly kind: 'date';
  readonly time: (issue: SimIssue) => number | null;
}

export interface NumberSpec extends BaseSpec {
  readonly kind: 'number';
  readonly num: (issue: SimIssue) => number | null;
}

export type FieldSpec = EnumSpec | KeySpec | TextSpec | DateSpec | NumberSpec;

const lower = (s: string): string => s.toLowerCase();

function visibleProjects(ctx: JqlContext): typeof PROJECTS {
  return PROJECTS.filter((p) => hasAccess(ctx.accountId, p.key, 'browse'));
}

function named<T extends { id: string; name: string }>(items: readonly T[], value: string): string[] {
  const v = lower(value);
  return items.filter((i) => i.id === value || lower(i.name) === v).map((i) => i.id);
}

function nonEmpty(ids: string[]): Resolved {
  return ids.length > 0 ? { ids, empty: false } : null;
}

function resolveUser(value: string): Resolved {
  const v = lower(value);
  const user = allUsers().find((u) => u.accountId === value || lower(u.email) === v || lower(u.displayName) === v);
  return user ? { ids: [user.accountId], empty: false } : null;
}

function userSpec(read: (i: SimIssue) => string | null): EnumSpec {
  return {
    kind: 'enum',
    values: (i) => {
      const id = read(i);
      return id ? [id] : [];
    },
    resolve: resolveUser,
    functions: { currentuser: (ctx) => [ctx.accountId] },
    sort: (i) => {
      const id = read(i);
      return id ? lower(userById(id)?.displayName ?? id) : null;
    },
  };
}

function issueNumber(key: string): number {
  return Number(key.slice(key.lastIndexOf('-') + 1));
}

function fullText(issue: SimIssue): string[] {
  const texts = [issue.summary, adfToText(issue.description), ...issue.comments.map((c) => adfToText(c.body))];
  for (const def of CUSTOM_FIELDS) {
    const value = issue.custom[def.id];
    if (def.kind === 'text' && typeof value === 'string') texts.push(value);
    if (def.kind === 'textarea' && typeof value === 'object' && 'type' in value) texts.push(adfToText(value));
  }
  return texts;
}

function customSpec(def: CustomFieldDef): FieldSpec {
  const read = (i: SimIssue): CustomValue | undefined => i.custom[def.id];
  switch (def.kind) {
    case 'number':
      return {
        kind: 'number',
        num: (i) => {
          const v = read(i);
          return typeof v === 'number' ? v : null;
        },
        sort: (i) => {
          const v = read(i);
          return typeof v === 'number' ? v : null;
        },
      };
    case 'select': {
      const options = def.options ?? [];
      const optionOf = (i: SimIssue): string | null => {
        const v = read(i);
        return typeof v === 'object' && 'optionId' in v ? v.optionId : null;
      };
      return {
        kind: 'enum',
        values: (i) => {
          const id = optionOf(i);
          return id ? [id] : [];
        },
        resolve: (value) => nonEmpty(options.filter((o) => o.id === value || lower(o.value) === lower(value)).map((o) => o.id)),
        sort: (i) => {
          const id = optionOf(i);
          return id ? options.findIndex((o) => o.id === id) : null;
        },
      };
    }
    case 'text':
      return {
        kind: 'text',
        texts: (i) => {
          const v = read(i);
          return typeof v === 'string' ? [v] : [];
        },
        sort: (i) => {
          const v = read(i);
          return typeof v === 'string' ? lower(v) : null;
        },
      };
    case 'textarea':
      return {
        kind: 'text',
        texts: (i) => {
          const v = read(i);
          return typeof v === 'object' && 'type' in v ? [adfToText(v)] : [];
        },
      };
    case 'issue':
      return {
        kind: 'enum',
        values: (i) => {
          const v = read(i);
          return typeof v === 'object' && 'issueId' in v ? [v.issueId] : [];
        },
        resolve: (value, ctx) => {
          const target = ctx.store.find(value);
          return target && ctx.store.can(ctx.accountId, target, 'browse') ? { ids: [target.id], empty: false } : null;
        },
      };
  }
}

const KEY_SPEC: KeySpec = {
  kind: 'key',
  values: (i) => [i.id],
  sort: (i) => `${i.projectKey}-${String(issueNumber(i.key)).padStart(10, '0')}`,
};

const DATE = (read: (i: SimIssue) => number | null): DateSpec => ({ kind: 'date', time: read, sort: read });

const dueTime = (i: SimIssue): number | null => (i.dueDate ? Date.parse(`${i.dueDate}T00:00:00Z`) : null);

const STATUS_ORDER = STATUSES.map((s) => s.id);

const SPECS: ReadonlyMap<string, FieldSpec> = new Map<string, FieldSpec>([
  [
    'project',
    {
      kind: 'enum',
      values: (i) => [i.projectKey],
      resolve: (value, ctx) =>
        nonEmpty(visibleProjects(ctx).filter((p) => p.id === value || lower(p.key) === lower(value) || lower(p.name) === lower(value)).map((p) => p.key)),
      sort: (i) => i.projectKey,
    },
  ],
  ...(['issuetype', 'type'] as const).map(
    (name): [string, FieldSpec] => [
      name,
      {
        kind: 'enum',
        values: (i) => [i.typeId],
        resolve: (value) => nonEmpty(named(ISSUE_TYPES, value)),
        functions: {
          standardissuetypes: () => ISSUE_TYPES.filter((t) => !t.subtask).map((t) => t.id),
          subtaskissuetypes: () => ISSUE_TYPES.filter((t) => t.subtask).map((t) => t.id),
        },
        sort: (i) => lower(TYPE_BY_ID.get(i.typeId)?.name ?? ''),
      },
    ],
  ),
  ['status', { kind: 'enum', values: (i) => [i.statusId], resolve: (v) => nonEmpty(named(STATUSES, v)), sort: (i) => STATUS_ORDER.indexOf(i.statusId) }],
  [
    'statuscategory',
    {
      kind: 'enum',
      values: (i) => [STATUS_BY_ID.get(i.statusId)?.category.key ?? ''],
      resolve: (value) => {
        const v = lower(value);
        const keys = [...new Set(STATUSES.map((s) => s.category))]
          .filter((c) => lower(c.name) === v || c.key === v || String(c.id) === value)
          .map((c) => c.key);
        return nonEmpty(keys);
      },
    },
  ],
  [
    'priority',
    {
      kind: 'enum',
      values: (i) => [i.priorityId],
      resolve: (v) => nonEmpty(named(PRIORITIES, v)),
      // DESC puts Highest first, as in Jira.
      sort: (i) => PRIORITIES.length - PRIORITIES.findIndex((p) => p.id === i.priorityId),
    },
  ],
  [
    'resolution',
    {
      kind: 'enum',
      values: (i) => (i.resolutionId ? [i.resolutionId] : []),
      resolve: (value) => (lower(value) === 'unresolved' ? { ids: [], empty: true } : nonEmpty(named(RESOLUTIONS, value))),
      sort: (i) => (i.resolutionId ? lower(RESOLUTION_BY_ID.get(i.resolutionId)?.name ?? '') : null),
    },
  ],
  [
    'component',
    {
      kind: 'enum',
      values: (i) => i.componentIds,
      resolve: (value, ctx) => nonEmpty(visibleProjects(ctx).flatMap((p) => named(p.components, value))),
    },
  ],
  ['labels', { kind: 'enum', values: (i) => i.labels.map(lower), resolve: (v) => ({ ids: [lower(v)], empty: false }), free: true }],
  ['assignee', userSpec((i) => i.assigneeId)],
  ['reporter', userSpec((i) => i.reporterId)],
  ['creator', userSpec((i) => i.creatorId)],
  [
    'parent',
    {
      kind: 'enum',
      values: (i) => (i.parentId ? [i.parentId] : []),
      resolve: (value, ctx) => {
        const target = ctx.store.find(value);
        return target && ctx.store.can(ctx.accountId, target, 'browse') ? { ids: [target.id], empty: false } : null;
      },
    },
  ],
  ...(['key', 'issuekey', 'issue', 'id'] as const).map((name): [string, FieldSpec] => [name, KEY_SPEC]),
  ['rank', { kind: 'number', num: (i) => Number(i.id), sort: (i) => Number(i.id) }],
  ['summary', { kind: 'text', texts: (i) => [i.summary], sort: (i) => lower(i.summary) }],
  ['description', { kind: 'text', texts: (i) => (i.description ? [adfToText(i.description)] : []) }],
  ['comment', { kind: 'text', texts: (i) => i.comments.map((c) => adfToText(c.body)) }],
  ['text', { kind: 'text', texts: fullText }],
  ...(['created', 'createddate'] as const).map((n): [string, FieldSpec] => [n, DATE((i) => i.created)]),
  ...(['updated', 'updateddate'] as const).map((n): [string, FieldSpec] => [n, DATE((i) => i.updated)]),
  ...(['resolved', 'resolutiondate'] as const).map((n): [string, FieldSpec] => [n, DATE((i) => i.resolutionDate)]),
  ...(['due', 'duedate'] as const).map((n): [string, FieldSpec] => [n, DATE(dueTime)]),
  ['statuscategorychangeddate', DATE((i) => i.statusCategoryChangeDate)],
  ...CUSTOM_FIELDS.flatMap((def): [string, FieldSpec][] => {
    const spec = customSpec(def);
    return [
      [`cf[${def.numericId}]`, spec],
      [lower(def.name), spec],
      [def.id, spec],
    ];
  }),
]);

export function fieldSpec(name: string): FieldSpec | undefined {
  return SPECS.get(lower(name));
}

