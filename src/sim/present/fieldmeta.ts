/** Field metadata (createmeta, editmeta, transition screens): what may be set and how. */
import {
  CUSTOM_BY_ID,
  FIELD_BY_ID,
  ISSUE_TYPES,
  PRIORITIES,
  RESOLUTIONS,
  type FieldSchema,
  type ProjectDef,
  type ScreenField,
} from '../catalog.js';
import { componentRef, issueTypeRef, optionRef, priorityRef, projectRef, resolutionRef } from './refs.js';

const OPERATIONS: Record<string, readonly string[]> = {
  labels: ['add', 'set', 'remove'],
  components: ['add', 'set', 'remove'],
  issuetype: [],
};

export function operationsOf(fieldId: string): readonly string[] {
  return OPERATIONS[fieldId] ?? ['set'];
}

export function schemaOf(fieldId: string): FieldSchema {
  return FIELD_BY_ID.get(fieldId)?.schema ?? { type: 'any' };
}

export function fieldNameOf(fieldId: string): string {
  return FIELD_BY_ID.get(fieldId)?.name ?? fieldId;
}

function allowedValues(base: string, project: ProjectDef, fieldId: string): unknown[] | undefined {
  switch (fieldId) {
    case 'project':
      return [projectRef(base, project)];
    case 'issuetype':
      return ISSUE_TYPES.filter((t) => project.issueTypeIds.includes(t.id)).map((t) => issueTypeRef(base, t));
    case 'priority':
      return PRIORITIES.map((x) => priorityRef(base, x));
    case 'resolution':
      return RESOLUTIONS.map((x) => resolutionRef(base, x));
    case 'components':
      return project.components.map((x) => componentRef(base, x));
    default: {
      const custom = CUSTOM_BY_ID.get(fieldId);
      return custom?.options?.map((o) => optionRef(base, o));
    }
  }
}

function autoCompleteUrl(base: string, project: ProjectDef, fieldId: string): string | undefined {
  if (fieldId === 'assignee' || fieldId === 'reporter') return `${base}/rest/api/3/user/assignable/search?project=${project.key}&query=`;
  if (fieldId === 'labels') return `${base}/rest/api/1.0/labels/suggest?query=`;
  if (fieldId === 'parent') return `${base}/rest/api/3/issue/picker?currentProjectId=${project.id}&query=`;
  return undefined;
}

/** FieldMetadata (editmeta and transition screens). */
export function fieldMetadata(base: string, project: ProjectDef, field: ScreenField): Record<string, unknown> {
  const values = allowedValues(base, project, field.fieldId);
  const auto = autoCompleteUrl(base, project, field.fieldId);
  return {
    required: field.required,
    schema: schemaOf(field.fieldId),
    name: fieldNameOf(field.fieldId),
    key: field.fieldId,
    ...(auto ? { autoCompleteUrl: auto } : {}),
    hasDefaultValue: field.fieldId === 'priority',
    operations: [...operationsOf(field.fieldId)],
    ...(values ? { allowedValues: values } : {}),
    ...(field.fieldId === 'priority' ? { defaultValue: priorityRef(base, PRIORITIES[2] ?? { id: '3', name: 'Medium', description: '' }) } : {}),
  };
}

/** FieldCreateMetadata (createmeta per issue type): FieldMetadata plus `fieldId`. */
export function fieldCreateMetadata(base: string, project: ProjectDef, field: ScreenField): Record<string, unknown> {
  return { ...fieldMetadata(base, project, field), fieldId: field.fieldId };
}
