/** The Jira operations the simulator serves, named as the OpenAPI spec names them. */
import type { SimRequest, SimResponse } from './http/context.js';
import { addComment, deleteComment, getComment, listComments } from './handlers/comments.js';
import { createIssue, deleteIssue, editIssue, getIssue } from './handlers/issues.js';
import {
  createMetaFields,
  createMetaIssueTypes,
  findAssignableUsers,
  findUsers,
  getFields,
  getMyself,
  getProject,
  getServerInfo,
  searchProjects,
} from './handlers/meta.js';
import { approximateCount, searchJqlGet, searchJqlPost, searchRemoved } from './handlers/search.js';
import { assignIssue, doTransition, getChangelog, getTransitions } from './handlers/workflow.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Route {
  readonly method: HttpMethod;
  /** Path template exactly as in the OpenAPI spec. */
  readonly path: string;
  readonly operationId: string;
  readonly handler: (req: SimRequest) => SimResponse;
  /** The request must carry a JSON body. */
  readonly body?: 'required' | 'optional';
  /** A write a `noop_write` fault may answer without applying. */
  readonly noopable?: boolean;
  /** Answers callers without credentials too (Jira lets anonymous users read these). */
  readonly anonymous?: boolean;
  /** Removed from Jira Cloud: answers 410 to everyone, before authentication. */
  readonly removed?: boolean;
}

const API = '/rest/api/3';

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: `${API}/search/jql`, operationId: 'searchAndReconsileIssuesUsingJql', handler: searchJqlGet },
  { method: 'POST', path: `${API}/search/jql`, operationId: 'searchAndReconsileIssuesUsingJqlPost', handler: searchJqlPost, body: 'required' },
  { method: 'POST', path: `${API}/search/approximate-count`, operationId: 'countIssues', handler: approximateCount, body: 'required' },
  { method: 'GET', path: `${API}/search`, operationId: 'searchForIssuesUsingJql', handler: searchRemoved, removed: true },
  { method: 'POST', path: `${API}/search`, operationId: 'searchForIssuesUsingJqlPost', handler: searchRemoved, removed: true },
  { method: 'GET', path: `${API}/issue/createmeta/{projectIdOrKey}/issuetypes`, operationId: 'getCreateIssueMetaIssueTypes', handler: createMetaIssueTypes },
  {
    method: 'GET',
    path: `${API}/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}`,
    operationId: 'getCreateIssueMetaIssueTypeId',
    handler: createMetaFields,
  },
  { method: 'POST', path: `${API}/issue`, operationId: 'createIssue', handler: createIssue, body: 'required' },
  { method: 'GET', path: `${API}/issue/{issueIdOrKey}`, operationId: 'getIssue', handler: getIssue },
  { method: 'PUT', path: `${API}/issue/{issueIdOrKey}`, operationId: 'editIssue', handler: editIssue, body: 'required', noopable: true },
  { method: 'DELETE', path: `${API}/issue/{issueIdOrKey}`, operationId: 'deleteIssue', handler: deleteIssue, noopable: true },
  { method: 'GET', path: `${API}/issue/{issueIdOrKey}/comment`, operationId: 'getComments', handler: listComments },
  { method: 'POST', path: `${API}/issue/{issueIdOrKey}/comment`, operationId: 'addComment', handler: addComment, body: 'required', noopable: true },
  { method: 'GET', path: `${API}/issue/{issueIdOrKey}/comment/{id}`, operationId: 'getComment', handler: getComment },
  { method: 'DELETE', path: `${API}/issue/{issueIdOrKey}/comment/{id}`, operationId: 'deleteComment', handler: deleteComment, noopable: true },
  { method: 'GET', path: `${API}/issue/{issueIdOrKey}/transitions`, operationId: 'getTransitions', handler: getTransitions },
  { method: 'POST', path: `${API}/issue/{issueIdOrKey}/transitions`, operationId: 'doTransition', handler: doTransition, body: 'required', noopable: true },
  { method: 'PUT', path: `${API}/issue/{issueIdOrKey}/assignee`, operationId: 'assignIssue', handler: assignIssue, body: 'required', noopable: true },
  { method: 'GET', path: `${API}/issue/{issueIdOrKey}/changelog`, operationId: 'getChangeLogs', handler: getChangelog },
  { method: 'GET', path: `${API}/field`, operationId: 'getFields', handler: getFields },
  { method: 'GET', path: `${API}/project/search`, operationId: 'searchProjects', handler: searchProjects },
  { method: 'GET', path: `${API}/project/{projectIdOrKey}`, operationId: 'getProject', handler: getProject },
  { method: 'GET', path: `${API}/myself`, operationId: 'getCurrentUser', handler: getMyself },
  { method: 'GET', path: `${API}/serverInfo`, operationId: 'getServerInfo', handler: getServerInfo, anonymous: true },
  { method: 'GET', path: `${API}/user/search`, operationId: 'findUsers', handler: findUsers },
  { method: 'GET', path: `${API}/user/assignable/search`, operationId: 'findAssignableUsers', handler: findAssignableUsers },
];

/** `{ method, path, operationId }` of every operation served (the contract tests check them). */
export const SIM_OPERATIONS: readonly { method: HttpMethod; path: string; operationId: string; removed: boolean }[] = ROUTES.map((r) => ({
  method: r.method,
  path: r.path,
  operationId: r.operationId,
  removed: r.removed === true,
}));

interface CompiledRoute {
  readonly route: Route;
  readonly segments: readonly string[];
  readonly literals: number;
}

const COMPILED: readonly CompiledRoute[] = ROUTES.map((route) => {
  const segments = route.path.split('/').slice(1);
  return { route, segments, literals: segments.filter((s) => !s.startsWith('{')).length };
})
  // Literal segments win over parameters (`project/search` before `project/{projectIdOrKey}`).
  .sort((a, b) => b.literals - a.literals);

export type RouteMatch =
  | { readonly kind: 'route'; readonly route: Route; readonly params: Record<string, string> }
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'none' };

function matchSegments(template: readonly string[], actual: readonly string[]): Record<string, string> | null {
  if (template.length !== actual.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const t = template[i] as string;
    const a = actual[i] as string;
    if (t.startsWith('{')) {
      if (a === '') return null;
      try {
        params[t.slice(1, -1)] = decodeURIComponent(a);
      } catch {
        return null;
      }
    } else if (t !== a) {
      return null;
    }
  }
  return params;
}

export function matchRoute(method: string, path: string): RouteMatch {
  const actual = path.split('/').slice(1);
  const allow = new Set<string>();
  for (const candidate of COMPILED) {
    const params = matchSegments(candidate.segments, actual);
    if (!params) continue;
    if (candidate.route.method === method) return { kind: 'route', route: candidate.route, params };
    allow.add(candidate.route.method);
  }
  return allow.size > 0 ? { kind: 'method-not-allowed', allow: [...allow] } : { kind: 'none' };
}
