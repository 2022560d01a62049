import type { Scope } from '../cst/scope.js';
import type { Operation } from '../wpc/operations.js';
import type { Wpc } from '../wpc/schema.js';

/**
 * What a policy and a token let a call reach, as sets: the WPC's allow list minus its deny list, intersected
 * with the token's scope. decide() judges one request against the same rules; the gate lists tools, confines
 * JQL and filters results by these sets, and `cst issue` gives a token the widest of them.
 */

/**
 * Projects a call may touch: allowed by the WPC, not denied, and granted by the token. The gate confines JQL
 * to exactly this set and filters results by it.
 */
export function effectiveProjects(wpc: Wpc, scope?: Scope): string[] {
  return wpc.allow.projects
    .filter((project) => !wpc.deny.projects.includes(project))
    .filter((project) => scope === undefined || scope.projects.includes(project))
    .sort();
}

/** Operations a call may perform: the tools listed to the model are exactly these. */
export function effectiveOperations(wpc: Wpc, scope?: Scope): Operation[] {
  return wpc.allow.operations
    .filter((op) => !wpc.deny.operations.includes(op))
    .filter((op) => scope === undefined || scope.operations.includes(op))
    .sort();
}

/**
 * Issue types a call may see: the WPC's list intersected with the token's; undefined when neither names any.
 * A search is confined to these in its JQL and its results are filtered by them.
 */
export function effectiveIssueTypes(wpc: Wpc, scope?: Scope): string[] | undefined {
  const fromWpc = wpc.allow.issue_types;
  const fromToken = scope?.issue_types;
  if (fromWpc === undefined) return fromToken === undefined ? undefined : [...fromToken].sort();
  return fromWpc.filter((type) => fromToken === undefined || fromToken.includes(type)).sort();
}

/**
 * Fields a call may write: the allowlist minus the denylist, intersected with the token's; undefined when the
 * WPC's allowlist is empty (then no token needs a field list: nothing is writable whatever it says).
 */
export function effectiveWritableFields(wpc: Wpc, scope?: Scope): string[] | undefined {
  if (wpc.allow.fields_write_allowlist.length === 0) return undefined;
  return wpc.allow.fields_write_allowlist
    .filter((field) => !wpc.deny.fields_write_denylist.includes(field))
    .filter((field) => scope?.fields_write === undefined || scope.fields_write.includes(field));
}
