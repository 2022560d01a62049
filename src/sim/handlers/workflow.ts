/** Transitions (list and perform), assignee and changelog: the write paths besides edit. */
import { STATUS_BY_ID, transitionScreen } from '../catalog.js';
import { isRecord, noContent, ok, queryInt, queryList, type SimRequest, type SimResponse } from '../http/context.js';
import { BODY_NOT_AN_OBJECT, badBody, errorCollection, fieldErrors, JiraHttpError, jiraError } from '../http/errors.js';
import type { ChangeItem } from '../model.js';
import { presentHistory } from '../present/issue.js';
import { availableTransitions, presentTransition } from '../present/transitions.js';
import { hasAccess, userById } from '../users.js';
import { assignValues, diffValues, planWrite, valuesOf } from '../write/values.js';
import { addComments } from './comments.js';
import { loadIssue, pageBounds, projectOf } from './common.js';

export function getTransitions(req: SimRequest): SimResponse {
  const issue = loadIssue(req);
  const project = projectOf(issue);
  const withFields = queryList(req.query, 'expand').includes('transitions.fields');
  const only = req.query.get('transitionId');
  // Jira lists only the transitions the caller may perform.
  const transitions = req.store.can(req.user.accountId, issue, 'write')
    ? availableTransitions(project, issue).filter((t) => only === null || t.id === only)
    : [];
  return ok({ expand: 'transitions', transitions: transitions.map((t) => presentTransition(req.baseUrl, project, issue, t, withFields)) });
}

export function doTransition(req: SimRequest): SimResponse {
  const issue = loadIssue(req, 'write', 'You do not have permission to transition this issue.');
  if (!isRecord(req.body)) throw badBody(BODY_NOT_AN_OBJECT);
  const body = req.body;
  const transitionRef = body['transition'];
  if (!isRecord(transitionRef) || transitionRef['id'] === undefined) throw jiraError(400, "Missing 'transition' identifier");
  const id = transitionRef['id'];
  if ((typeof id !== 'string' && typeof id !== 'number') || !/^\d+$/.test(String(id))) throw jiraError(400, "'transition' identifier must be an integer");
  const project = projectOf(issue);
  const transition = availableTransitions(project, issue).find((t) => t.id === String(id));
  if (!transition) throw jiraError(400, `Transition id '${String(id)}' is not valid for this issue.`);

  const before = valuesOf(issue);
  const plan = planWrite(
    { store: req.store, project, typeId: issue.typeId, issueId: issue.id, actorId: req.user.accountId },
    { fields: body['fields'], update: body['update'] },
    transition.hasScreen ? transitionScreen(project, issue.typeId) : [],
    before,
    { checkRequired: 'all', allowComment: true },
  );
  if (Object.keys(plan.errors).length > 0) throw new JiraHttpError(400, errorCollection([], plan.errors));
  if (req.noop) return noContent;

  const at = req.store.tick();
  const from = STATUS_BY_ID.get(issue.statusId);
  const to = STATUS_BY_ID.get(transition.to);
  const next = { ...plan.next };
  const leavingDone = from?.category.key === 'done' && to?.category.key !== 'done';
  if (leavingDone) next.resolutionId = null;
  const items: ChangeItem[] = [
    { field: 'status', fieldtype: 'jira', fieldId: 'status', from: issue.statusId, fromString: from?.name ?? null, to: transition.to, toString: to?.name ?? null },
    ...diffValues(req.store, project, before, next),
  ];
  assignValues(issue, next);
  issue.statusId = transition.to;
  if (from?.category.key !== to?.category.key) issue.statusCategoryChangeDate = at;
  if (to?.category.key === 'done' && issue.resolutionDate === null) issue.resolutionDate = at;
  if (leavingDone) issue.resolutionDate = null;
  req.store.recordChange(issue, req.user.accountId, at, items);
  addComments(req, issue, plan.comments, at);
  return noContent;
}

export function assignIssue(req: SimRequest): SimResponse {
  const issue = loadIssue(req, 'write', 'You do not have permission to assign issues.');
  const body = req.body;
  if (body !== null && !isRecord(body)) throw badBody(BODY_NOT_AN_OBJECT);
  // `{}` and `{ "accountId": null }` unassign; "-1" picks the project default (unassigned here).
  const raw = body === null ? null : (body['accountId'] ?? null);
  if (raw !== null && typeof raw !== 'string') throw fieldErrors(400, { assignee: 'Operation value must be a string' });
  const accountId: string | null = raw === '-1' ? null : raw;
  if (accountId !== null) {
    const user = userById(accountId);
    if (!user || !user.active || !hasAccess(accountId, issue.projectKey, 'browse')) {
      throw fieldErrors(400, { assignee: `User '${accountId}' cannot be assigned issues.` });
    }
  }
  if (!req.noop && accountId !== issue.assigneeId) {
    const before = valuesOf(issue);
    const after = { ...before, assigneeId: accountId };
    const at = req.store.tick();
    req.store.recordChange(issue, req.user.accountId, at, diffValues(req.store, projectOf(issue), before, after));
    assignValues(issue, after);
  }
  return noContent;
}

export function getChangelog(req: SimRequest): SimResponse {
  const issue = loadIssue(req);
  const { start, size } = pageBounds(queryInt(req, 'startAt', 0), queryInt(req, 'maxResults', 100), 100);
  const values = issue.histories.slice(start, start + size);
  const isLast = start + values.length >= issue.histories.length;
  const self = `${req.baseUrl}/rest/api/3/issue/${issue.key}/changelog?startAt=${start}&maxResults=${size}`;
  return ok({
    self,
    ...(isLast ? {} : { nextPage: `${req.baseUrl}/rest/api/3/issue/${issue.key}/changelog?startAt=${start + values.length}&maxResults=${size}` }),
    maxResults: size,
    startAt: start,
    total: issue.histories.length,
    isLast,
    values: values.map((h) => presentHistory(req.baseUrl, h)),
  });
}
