import type { Scope } from '../cst/scope.js';
import type { Operation } from '../wpc/operations.js';
import type { Wpc } from '../wpc/schema.js';
import { effectiveIssueTypes, effectiveOperations, effectiveProjects } from './effective.js';
import { checkFieldWrite, isFieldReadable, isFieldWritable, showsRestrictedComments } from './fields.js';
import type { Reason, ReasonCode } from './reasons.js';

export { ALLOW_CODES, DENY_CODES, type Reason, type ReasonCode } from './reasons.js';

// The queries the gate, the tools, review and `cst issue` ask of a policy, beside the decision they agree with.
export { effectiveIssueTypes, effectiveOperations, effectiveProjects, isFieldReadable, isFieldWritable, showsRestrictedComments };

/**
 * The policy decision: a pure function of (request, WPC, token scope). No I/O, no clock, no state, so the
 * bundle verifier can re-run it months later on the recorded request and must get the recorded answer.
 *
 * Semantics, after Cedar: every applicable forbid is collected; any forbid denies (deny beats allow);
 * otherwise every dimension of the request needs a permit, and anything not permitted is denied (default
 * deny). Reasons are sorted, so the result never depends on the order of lists in the policy or the request.
 * A dimension the request leaves unresolved (no project, no issue type) denies only when nothing resolved
 * does: a call refused for its operation was never looked up, so "project unknown" did not decide it.
 */
export interface DecisionRequest {
  operation: Operation;
  /** The project the call really touches, resolved from Jira (never parsed from an issue key). */
  project?: string;
  /** The issue type, resolved from Jira for existing issues; the requested one for creates. */
  issueType?: string;
  /** Field ids the call writes, through any path (fields, update operations, transition screens). */
  fieldsWrite?: string[];
  /** Field ids the call asks to read, and for a search every field its JQL names (clauses and ORDER BY). */
  fieldsRead?: string[];
  /** For a search: the projects its JQL was confined to. Each must be readable; none at all is a denial. */
  projects?: string[];
  /** For a search: the issue types its JQL names (`issuetype = Bug`); each must be allowed when types are constrained. */
  issueTypes?: string[];
  /** For a create with a parent: the parent's project, resolved from Jira. It must be one the call may touch. */
  parentProject?: string;
  /** For a search: the confined JQL sent to Jira. Not an input to the decision: recorded so an auditor sees what was asked. */
  jql?: string;
}

export type Effect = 'allow' | 'deny';

export interface Decision {
  effect: Effect;
  reasons: Reason[];
}


/** Operations whose target is a project (all but listing projects and searching, which are confined by JQL). */
const UNSCOPED_OPERATIONS: readonly Operation[] = ['issue.search', 'project.read'];

function isProjectScoped(operation: Operation, request: DecisionRequest): boolean {
  return !UNSCOPED_OPERATIONS.includes(operation) || request.project !== undefined;
}

export function decide(request: DecisionRequest, wpc: Wpc, scope?: Scope): Decision {
  const denies: Reason[] = [];
  const unresolved: Reason[] = [];
  const permits: Reason[] = [];
  const op = request.operation;

  // Operation.
  if (wpc.deny.operations.includes(op)) denies.push({ code: 'OPERATION_DENIED', rule: `deny.operations[${op}]` });
  if (wpc.allow.operations.includes(op)) permits.push({ code: 'OPERATION_ALLOWED', rule: `allow.operations[${op}]` });
  else denies.push({ code: 'OPERATION_NOT_ALLOWED', rule: 'allow.operations' });
  if (scope && !scope.operations.includes(op)) {
    denies.push({ code: 'SCOPE_OPERATION_NOT_GRANTED', rule: 'cst.scope.operations' });
  }

  // Project: a project-scoped operation with no resolved project is denied, never waved through.
  if (isProjectScoped(op, request)) {
    const project = request.project;
    if (project === undefined) {
      unresolved.push({ code: 'PROJECT_UNKNOWN', rule: 'allow.projects' });
    } else {
      checkProject(project, wpc, scope, denies, permits);
    }
  }
  // A search's projects: the set its JQL is confined to. An empty set would mean an unconfined query.
  if (request.projects !== undefined) {
    if (request.projects.length === 0) denies.push({ code: 'PROJECT_NOT_ALLOWED', rule: 'allow.projects' });
    for (const project of unique(request.projects)) checkProject(project, wpc, scope, denies, permits);
  }
  // The parent of a created issue is touched too: it must be in a project the call may touch.
  const parent = request.parentProject;
  if (parent !== undefined) {
    if (effectiveProjects(wpc, scope).includes(parent)) permits.push({ code: 'PROJECT_ALLOWED', rule: `allow.projects[${parent}](parent)` });
    else denies.push({ code: 'PROJECT_NOT_ALLOWED', rule: 'allow.projects(parent)' });
  }

  // Issue type: only constrained when the policy or the token names issue types.
  const typeRules = wpc.allow.issue_types;
  if (typeRules !== undefined || scope?.issue_types !== undefined) {
    const type = request.issueType;
    if (type === undefined) {
      if (isProjectScoped(op, request)) unresolved.push({ code: 'ISSUE_TYPE_UNKNOWN', rule: 'allow.issue_types' });
    } else {
      checkIssueType(type, '', wpc, scope, denies, permits);
    }
    // A search is confined to the visible types; naming a hidden one (even to exclude it) is refused, and
    // with no visible type at all there is nothing to search.
    if (request.projects !== undefined && effectiveIssueTypes(wpc, scope)?.length === 0) {
      denies.push({ code: 'ISSUE_TYPE_NOT_ALLOWED', rule: 'allow.issue_types' });
    }
    for (const named of unique(request.issueTypes)) checkIssueType(named, `(${named})`, wpc, scope, denies, permits);
  }

  // Fields written, each on its own: one bad field denies the whole call.
  for (const field of unique(request.fieldsWrite)) checkFieldWrite(field, wpc, scope, denies, permits);

  // Fields read: absent allow.fields_read means every field but the read denylist.
  for (const field of unique(request.fieldsRead)) {
    if (!isFieldReadable(field, wpc)) {
      denies.push(
        wpc.deny.fields_read.includes(field)
          ? { code: 'FIELD_READ_DENIED', rule: `deny.fields_read[${field}]` }
          : { code: 'FIELD_READ_NOT_ALLOWED', rule: `allow.fields_read(${field})` },
      );
    } else if (wpc.allow.fields_read !== undefined) {
      permits.push({ code: 'FIELD_READ_ALLOWED', rule: `allow.fields_read[${field}]` });
    }
  }

  if (denies.length > 0) return { effect: 'deny', reasons: sortReasons(denies) };
  if (unresolved.length > 0) return { effect: 'deny', reasons: sortReasons(unresolved) };
  return { effect: 'allow', reasons: sortReasons(permits) };
}

