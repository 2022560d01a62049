import { STATUS_BY_ID, WORKFLOWS, transitionScreen, type ProjectDef, type TransitionDef } from '../catalog.js';
import type { SimIssue } from '../model.js';
import { fieldMetadata } from './fieldmeta.js';
import { statusRef } from './refs.js';

export function transitionsOf(project: ProjectDef): readonly TransitionDef[] {
  return WORKFLOWS[project.workflow].transitions;
}

/** Transitions the workflow offers from the issue's current status. */
export function availableTransitions(project: ProjectDef, issue: SimIssue): TransitionDef[] {
  return transitionsOf(project).filter((t) => t.from.includes(issue.statusId));
}

export function presentTransition(
  base: string,
  project: ProjectDef,
  issue: SimIssue,
  transition: TransitionDef,
  withFields: boolean,
): Record<string, unknown> {
  const to = STATUS_BY_ID.get(transition.to);
  const fields: Record<string, unknown> = {};
  if (withFields && transition.hasScreen) {
    for (const field of transitionScreen(project, issue.typeId)) fields[field.fieldId] = fieldMetadata(base, project, field);
  }
  return {
    id: transition.id,
    name: transition.name,
    ...(to ? { to: statusRef(base, to) } : {}),
    hasScreen: transition.hasScreen,
    isGlobal: false,
    isInitial: false,
    isAvailable: true,
    isConditional: false,
    isLooped: false,
    ...(withFields ? { fields } : {}),
  };
}
