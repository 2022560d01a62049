/**
 * Test helpers: a tiny fetch client with the simulator's credentials. Bodies are wire JSON typed
 * `any` on purpose: the tests' assertions (and the contract suite's schemas) are what check them.
 */
import type { SimCredentialedUser } from '../../src/sim/index.js';

export interface JiraReply<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON when the body is JSON, the text otherwise, undefined when empty. */
  readonly body: T;
  readonly text: string;
}

export function basicAuth(user: Pick<SimCredentialedUser, 'email' | 'apiToken'>): string {
  return `Basic ${Buffer.from(`${user.email}:${user.apiToken}`).toString('base64')}`;
}

export function bearerAuth(user: Pick<SimCredentialedUser, 'bearer'>): string {
  return `Bearer ${user.bearer}`;
}

export async function call<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  options: { auth?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<JiraReply<T>> {
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  if (options.auth) headers['Authorization'] = options.auth;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['Content-Type'] ??= 'application/json';
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  let parsed: unknown = text === '' ? undefined : text;
  if (text !== '' && /json/.test(response.headers.get('content-type') ?? '')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

/** A client bound to one simulator and one user. */
export function client(baseUrl: string, user: SimCredentialedUser) {
  const auth = basicAuth(user);
  return {
    get: <T = any>(path: string) => call<T>(baseUrl, 'GET', path, { auth }),
    post: <T = any>(path: string, body?: unknown) => call<T>(baseUrl, 'POST', path, { auth, body }),
    put: <T = any>(path: string, body?: unknown) => call<T>(baseUrl, 'PUT', path, { auth, body }),
    del: <T = any>(path: string) => call<T>(baseUrl, 'DELETE', path, { auth }),
  };
}

export type SimClient = ReturnType<typeof client>;

export const jql = (query: string): string => encodeURIComponent(query);

/** Collects every page of an enhanced search (bounded: at most `maxPages`). */
export async function searchAll(c: SimClient, query: string, params = '', maxPages = 200): Promise<{ issues: any[]; pages: any[] }> {
  const issues: any[] = [];
  const pages: any[] = [];
  let token: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const reply = await c.get(`/rest/api/3/search/jql?jql=${jql(query)}${params}${token ? `&nextPageToken=${encodeURIComponent(token)}` : ''}`);
    if (reply.status !== 200) throw new Error(`search failed: ${reply.status} ${reply.text}`);
    pages.push(reply.body);
    issues.push(...reply.body.issues);
    if (reply.body.isLast) return { issues, pages };
    token = reply.body.nextPageToken;
  }
  throw new Error('search did not finish within maxPages');
}

export const adf = (text: string) => ({ type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text }] }] });
