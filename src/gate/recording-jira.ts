import type { JiraClient } from '../jira/client.js';
import { isJiraError } from '../jira/errors.js';
import type { JiraResponse } from '../jira/transport.js';
import type { JiraExchange } from '../receipts/types.js';

type Call<K extends keyof JiraClient> = JiraClient[K] extends (...args: infer A) => Promise<JiraResponse<infer T>> ? (...args: A) => Promise<T> : never;
type Pages<K extends keyof JiraClient> = JiraClient[K] extends (...args: infer A) => AsyncGenerator<JiraResponse<infer T>, void, undefined>
  ? (...args: A) => AsyncGenerator<T, void, undefined>
  : never;

/**
 * The Jira client a tool is handed: one per call, made by the gate. Each method is the client's, answering
 * with the data alone, and records its exchange (method, path, status, attempts) before answering or
 * throwing, so no Jira call a tool makes can be missing from the call's receipts.
 */
export class RecordingJira {
  readonly #client: JiraClient;
  /** Every exchange of this call, in order; the gate reads it for the decision and the outcome receipts. */
  readonly exchanges: JiraExchange[] = [];

  constructor(client: JiraClient) {
    this.#client = client;
  }

  /** Exchanges recorded since `mark` (an earlier `exchanges.length`). */
  since(mark: number): JiraExchange[] {
    return this.exchanges.slice(mark);
  }

  getIssue(...args: Parameters<JiraClient['getIssue']>): ReturnType<Call<'getIssue'>> {
    return this.#record(this.#client.getIssue(...args));
  }
  searchJql(...args: Parameters<JiraClient['searchJql']>): ReturnType<Call<'searchJql'>> {
    return this.#record(this.#client.searchJql(...args));
  }
  getComments(...args: Parameters<JiraClient['getComments']>): ReturnType<Call<'getComments'>> {
    return this.#record(this.#client.getComments(...args));
  }
  listProjects(...args: Parameters<JiraClient['listProjects']>): ReturnType<Call<'listProjects'>> {
    return this.#record(this.#client.listProjects(...args));
  }
  getCreateMetaIssueTypes(...args: Parameters<JiraClient['getCreateMetaIssueTypes']>): ReturnType<Call<'getCreateMetaIssueTypes'>> {
    return this.#record(this.#client.getCreateMetaIssueTypes(...args));
  }
  getCreateMetaFields(...args: Parameters<JiraClient['getCreateMetaFields']>): ReturnType<Call<'getCreateMetaFields'>> {
    return this.#record(this.#client.getCreateMetaFields(...args));
  }
  getTransitions(...args: Parameters<JiraClient['getTransitions']>): ReturnType<Call<'getTransitions'>> {
    return this.#record(this.#client.getTransitions(...args));
  }
  getFields(...args: Parameters<JiraClient['getFields']>): ReturnType<Call<'getFields'>> {
    return this.#record(this.#client.getFields(...args));
  }
  createIssue(...args: Parameters<JiraClient['createIssue']>): ReturnType<Call<'createIssue'>> {
    return this.#record(this.#client.createIssue(...args));
  }
  editIssue(...args: Parameters<JiraClient['editIssue']>): ReturnType<Call<'editIssue'>> {
    return this.#record(this.#client.editIssue(...args));
  }
  transitionIssue(...args: Parameters<JiraClient['transitionIssue']>): ReturnType<Call<'transitionIssue'>> {
    return this.#record(this.#client.transitionIssue(...args));
  }
  assignIssue(...args: Parameters<JiraClient['assignIssue']>): ReturnType<Call<'assignIssue'>> {
    return this.#record(this.#client.assignIssue(...args));
  }
  deleteIssue(...args: Parameters<JiraClient['deleteIssue']>): ReturnType<Call<'deleteIssue'>> {
    return this.#record(this.#client.deleteIssue(...args));
  }
  addComment(...args: Parameters<JiraClient['addComment']>): ReturnType<Call<'addComment'>> {
    return this.#record(this.#client.addComment(...args));
  }
  commentsAll(...args: Parameters<JiraClient['commentsAll']>): ReturnType<Pages<'commentsAll'>> {
    return this.#recordPages(this.#client.commentsAll(...args));
  }
  changelogAll(...args: Parameters<JiraClient['changelogAll']>): ReturnType<Pages<'changelogAll'>> {
    return this.#recordPages(this.#client.changelogAll(...args));
  }

  async #record<T>(pending: Promise<JiraResponse<T>>): Promise<T> {
    let response: JiraResponse<T>;
    try {
      response = await pending;
    } catch (error) {
      this.#recordFailure(error);
      throw error;
    }
    this.exchanges.push(exchangeOf(response.request));
    return response.data;
  }

  async *#recordPages<T>(pages: AsyncGenerator<JiraResponse<T>, void, undefined>): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let next: IteratorResult<JiraResponse<T>, void>;
      try {
        next = await pages.next();
      } catch (error) {
        this.#recordFailure(error);
        throw error;
      }
      if (next.done) return;
      this.exchanges.push(exchangeOf(next.value.request));
      yield next.value.data;
    }
  }

  /** A failed call is recorded too when it reached Jira (a page limit or a refused redirect may not have). */
  #recordFailure(error: unknown): void {
    if (isJiraError(error) && error.request) this.exchanges.push(exchangeOf(error.request));
  }
}

function exchangeOf(request: { method: string; path: string; status: number | undefined; attempts: number }): JiraExchange {
  return { method: request.method, path: request.path, status: request.status ?? null, attempts: request.attempts };
}
