/** Jira's refusals, as the simulator answers them. */

export const JIRA_JSON = 'application/json;charset=UTF-8';
export const PROBLEM_JSON = 'application/problem+json;charset=UTF-8';

export interface ErrorCollection {
  errorMessages: string[];
  errors: Record<string, string>;
}

export function errorCollection(messages: readonly string[], errors: Record<string, string> = {}): ErrorCollection {
  return { errorMessages: [...messages], errors };
}

/** A refusal carried as an exception through a handler; the server writes it as the response. */
export class JiraHttpError extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly contentType: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, body: unknown, options: { contentType?: string; headers?: Record<string, string> } = {}) {
    super(`Jira ${status}`);
    this.name = 'JiraHttpError';
    this.status = status;
    this.body = body;
    this.contentType = options.contentType ?? JIRA_JSON;
    this.headers = options.headers ?? {};
  }
}

export function jiraError(status: number, message: string): JiraHttpError {
  return new JiraHttpError(status, errorCollection([message]));
}

export function fieldErrors(status: number, errors: Record<string, string>): JiraHttpError {
  return new JiraHttpError(status, errorCollection([], errors));
}

/** RFC 7807 body Jira's Spring layer answers (unknown endpoint, unsupported method, bad parameter). */
export function problem(status: number, title: string, detail: string, instance: string, headers: Record<string, string> = {}): JiraHttpError {
  return new JiraHttpError(status, { type: 'about:blank', title, status, detail, instance }, { contentType: PROBLEM_JSON, headers });
}

export const ISSUE_NOT_FOUND = 'Issue does not exist or you do not have permission to see it.';

export function issueNotFound(): JiraHttpError {
  return jiraError(404, ISSUE_NOT_FOUND);
}

export const BODY_EMPTY = 'No content to map to Object due to end of input';
export const BODY_UNPARSEABLE = 'There was an error parsing JSON. Check that your request body is valid.';
export const BODY_NOT_AN_OBJECT = 'Invalid request payload. Refer to the REST API documentation and try again.';

/** Jira answers a body it cannot deserialise with `errorMessages` alone (no `errors`). */
export function badBody(message: string): JiraHttpError {
  return new JiraHttpError(400, { errorMessages: [message] });
}

export const ADF_REQUIRED = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
export const STRING_REQUIRED = 'Operation value must be a string';
export const UNAUTHENTICATED = 'Client must be authenticated to access this resource.';
