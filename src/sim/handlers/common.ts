import { PROJECT_BY_KEY, type ProjectDef } from '../catalog.js';
import { isRecord, queryList, type SimRequest } from '../http/context.js';
import { BODY_NOT_AN_OBJECT, badBody, issueNotFound, jiraError } from '../http/errors.js';
import type { SimIssue } from '../model.js';
import type { Access } from '../users.js';

/**
 * The issue named by `{issueIdOrKey}` (id, key or former key). Jira answers an issue the caller
 * cannot browse exactly like a missing one (404); lacking a further permission is a 403.
 */
export function loadIssue(req: SimRequest, needed: Access = 'browse', denied = 'You do not have permission to perform this operation.'): SimIssue {
  const issue = req.store.find(req.params['issueIdOrKey'] ?? '');
  if (!issue || !req.store.can(req.user.accountId, issue, 'browse')) throw issueNotFound();
  if (needed !== 'browse' && !req.store.can(req.user.accountId, issue, needed)) throw jiraError(403, denied);
  return issue;
}

export function projectOf(issue: SimIssue): ProjectDef {
  const project = PROJECT_BY_KEY.get(issue.projectKey);
  if (!project) throw new Error(`issue ${issue.key} in unknown project ${issue.projectKey}`);
  return project;
}

export function expandOf(req: SimRequest): Set<string> {
  return new Set(queryList(req.query, 'expand'));
}

/** The request body as an object; Jira refuses other JSON values with its payload message. */
export function objectBody(req: SimRequest): Record<string, unknown> {
  if (!isRecord(req.body)) throw badBody(BODY_NOT_AN_OBJECT);
  return req.body;
}

/** Standard `startAt`/`maxResults` page bounds; Jira clamps negatives to the floor. */
export function pageBounds(startAt: number, maxResults: number, cap: number): { start: number; size: number } {
  return { start: Math.max(0, startAt), size: Math.min(Math.max(0, maxResults), cap) };
}
