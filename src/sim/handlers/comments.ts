/** Issue comments: list, add, get, delete. */
import { adfProblem, adfToText, type AdfDoc } from '../adf.js';
import { isRecord, noContent, ok, queryInt, queryList, type SimRequest, type SimResponse } from '../http/context.js';
import { ADF_REQUIRED, JiraHttpError, errorCollection, fieldErrors, jiraError } from '../http/errors.js';
import type { SimComment, SimIssue } from '../model.js';
import { presentComment } from '../present/issue.js';
import { loadIssue, objectBody, pageBounds } from './common.js';

const MAX_COMMENT_CHARS = 32_767;

/** Appends comments written by the caller (no-op requests never reach here). */
export function addComments(req: SimRequest, issue: SimIssue, bodies: readonly AdfDoc[], at: number): SimComment[] {
  const added = bodies.map((body): SimComment => ({
    id: req.store.nextCommentId(),
    authorId: req.user.accountId,
    updateAuthorId: req.user.accountId,
    body,
    created: at,
    updated: at,
  }));
  issue.comments.push(...added);
  if (added.length > 0) issue.updated = at;
  return added;
}

export function listComments(req: SimRequest): SimResponse {
  const issue = loadIssue(req);
  const { start, size } = pageBounds(queryInt(req, 'startAt', 0), queryInt(req, 'maxResults', 100), 5000);
  const order = req.query.get('orderBy') ?? '+created';
  if (!['created', '+created', '-created'].includes(order)) {
    throw jiraError(400, `The orderBy parameter must be one of created, +created, -created.`);
  }
  const sorted = order === '-created' ? [...issue.comments].reverse() : issue.comments;
  const rendered = queryList(req.query, 'expand').includes('renderedBody');
  return ok({
    startAt: start,
    maxResults: size,
    total: issue.comments.length,
    comments: sorted.slice(start, start + size).map((c) => presentComment(req.baseUrl, issue, c, rendered)),
  });
}

function visibilityOf(value: unknown): SimComment['visibility'] | null | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value) || (value['type'] !== 'role' && value['type'] !== 'group') || typeof value['value'] !== 'string') return null;
  return { type: value['type'], value: value['value'] };
}

export function addComment(req: SimRequest): SimResponse {
  const issue = loadIssue(req, 'write', 'You do not have the permission to comment on this issue.');
  const body = objectBody(req);
  const doc = body['body'];
  if (doc === undefined || doc === null) throw fieldErrors(400, { comment: 'Comment body can not be empty!' });
  if (adfProblem(doc) !== null) throw fieldErrors(400, { comment: ADF_REQUIRED });
  const text = adfToText(doc as AdfDoc);
  if (text.trim() === '' && JSON.stringify(doc).indexOf('"mention"') < 0) throw fieldErrors(400, { comment: 'Comment body can not be empty!' });
  if (text.length > MAX_COMMENT_CHARS) {
    throw new JiraHttpError(413, errorCollection([`The entered text is too long. It exceeds the allowed limit of ${MAX_COMMENT_CHARS.toLocaleString('en-US')} characters.`]));
  }
  const visibility = visibilityOf(body['visibility']);
  if (visibility === null) throw fieldErrors(400, { visibility: "Visibility must have a 'type' of 'role' or 'group' and a 'value'." });

  let comment: SimComment;
  if (req.noop) {
    // Answer as if created; nothing is stored and no id is consumed.
    const at = req.store.now;
    comment = { id: req.store.peekCommentId(), authorId: req.user.accountId, updateAuthorId: req.user.accountId, body: doc as AdfDoc, created: at, updated: at };
  } else {
    const at = req.store.tick();
    [comment] = addComments(req, issue, [doc as AdfDoc], at) as [SimComment];
  }
  if (visibility) comment.visibility = visibility;
  return ok(presentComment(req.baseUrl, issue, comment), 201);
}

function findComment(req: SimRequest, issue: SimIssue): SimComment {
  const id = req.params['id'] ?? '';
  const comment = issue.comments.find((c) => c.id === id);
  if (!comment) throw jiraError(404, `Can not find a comment for key: ${id}.`);
  return comment;
}

export function getComment(req: SimRequest): SimResponse {
  const issue = loadIssue(req);
  const comment = findComment(req, issue);
  const rendered = queryList(req.query, 'expand').includes('renderedBody');
  return ok(presentComment(req.baseUrl, issue, comment, rendered));
}

export function deleteComment(req: SimRequest): SimResponse {
  const issue = loadIssue(req);
  const comment = findComment(req, issue);
  const own = comment.authorId === req.user.accountId && req.store.can(req.user.accountId, issue, 'write');
  if (!own && !req.store.can(req.user.accountId, issue, 'admin')) throw jiraError(403, 'You do not have the permission to delete this comment.');
  if (!req.noop) {
    issue.updated = req.store.tick();
    issue.comments = issue.comments.filter((c) => c !== comment);
  }
  return noContent;
}
