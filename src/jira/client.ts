import { inspect } from 'node:util';
import type { z } from 'zod';
import { ClawError } from '../util/errors.js';
import type { AdfDoc } from './adf/types.js';
import type { JiraAuth } from './auth.js';
import { normalizeBaseUrl } from './base-url.js';
import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT_MS } from './config.js';
import { JiraError } from './errors.js';
import { DEFAULT_MAX_PAGES, pagesByOffset, pagesByToken, type PageLoopOptions } from './paging.js';
import { DEFAULT_RETRY, type RetryOptions } from './retry.js';
import { nodeHttp, type HttpSend } from './http.js';
import { defaultSleep, JiraTransport, type JiraRequest, type JiraResponse } from './transport.js';
import {
  ChangelogPageSchema,
  CommentSchema,
  CommentsPageSchema,
  CountSchema,
  CreatedIssueSchema,
  CreateMetaFieldsSchema,
  CreateMetaIssueTypesSchema,
  FieldsSchema,
  IssueSchema,
  MyselfSchema,
  NoContentSchema,
  ProjectSchema,
  ProjectsPageSchema,
  SearchPageSchema,
  ServerInfoSchema,
  TransitionsSchema,
  type ChangelogPage,
  type Comment,
  type CommentsPage,
  type Count,
  type CreatedIssue,
  type CreateIssueInput,
  type CreateMetaFields,
  type CreateMetaIssueTypes,
  type Field,
  type Issue,
  type IssueWrite,
  type Myself,
  type Paging,
  type Project,
  type ProjectsPage,
  type SearchJqlParams,
  type SearchPage,
  type ServerInfo,
  type TransitionInput,
  type Transitions,
} from './types.js';

export interface JiraClientOptions {
  /** `https://<site>.atlassian.net`, `https://api.atlassian.com/ex/jira/<cloudId>`, or loopback http. */
  readonly baseUrl: string;
  readonly auth: JiraAuth;
  /** Per HTTP attempt, headers and body included. */
  readonly timeoutMs?: number;
  readonly maxResponseBytes?: number;
  readonly retry?: Partial<RetryOptions>;
  readonly maxPages?: number;
  /** The network; tests wrap `nodeHttp()` to see what leaves the client. */
  readonly send?: HttpSend;
  /** [0, 1); drives the backoff jitter. */
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Epoch ms; used to turn an HTTP-date Retry-After into a wait. */
  readonly now?: () => number;
  readonly userAgent?: string;
}

export interface OffsetPagingOptions extends PageLoopOptions {
  readonly pageSize?: number;
}

const API = '/rest/api/3';

/**
 * Jira Cloud REST v3 client. Every method resolves to `{ data, request }`: the parsed, shape-checked
 * body and `{ method, path, status, attempts }` of the exchange for receipts. Failures are
 * `JiraError`s carrying the same `request`. Reads are retried on 429/502/503/504 and network errors;
 * writes are sent exactly once.
 */
export class JiraClient {
  readonly baseUrl: string;
  readonly #transport: JiraTransport;
  readonly #maxPages: number;

