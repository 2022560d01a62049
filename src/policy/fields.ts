import type { Scope } from '../cst/scope.js';
import type { Operation } from '../wpc/operations.js';
import type { Wpc } from '../wpc/schema.js';
import type { Reason } from './reasons.js';

/**
 * The field rules: decide() applies them to a request; the tools (what to show, what to call writable) and
 * review (what an outcome wrote) ask the same rules one field at a time.
 */

/** One written field against the WPC and the token: a denial for each rule it breaks, a permit for the allowlist. */
export function checkFieldWrite(field: string, wpc: Wpc, scope: Scope | undefined, denies: Reason[], permits: Reason[]): void {
  if (wpc.deny.fields_write_denylist.includes(field)) {
    denies.push({ code: 'FIELD_WRITE_DENIED', rule: `deny.fields_write_denylist[${field}]` });
  }
  if (wpc.allow.fields_write_allowlist.includes(field)) {
    permits.push({ code: 'FIELD_WRITE_ALLOWED', rule: `allow.fields_write_allowlist[${field}]` });
  } else {
    denies.push({ code: 'FIELD_WRITE_NOT_ALLOWED', rule: `allow.fields_write_allowlist(${field})` });
  }
  if (scope?.fields_write !== undefined && !scope.fields_write.includes(field)) {
    denies.push({ code: 'SCOPE_FIELD_NOT_GRANTED', rule: `cst.scope.fields_write(${field})` });
  }
}

/** Whether the WPC and the token let a call write a field: the same rules decide() applies, as one answer. */
export function isFieldWritable(field: string, wpc: Wpc, scope?: Scope): boolean {
  const denies: Reason[] = [];
  checkFieldWrite(field, wpc, scope, denies, []);
  return denies.length === 0;
}

/**
 * Fields an operation writes by its nature, decided as the operation or its target rather than as fields: a
 * create's project and type, a transition's status (and what Jira sets with it), a comment, an assignee.
 */
export const INHERENT_WRITE_FIELDS: Partial<Record<Operation, readonly string[]>> = {
  'workflow.transition': ['status', 'resolution', 'statuscategorychangedate'],
  'issue.assign': ['assignee'],
  'issue.comment.create': ['comment'],
  'issue.create': ['project', 'issuetype'],
};

/**
 * Whether a call of `operation` may have written `field`: a denylisted field never; a field the operation
 * writes by its nature needs no allowlist entry; any other needs the allowlist (and the token, when given).
 */
export function fieldWriteVerdict(operation: Operation, field: string, wpc: Wpc, scope?: Scope): 'allowed' | 'denied' | 'not_allowed' {
  if (wpc.deny.fields_write_denylist.includes(field)) return 'denied';
  if ((INHERENT_WRITE_FIELDS[operation] ?? []).includes(field)) return 'allowed';
  return isFieldWritable(field, wpc, scope) ? 'allowed' : 'not_allowed';
}

/** Whether the WPC lets the model see a field. Used to filter read results after Jira answers. */
export function isFieldReadable(field: string, wpc: Wpc): boolean {
  if (wpc.deny.fields_read.includes(field)) return false;
  return wpc.allow.fields_read === undefined || wpc.allow.fields_read.includes(field);
}

/**
 * Whether comments with a Jira `visibility` restriction (a role or a group) may reach the model. Off unless the
 * WPC says `allow.restricted_comments: true`: Jira restricted them for a reason the agent's audience may not share.
 */
export function showsRestrictedComments(wpc: Wpc): boolean {
  return wpc.allow.restricted_comments === true;
}
