/** Enhanced search (`/search/jql`), approximate count, and the removed `/search`. */
import { sha256Hex } from '../../util/canonical.js';
import { isRecord, ok, queryInt, queryList, type SimRequest, type SimResponse } from '../http/context.js';
import { BODY_NOT_AN_OBJECT, JiraHttpError, badBody, errorCollection, jiraError } from '../http/errors.js';
import { compileQuery, type CompiledQuery } from '../jql/evaluate.js';
import { JqlError } from '../../jql/errors.js';
import { parseJql } from '../../jql/parser.js';
import type { SimIssue } from '../model.js';
import { namesOf, presentIssue, schemasOf, selectFields } from '../present/issue.js';

export const UNBOUNDED_JQL = 'Unbounded JQL queries are not allowed here. Please add a search restriction to your query.';
export const BAD_PAGE_TOKEN = 'The provided nextPageToken is invalid or has expired.';
export const MAX_RESULTS_RANGE = 'The maxResults parameter must be between 1 and 5000.';
export const SEARCH_REMOVED =
  'The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046';

/** Page size when only ids/keys are asked for, and when any field is. */
const MAX_PAGE_IDS = 5000;
const MAX_PAGE_FIELDS = 100;

interface SearchParams {
  readonly jql: string;
  readonly nextPageToken: string | undefined;
  readonly maxResults: number;
  readonly fields: readonly string[];
  readonly expand: ReadonlySet<string>;
}

function compile(req: SimRequest, jql: string): CompiledQuery {
  try {
    const query = parseJql(jql);
    if (query.where === null) throw jiraError(400, UNBOUNDED_JQL);
    return compileQuery(query, { store: req.store, accountId: req.user.accountId, now: req.store.now });
  } catch (error) {
    if (error instanceof JqlError) throw new JiraHttpError(400, errorCollection(error.messages));
    throw error;
  }
}

function matching(req: SimRequest, query: CompiledQuery): SimIssue[] {
  return req.store
    .all()
    .filter((issue) => req.store.can(req.user.accountId, issue, 'browse') && query.matches(issue))
    .sort((a, b) => query.compare(a, b));
}

/** Tokens are opaque to clients; they carry the offset and are bound to the query they page. */
function encodeToken(offset: number, jql: string): string {
  return Buffer.from(JSON.stringify({ o: offset, q: sha256Hex(jql).slice(0, 16) }), 'utf8').toString('base64url');
}

function decodeToken(token: string, jql: string): number {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (isRecord(parsed) && typeof parsed['o'] === 'number' && Number.isSafeInteger(parsed['o']) && parsed['o'] >= 0 && parsed['q'] === sha256Hex(jql).slice(0, 16)) {
      return parsed['o'];
    }
  } catch {
    // fall through: any undecodable token is refused the same way
  }
  throw jiraError(400, BAD_PAGE_TOKEN);
}

function search(req: SimRequest, params: SearchParams): SimResponse {
  const offset = params.nextPageToken === undefined ? 0 : decodeToken(params.nextPageToken, params.jql);
  if (params.maxResults < 1 || params.maxResults > MAX_PAGE_IDS) throw jiraError(400, MAX_RESULTS_RANGE);
  const query = compile(req, params.jql);
  const issues = matching(req, query);
  const selection = selectFields(params.fields, 'id', '*navigable');
  const size = Math.min(params.maxResults, selection.ids.length > 0 ? MAX_PAGE_FIELDS : MAX_PAGE_IDS);
  const page = issues.slice(offset, offset + size);
  const isLast = offset + page.length >= issues.length;
  const body: Record<string, unknown> = {
    issues: page.map((issue) =>
      presentIssue(req.baseUrl, req.store, req.user.accountId, issue, { selection, expand: params.expand, namesInBean: false, changelogLimit: 40 }),
    ),
    ...(isLast ? {} : { nextPageToken: encodeToken(offset + page.length, params.jql) }),
    isLast,
  };
  if (params.expand.has('names')) body['names'] = namesOf(selection.ids);
  if (params.expand.has('schema')) body['schema'] = schemasOf(selection.ids);
  return ok(body);
}

export function searchJqlGet(req: SimRequest): SimResponse {
  return search(req, {
    jql: req.query.get('jql') ?? '',
    nextPageToken: req.query.get('nextPageToken') ?? undefined,
    maxResults: queryInt(req, 'maxResults', 50),
    fields: queryList(req.query, 'fields'),
    expand: new Set(queryList(req.query, 'expand')),
  });
}

const POST_KEYS = new Set(['jql', 'nextPageToken', 'maxResults', 'fields', 'expand', 'properties', 'fieldsByKeys', 'reconcileIssues', 'failFast']);

function stringList(value: unknown): string[] | null {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean) : null;
}

export function searchJqlPost(req: SimRequest): SimResponse {
  const body = req.body;
  if (!isRecord(body) || Object.keys(body).some((k) => !POST_KEYS.has(k))) throw badBody(BODY_NOT_AN_OBJECT);
  const { jql, nextPageToken, maxResults, expand } = body;
  const fields = stringList(body['fields']);
  const valid =
    (jql === undefined || jql === null || typeof jql === 'string') &&
    (nextPageToken === undefined || nextPageToken === null || typeof nextPageToken === 'string') &&
    (maxResults === undefined || maxResults === null || (typeof maxResults === 'number' && Number.isInteger(maxResults))) &&
    (expand === undefined || expand === null || typeof expand === 'string') &&
    fields !== null;
  if (!valid) throw badBody(BODY_NOT_AN_OBJECT);
  return search(req, {
    jql: typeof jql === 'string' ? jql : '',
    nextPageToken: typeof nextPageToken === 'string' ? nextPageToken : undefined,
    maxResults: typeof maxResults === 'number' ? maxResults : 50,
    fields,
    expand: new Set(typeof expand === 'string' ? expand.split(',').map((e) => e.trim()).filter(Boolean) : []),
  });
}

export function approximateCount(req: SimRequest): SimResponse {
  const body = req.body;
  if (!isRecord(body) || Object.keys(body).some((k) => k !== 'jql') || (body['jql'] !== undefined && typeof body['jql'] !== 'string')) {
    throw badBody(BODY_NOT_AN_OBJECT);
  }
  const query = compile(req, typeof body['jql'] === 'string' ? body['jql'] : '');
  return ok({ count: matching(req, query).length });
}

export function searchRemoved(): SimResponse {
  throw new JiraHttpError(410, errorCollection([SEARCH_REMOVED]));
}