  constructor(options: JiraClientOptions) {
    this.baseUrl = normalizeBaseUrl(options.baseUrl);
    const retry = { ...DEFAULT_RETRY, ...options.retry };
    check(Number.isInteger(retry.limit) && retry.limit >= 1 && retry.limit <= 10, 'retry.limit must be an integer from 1 to 10');
    check(retry.baseMs >= 0 && retry.capMs >= retry.baseMs, 'retry.baseMs must be >= 0 and <= retry.capMs');
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    check(Number.isInteger(timeoutMs) && timeoutMs > 0, 'timeoutMs must be a positive integer');
    check(Number.isInteger(maxResponseBytes) && maxResponseBytes > 0, 'maxResponseBytes must be a positive integer');
    this.#maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
    this.#transport = new JiraTransport({
      baseUrl: this.baseUrl,
      auth: options.auth,
      timeoutMs,
      maxResponseBytes,
      retry,
      send: options.send ?? nodeHttp(),
      random: options.random ?? Math.random,
      sleep: options.sleep ?? defaultSleep,
      now: options.now ?? Date.now,
      userAgent: options.userAgent ?? 'claw-jira',
    });
  }

  // ---- reads ---------------------------------------------------------------------------------

  /** Enhanced JQL search (POST /search/jql, a read). Never the removed /rest/api/3/search. */
  async searchJql(params: SearchJqlParams): Promise<JiraResponse<SearchPage>> {
    return this.#call(SearchPageSchema, {
      method: 'POST',
      path: `${API}/search/jql`,
      readOnly: true,
      body: {
        jql: params.jql,
        fields: params.fields,
        maxResults: params.maxResults,
        nextPageToken: params.nextPageToken,
        expand: list(params.expand),
      },
    });
  }

  async approximateCount(jql: string): Promise<JiraResponse<Count>> {
    return this.#call(CountSchema, { method: 'POST', path: `${API}/search/approximate-count`, readOnly: true, body: { jql } });
  }

  async getIssue(key: string, options: { fields?: readonly string[]; expand?: string | readonly string[] } = {}): Promise<JiraResponse<Issue>> {
    return this.#call(IssueSchema, {
      method: 'GET',
      path: issuePath(key),
      query: { fields: list(options.fields), expand: list(options.expand) },
    });
  }

  async getComments(key: string, paging: Paging = {}): Promise<JiraResponse<CommentsPage>> {
    return this.#call(CommentsPageSchema, { method: 'GET', path: `${issuePath(key)}/comment`, query: pagingQuery(paging) });
  }

  async getChangelog(key: string, paging: Paging = {}): Promise<JiraResponse<ChangelogPage>> {
    return this.#call(ChangelogPageSchema, { method: 'GET', path: `${issuePath(key)}/changelog`, query: pagingQuery(paging) });
  }

  async listProjects(options: Paging & { query?: string; keys?: readonly string[] } = {}): Promise<JiraResponse<ProjectsPage>> {
    return this.#call(ProjectsPageSchema, {
      method: 'GET',
      path: `${API}/project/search`,
      query: { ...pagingQuery(options), query: options.query, keys: options.keys },
    });
  }

  async getProject(key: string): Promise<JiraResponse<Project>> {
    return this.#call(ProjectSchema, { method: 'GET', path: `${API}/project/${segment(key)}` });
  }

  async getCreateMetaIssueTypes(projectKey: string, paging: Paging = {}): Promise<JiraResponse<CreateMetaIssueTypes>> {
    return this.#call(CreateMetaIssueTypesSchema, {
      method: 'GET',
      path: `${API}/issue/createmeta/${segment(projectKey)}/issuetypes`,
      query: pagingQuery(paging),
    });
  }

  async getCreateMetaFields(projectKey: string, issueTypeId: string, paging: Paging = {}): Promise<JiraResponse<CreateMetaFields>> {
    return this.#call(CreateMetaFieldsSchema, {
      method: 'GET',
      path: `${API}/issue/createmeta/${segment(projectKey)}/issuetypes/${segment(issueTypeId)}`,
      query: pagingQuery(paging),
    });
  }

  async getTransitions(key: string, options: { expandFields?: boolean } = {}): Promise<JiraResponse<Transitions>> {
    return this.#call(TransitionsSchema, {
      method: 'GET',
      path: `${issuePath(key)}/transitions`,
      query: { expand: options.expandFields === true ? 'transitions.fields' : undefined },
    });
  }

  async getFields(): Promise<JiraResponse<Field[]>> {
    return this.#call(FieldsSchema, { method: 'GET', path: `${API}/field` });
  }

  async myself(): Promise<JiraResponse<Myself>> {
    return this.#call(MyselfSchema, { method: 'GET', path: `${API}/myself` });
  }

  async serverInfo(): Promise<JiraResponse<ServerInfo>> {
    return this.#call(ServerInfoSchema, { method: 'GET', path: `${API}/serverInfo` });
  }

  // ---- writes (sent once, never retried) -----------------------------------------------------

  async createIssue(input: CreateIssueInput): Promise<JiraResponse<CreatedIssue>> {
    return this.#call(CreatedIssueSchema, { method: 'POST', path: `${API}/issue`, body: { fields: input.fields, update: input.update } });
  }

  async editIssue(key: string, input: IssueWrite, options: { notifyUsers?: boolean } = {}): Promise<JiraResponse<undefined>> {
    return this.#call(NoContentSchema, {
      method: 'PUT',
      path: issuePath(key),
      query: { notifyUsers: options.notifyUsers },
      body: { fields: input.fields, update: input.update },
    });
  }

  async transitionIssue(key: string, input: TransitionInput): Promise<JiraResponse<undefined>> {
    return this.#call(NoContentSchema, {
      method: 'POST',
      path: `${issuePath(key)}/transitions`,
      body: { transition: { id: input.transition.id }, fields: input.fields, update: input.update },
    });
  }

  /** `null` unassigns. */
  async assignIssue(key: string, accountId: string | null): Promise<JiraResponse<undefined>> {
    return this.#call(NoContentSchema, { method: 'PUT', path: `${issuePath(key)}/assignee`, body: { accountId } });
  }

  async deleteIssue(key: string, options: { deleteSubtasks?: boolean } = {}): Promise<JiraResponse<undefined>> {
    return this.#call(NoContentSchema, { method: 'DELETE', path: issuePath(key), query: { deleteSubtasks: options.deleteSubtasks } });
  }

  async addComment(key: string, body: AdfDoc): Promise<JiraResponse<Comment>> {
    return this.#call(CommentSchema, { method: 'POST', path: `${issuePath(key)}/comment`, body: { body } });
  }

  async deleteComment(key: string, id: string): Promise<JiraResponse<undefined>> {
    return this.#call(NoContentSchema, { method: 'DELETE', path: `${issuePath(key)}/comment/${segment(id)}` });
  }

  // ---- paging --------------------------------------------------------------------------------

  /** Every page of a JQL search, following `nextPageToken`; at most `maxPages` pages. */
  searchAll(params: Omit<SearchJqlParams, 'nextPageToken'>, options: PageLoopOptions = {}): AsyncGenerator<JiraResponse<SearchPage>, void, undefined> {
    return pagesByToken(
      (nextPageToken) => this.searchJql({ ...params, nextPageToken }),
      (page) => (page.isLast === true ? undefined : page.nextPageToken),
      options.maxPages ?? this.#maxPages,
    );
  }

  commentsAll(key: string, options: OffsetPagingOptions = {}): AsyncGenerator<JiraResponse<CommentsPage>, void, undefined> {
    return pagesByOffset(
      (startAt) => this.getComments(key, { startAt, maxResults: options.pageSize }),
      (page) => ({ count: page.comments.length, last: page.startAt + page.comments.length >= page.total }),
      options.maxPages ?? this.#maxPages,
    );
  }

  changelogAll(key: string, options: OffsetPagingOptions = {}): AsyncGenerator<JiraResponse<ChangelogPage>, void, undefined> {
    return pagesByOffset(
      (startAt) => this.getChangelog(key, { startAt, maxResults: options.pageSize }),
      (page) => ({
        count: page.values.length,
        last: page.isLast ?? (page.total !== undefined && page.startAt + page.values.length >= page.total),
      }),
      options.maxPages ?? this.#maxPages,
    );
  }

  // ---- plumbing ------------------------------------------------------------------------------

  async #call<S extends z.ZodType>(schema: S, req: JiraRequest): Promise<JiraResponse<z.output<S>>> {
    const response = await this.#transport.send(req);
    const parsed = schema.safeParse(response.data);
    if (!parsed.success) {
      const where = parsed.error.issues
        .slice(0, 3)
        .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.code}`)
        .join(', ');
      throw new JiraError('JIRA_BAD_RESPONSE', `Jira ${req.method} ${response.request.path}: unexpected response shape (${where})`, {
        request: response.request,
        // The write was answered with success; only its echo is unreadable.
        inDoubt: !(req.readOnly ?? req.method === 'GET'),
      });
    }
    return { data: parsed.data, request: response.request };
  }

  toJSON(): { baseUrl: string } {
    return { baseUrl: this.baseUrl };
  }

  [inspect.custom](): string {
    return `JiraClient { baseUrl: '${this.baseUrl}' }`;
  }
}

function issuePath(key: string): string {
  return `${API}/issue/${segment(key)}`;
}

/** One encoded path segment. Dot segments would be normalised away by URL parsing and reach another endpoint. */
function segment(value: string): string {
  if (value === '' || value === '.' || value === '..') {
    throw new JiraError('JIRA_BAD_REQUEST', 'an issue, project or comment identifier is empty or a dot segment');
  }
  return encodeURIComponent(value);
}

function list(value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.join(',');
}

function pagingQuery(paging: Paging): { startAt: number | undefined; maxResults: number | undefined } {
  return { startAt: paging.startAt, maxResults: paging.maxResults };
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new ClawError('JIRA_CONFIG_INVALID', message);
}
