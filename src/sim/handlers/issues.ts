/** Issue get, create, edit and delete. */
import { ISSUE_TYPES, STATUS, createScreen, editScreen, findNamed, projectByIdOrKey } from '../catalog.js';
import { isRecord, noContent, ok, queryBool, queryList, type SimRequest, type SimResponse } from '../http/context.js';
import { errorCollection, fieldErrors, JiraHttpError, jiraError } from '../http/errors.js';
import type { SimIssue } from '../model.js';
import { presentIssue, selectFields } from '../present/issue.js';
import { hasAccess } from '../users.js';
import { assignValues, diffValues, planWrite, valuesOf, type IssueValues } from '../write/values.js';
import { expandOf, loadIssue, objectBody, projectOf } from './common.js';
import { addComments } from './comments.js';

export function getIssue(req: SimRequest): SimResponse {
  const issue = loadIssue(req);
  const selection = selectFields(queryList(req.query, 'fields'), '*all', '*all');
  return ok(presentIssue(req.baseUrl, req.store, req.user.accountId, issue, { selection, expand: expandOf(req), namesInBean: true }));
}

const DEFAULT_PRIORITY = '3';

export function createIssue(req: SimRequest): SimResponse {
  const body = objectBody(req);
  if (body['transition'] !== undefined) {
    throw jiraError(400, "The simulator does not support 'transition' on create; create the issue, then transition it.");
  }
  const fields = body['fields'];
  if (!isRecord(fields)) throw fieldErrors(400, { project: 'Specify a valid project ID or key' });

  const projectRef = fields['project'];
  const projectIdOrKey = isRecord(projectRef) ? (projectRef['key'] ?? projectRef['id']) : undefined;
  const project = typeof projectIdOrKey === 'string' || typeof projectIdOrKey === 'number' ? projectByIdOrKey(String(projectIdOrKey)) : undefined;
  if (!project || !hasAccess(req.user.accountId, project.key, 'browse')) throw fieldErrors(400, { project: 'Specify a valid project ID or key' });

  const typeRef = fields['issuetype'];
  if (!isRecord(typeRef)) throw fieldErrors(400, { issuetype: 'Specify an issue type' });
  const type = findNamed(ISSUE_TYPES, typeRef);
  if (!type || !project.issueTypeIds.includes(type.id)) throw fieldErrors(400, { issuetype: 'The issue type selected is invalid.' });

  if (!hasAccess(req.user.accountId, project.key, 'write')) throw jiraError(403, 'You do not have permission to create issues in this project.');

  const initial: IssueValues = {
    summary: '',
    description: null,
    labels: [],
    componentIds: [],
    priorityId: DEFAULT_PRIORITY,
    assigneeId: null,
    reporterId: req.user.accountId,
    dueDate: null,
    parentId: null,
    resolutionId: null,
    custom: {},
  };
  const plan = planWrite(
    { store: req.store, project, typeId: type.id, actorId: req.user.accountId },
    { fields, update: body['update'] },
    createScreen(project, type.id),
    initial,
    { skip: ['project', 'issuetype'], checkRequired: 'all', allowComment: false },
  );
  if (Object.keys(plan.errors).length > 0) throw fieldErrors(400, plan.errors);

  const at = req.store.tick();
  const id = req.store.nextIssueId();
  const key = `${project.key}-${req.store.nextIssueNumber(project.key)}`;
  const issue: SimIssue = {
    id,
    key,
    projectKey: project.key,
    formerKeys: [],
    typeId: type.id,
    summary: plan.next.summary,
    description: plan.next.description,
    statusId: STATUS.todo,
    resolutionId: null,
    resolutionDate: null,
    statusCategoryChangeDate: at,
    priorityId: plan.next.priorityId,
    labels: plan.next.labels,
    componentIds: plan.next.componentIds,
    assigneeId: plan.next.assigneeId,
    reporterId: plan.next.reporterId,
    creatorId: req.user.accountId,
    created: at,
    updated: at,
    dueDate: plan.next.dueDate,
    parentId: plan.next.parentId,
    custom: plan.next.custom,
    comments: [],
    histories: [],
  };
  req.store.addIssue(issue);
  return ok({ id, key, self: `${req.baseUrl}/rest/api/3/issue/${id}` }, 201);
}

export function editIssue(req: SimRequest): SimResponse {
  const issue = loadIssue(req, 'write', 'You do not have permission to edit issues in this project.');
  if (queryBool(req.query, 'overrideScreenSecurity', false) || queryBool(req.query, 'overrideEditableFlag', false)) {
    throw jiraError(403, 'Overriding screen security or the editable flag is only available to Connect and Forge app users with the Administer Jira global permission.');
  }
  const body = objectBody(req);
  const project = projectOf(issue);
  const before = valuesOf(issue);
  const plan = planWrite(
    { store: req.store, project, typeId: issue.typeId, issueId: issue.id, actorId: req.user.accountId },
    { fields: body['fields'], update: body['update'] },
    editScreen(project, issue.typeId),
    before,
    { checkRequired: 'touched', allowComment: true },
  );
  if (Object.keys(plan.errors).length > 0) throw new JiraHttpError(400, errorCollection([], plan.errors));

  const items = diffValues(req.store, project, before, plan.next);
  if (!req.noop && (items.length > 0 || plan.comments.length > 0)) {
    const at = req.store.tick();
    assignValues(issue, plan.next);
    req.store.recordChange(issue, req.user.accountId, at, items);
    addComments(req, issue, plan.comments, at);
  }
  if (queryBool(req.query, 'returnIssue', false)) {
    const selection = selectFields([], '*all', '*all');
    return ok(presentIssue(req.baseUrl, req.store, req.user.accountId, issue, { selection, expand: expandOf(req), namesInBean: true }));
  }
  return noContent;
}

export function deleteIssue(req: SimRequest): SimResponse {
  const issue = loadIssue(req, 'admin', 'You do not have permission to delete issues in this project.');
  const subtasks = req.store.subtasksOf(issue);
  if (subtasks.length > 0 && !queryBool(req.query, 'deleteSubtasks', false)) {
    throw jiraError(400, "The issue has sub-tasks. Set 'deleteSubtasks' to true to delete the issue and its sub-tasks.");
  }
  if (!req.noop) {
    const at = req.store.tick();
    for (const child of req.store.childrenOf(issue)) {
      if (subtasks.includes(child)) continue;
      // Jira unlinks the children of a deleted epic rather than deleting them.
      const before = valuesOf(child);
      const after = { ...before, parentId: null };
      req.store.recordChange(child, req.user.accountId, at, diffValues(req.store, projectOf(child), before, after));
      assignValues(child, after);
    }
    for (const subtask of subtasks) req.store.removeIssue(subtask);
    req.store.removeIssue(issue);
  }
  return noContent;
}