/** One project, checked against the WPC and the token. */
function checkProject(project: string, wpc: Wpc, scope: Scope | undefined, denies: Reason[], permits: Reason[]): void {
  if (wpc.deny.projects.includes(project)) denies.push({ code: 'PROJECT_DENIED', rule: `deny.projects[${project}]` });
  if (wpc.allow.projects.includes(project)) {
    permits.push({ code: 'PROJECT_ALLOWED', rule: `allow.projects[${project}]` });
  } else {
    denies.push({ code: 'PROJECT_NOT_ALLOWED', rule: 'allow.projects' });
  }
  if (scope && !scope.projects.includes(project)) {
    denies.push({ code: 'SCOPE_PROJECT_NOT_GRANTED', rule: 'cst.scope.projects' });
  }
}

/** One issue type, when the WPC or the token constrains types. `role` names a type a search's JQL names. */
function checkIssueType(type: string, role: string, wpc: Wpc, scope: Scope | undefined, denies: Reason[], permits: Reason[]): void {
  const typeRules = wpc.allow.issue_types;
  if (typeRules !== undefined) {
    if (typeRules.includes(type)) permits.push({ code: 'ISSUE_TYPE_ALLOWED', rule: `allow.issue_types[${type}]` });
    else denies.push({ code: 'ISSUE_TYPE_NOT_ALLOWED', rule: `allow.issue_types${role}` });
  }
  if (scope?.issue_types !== undefined && !scope.issue_types.includes(type)) {
    denies.push({ code: 'SCOPE_ISSUE_TYPE_NOT_GRANTED', rule: `cst.scope.issue_types${role}` });
  }
}

const OPERATION_CODES: readonly ReasonCode[] = ['OPERATION_DENIED', 'OPERATION_NOT_ALLOWED', 'SCOPE_OPERATION_NOT_GRANTED'];

/** True when a decision refuses the operation itself, whatever the target: no need to ask Jira anything. */
export function deniesOperation(decision: Decision): boolean {
  return decision.effect === 'deny' && decision.reasons.some((reason) => OPERATION_CODES.includes(reason.code));
}

function unique(values: readonly string[] | undefined): string[] {
  return values === undefined ? [] : [...new Set(values)];
}

/**
 * The order reasons are reported in, most fundamental first: the first one is the call's headline code.
 * A fixed order (not the order rules were met) keeps the result independent of list order.
 */
const REASON_ORDER: readonly ReasonCode[] = [
  'OPERATION_DENIED',
  'OPERATION_NOT_ALLOWED',
  'SCOPE_OPERATION_NOT_GRANTED',
  'PROJECT_DENIED',
  'PROJECT_NOT_ALLOWED',
  'PROJECT_UNKNOWN',
  'SCOPE_PROJECT_NOT_GRANTED',
  'ISSUE_TYPE_NOT_ALLOWED',
  'ISSUE_TYPE_UNKNOWN',
  'SCOPE_ISSUE_TYPE_NOT_GRANTED',
  'FIELD_WRITE_DENIED',
  'FIELD_WRITE_NOT_ALLOWED',
  'SCOPE_FIELD_NOT_GRANTED',
  'FIELD_READ_DENIED',
  'FIELD_READ_NOT_ALLOWED',
  'OPERATION_ALLOWED',
  'PROJECT_ALLOWED',
  'ISSUE_TYPE_ALLOWED',
  'FIELD_WRITE_ALLOWED',
  'FIELD_READ_ALLOWED',
];

function sortReasons(reasons: Reason[]): Reason[] {
  const seen = new Set<string>();
  return reasons
    .filter((reason) => {
      const key = `${reason.code}\u0000${reason.rule}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) =>
      a.code === b.code ? compare(a.rule, b.rule) : REASON_ORDER.indexOf(a.code) - REASON_ORDER.indexOf(b.code),
    );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
