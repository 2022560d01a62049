import { JiraError } from './errors.js';
import type { JiraResponse } from './transport.js';

export const DEFAULT_MAX_PAGES = 100;

export interface PageLoopOptions {
  /** Hard bound: after this many pages with more remaining, the iterator throws JIRA_PAGE_LIMIT. */
  readonly maxPages?: number;
}

/**
 * Token paging (the enhanced JQL search). Yields whole pages so each carries its own exchange for
 * receipts. A repeated token would loop forever against a broken server: refused.
 */
export async function* pagesByToken<P>(
  fetchPage: (token: string | undefined) => Promise<JiraResponse<P>>,
  nextToken: (page: P) => string | undefined,
  maxPages: number,
): AsyncGenerator<JiraResponse<P>, void, undefined> {
  const seen = new Set<string>();
  let token: string | undefined;
  for (let n = 0; n < maxPages; n++) {
    const page = await fetchPage(token);
    yield page;
    token = nextToken(page.data);
    if (token === undefined) return;
    if (seen.has(token)) {
      throw new JiraError('JIRA_BAD_RESPONSE', 'Jira returned a nextPageToken it had already returned', { request: page.request });
    }
    seen.add(token);
  }
  throw pageLimit(maxPages);
}

/** Offset paging (`startAt`/`maxResults`): advances by what the page really held, stops on an empty page. */
export async function* pagesByOffset<P>(
  fetchPage: (startAt: number) => Promise<JiraResponse<P>>,
  progress: (page: P) => { readonly count: number; readonly last: boolean },
  maxPages: number,
): AsyncGenerator<JiraResponse<P>, void, undefined> {
  let startAt = 0;
  for (let n = 0; n < maxPages; n++) {
    const page = await fetchPage(startAt);
    yield page;
    const p = progress(page.data);
    if (p.last || p.count === 0) return;
    startAt += p.count;
  }
  throw pageLimit(maxPages);
}

function pageLimit(maxPages: number): JiraError {
  return new JiraError('JIRA_PAGE_LIMIT', `stopped after ${maxPages} pages with more results remaining`, { details: { maxPages } });
}
