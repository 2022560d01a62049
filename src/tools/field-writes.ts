import { z } from 'zod';
import { markdownToAdf } from '../jira/adf/index.js';
import { GateDenied } from '../gate/denial.js';
import type { ToolContext } from '../gate/tool.js';
import type { FieldChange } from '../receipts/types.js';
import type { Issue } from '../jira/types.js';
import { CustomFieldsSchema, presentValue, type CustomFieldValue } from './common.js';

/**
 * The typed fields a model may set on an issue. Each maps to exactly one Jira field id; anything else goes
 * through `custom_fields`, keyed by id or name, and is checked by the same field rules.
 */
export const NamedFieldsShape = {
  summary: z.string().min(1).max(255).optional().describe('One-line title'),
  description: z.string().max(32_768).optional().describe('Markdown; converted to Atlassian Document Format'),
  labels: z.array(z.string().regex(/^\S{1,255}$/, 'labels have no spaces')).max(50).optional().describe('Replaces all labels'),
  components: z.array(z.string().min(1).max(255)).max(20).optional().describe('Component names; replaces all components'),
  priority: z.string().min(1).max(64).optional().describe('Priority name, e.g. High'),
  duedate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD').nullable().optional().describe('Due date YYYY-MM-DD, or null'),
  custom_fields: CustomFieldsSchema.optional(),
} as const;

const NamedFields = z.object(NamedFieldsShape);
export type NamedFields = z.infer<typeof NamedFields>;

/** Fields that place or classify an issue; never accepted through `custom_fields`. */
const STRUCTURAL_FIELDS: readonly string[] = ['project', 'issuetype', 'parent', 'status', 'issuekey', 'key'];

export interface FieldWrite {
  /** Jira `fields` body, by field id. */
  fields: Record<string, unknown>;
  /** Jira `update` operations (label add/remove). */
  update: Record<string, Array<Record<string, unknown>>>;
  /** Every field id the write touches, through any path: what the policy checks. */
  touched: string[];
  /** What each touched field should read as afterwards, for the silent-no-op check; absent when unknown. */
  expected: Record<string, unknown>;
}

/**
 * Normalise named fields, custom fields (ids or names) and label operations into one Jira write and the list
 * of field ids it touches. The same field named twice (e.g. `summary` and `custom_fields.summary`) is refused:
 * which one Jira would apply is not ours to guess.
 */
export async function buildFieldWrite(
  input: NamedFields & { labels_add?: string[] | undefined; labels_remove?: string[] | undefined },
  ctx: ToolContext,
): Promise<FieldWrite> {
  const fields: Record<string, unknown> = {};
  const update: FieldWrite['update'] = {};
  const expected: Record<string, unknown> = {};
  const touched: string[] = [];
  const touch = (id: string) => {
    if (touched.includes(id)) {
      throw GateDenied.target('INPUT_INVALID', `field '${id}' is set twice in one call`, id);
    }
    touched.push(id);
  };
  if (input.summary !== undefined) {
    touch('summary');
    fields.summary = input.summary;
    expected.summary = input.summary;
  }
  if (input.description !== undefined) {
    touch('description');
    fields.description = markdownToAdf(input.description);
    expected.description = presentValue('description', fields.description);
  }
  if (input.labels !== undefined) {
    if (input.labels_add || input.labels_remove) {
      throw GateDenied.target('INPUT_INVALID', 'use labels, or labels_add/labels_remove, not both', 'labels');
    }
    touch('labels');
    fields.labels = input.labels;
    expected.labels = [...input.labels].sort();
  } else if (input.labels_add || input.labels_remove) {
    touch('labels');
    update.labels = [
      ...(input.labels_add ?? []).map((label) => ({ add: label })),
      ...(input.labels_remove ?? []).map((label) => ({ remove: label })),
    ];
  }
  if (input.components !== undefined) {
    touch('components');
    fields.components = input.components.map((name) => ({ name }));
    expected.components = [...input.components].sort();
  }
  if (input.priority !== undefined) {
    touch('priority');
    fields.priority = { name: input.priority };
    expected.priority = input.priority;
  }
  if (input.duedate !== undefined) {
    touch('duedate');
    fields.duedate = input.duedate;
    expected.duedate = input.duedate;
  }
  for (const [key, value] of Object.entries(input.custom_fields ?? {})) {
    // An unknown name stays as written: it matches no allowlist entry, so the policy denies it.
    const id = (await ctx.fields.resolve(key, ctx)) ?? key;
    if (STRUCTURAL_FIELDS.includes(id)) {
      // These decide where the issue lives and what it is: the gate checks them from the tool's own
      // parameters (and from Jira), so a second, unchecked route to them is refused.
      throw GateDenied.target('INPUT_INVALID', `field '${id}' cannot be set through custom_fields`, id);
    }
    touch(id);
    fields[id] = customValue(id, value, ctx);
    expected[id] = presentValue(id, fields[id]);
  }
  return { fields, update, touched, expected };
}

function customValue(id: string, value: CustomFieldValue, ctx: ToolContext): unknown {
  return typeof value === 'string' && ctx.fields.isRichText(id) ? markdownToAdf(value) : value;
}

function comparable(field: string, value: unknown): string {
  const presented = presentValue(field, value);
  return JSON.stringify(Array.isArray(presented) ? [...presented].map((v) => JSON.stringify(v)).sort() : presented);
}

function comparableExpected(value: unknown): string {
  return JSON.stringify(Array.isArray(value) ? [...value].map((v) => JSON.stringify(v)).sort() : value);
}

/**
 * Before and after of every touched field, from the issue as Jira returns it before the write and on a fresh
 * read after it. `applied` is false when a field that should have changed did not: Jira said 204 but the
 * value is the old one (a silent no-op).
 */
export function compareWrite(
  key: string,
  write: Pick<FieldWrite, 'touched' | 'expected'>,
  before: Issue,
  after: Issue,
): { changes: FieldChange[]; applied: boolean } {
  const changes: FieldChange[] = [];
  let applied = true;
  for (const field of write.touched) {
    const was = before.fields?.[field] ?? null;
    const now = after.fields?.[field] ?? null;
    changes.push({ issue: key, field, before: was, after: now });
    const changed = comparable(field, was) !== comparable(field, now);
    const shouldChange = field in write.expected ? comparableExpected(write.expected[field]) !== comparable(field, was) : true;
    if (shouldChange && !changed) applied = false;
  }
  return { changes, applied };
}
