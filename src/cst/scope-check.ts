import type { Wpc } from '../wpc/schema.js';
import type { Scope } from './scope.js';

/**
 * What a scope grants that the WPC does not: each entry names the dimension and the value. Empty means the
 * scope fits inside the policy.
 */
export function scopeExcess(scope: Scope, wpc: Wpc): string[] {
  const excess: string[] = [];
  for (const op of scope.operations) {
    if (!wpc.allow.operations.includes(op) || wpc.deny.operations.includes(op)) excess.push(`operation ${op}`);
  }
  for (const project of scope.projects) {
    if (!wpc.allow.projects.includes(project) || wpc.deny.projects.includes(project)) excess.push(`project ${project}`);
  }
  for (const field of scope.fields_write ?? []) {
    if (!wpc.allow.fields_write_allowlist.includes(field) || wpc.deny.fields_write_denylist.includes(field)) {
      excess.push(`field ${field}`);
    }
  }
  if (wpc.allow.issue_types !== undefined) {
    for (const type of scope.issue_types ?? []) {
      if (!wpc.allow.issue_types.includes(type)) excess.push(`issue type ${type}`);
    }
  }
  return excess;
}
