import { ClawError } from '../util/errors.js';

export type JiraErrorCode =
  | 'JIRA_BAD_REQUEST'
  | 'JIRA_UNAUTHORIZED'
  | 'JIRA_FORBIDDEN'
  | 'JIRA_NOT_FOUND'
  | 'JIRA_GONE'
  | 'JIRA_RATE_LIMITED'
  | 'JIRA_UNAVAILABLE'
  | 'JIRA_NETWORK'
  | 'JIRA_TIMEOUT'
  | 'JIRA_REDIRECT_REFUSED'
  | 'JIRA_RESPONSE_TOO_LARGE'
  | 'JIRA_BAD_RESPONSE'
  | 'JIRA_PAGE_LIMIT';

/**
 * What a receipt may record about one logical Jira call: method, path (with query), final status
 * (undefined when no response arrived) and how many HTTP attempts were made. Never headers or bodies.
 */
export interface JiraExchange {
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;
  readonly attempts: number;
}

export interface JiraErrorInit {
  readonly request?: JiraExchange | undefined;
  /** A write may have been applied although it failed here (no complete answer, or a 5xx). */
  readonly inDoubt?: boolean;
  readonly retryAfterMs?: number | undefined;
  readonly details?: Record<string, unknown>;
}

export class JiraError extends ClawError {
  declare readonly code: JiraErrorCode;
  readonly request: JiraExchange | undefined;
  readonly inDoubt: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: JiraErrorCode, message: string, init: JiraErrorInit = {}) {
    super(code, message, init.details);
    this.name = 'JiraError';
    this.request = init.request;
    this.inDoubt = init.inDoubt ?? false;
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** Jira answered with an error status; Jira's `ErrorCollection` is kept as sent (secrets scrubbed). */
export class JiraHttpError extends JiraError {
  readonly status: number;
  readonly errorMessages: readonly string[];
  readonly errors: Readonly<Record<string, string>>;

  constructor(
    status: number,
    collection: { errorMessages: readonly string[]; errors: Readonly<Record<string, string>> },
    init: JiraErrorInit & { request: JiraExchange },
  ) {
    const summary = [...collection.errorMessages, ...Object.entries(collection.errors).map(([k, v]) => `${k}: ${v}`)]
      .join('; ')
      .slice(0, 500);
    const head = `Jira ${init.request.method} ${init.request.path} answered ${status}`;
    super(codeForStatus(status), summary === '' ? head : `${head}: ${summary}`, init);
    this.name = 'JiraHttpError';
    this.status = status;
    this.errorMessages = collection.errorMessages;
    this.errors = collection.errors;
  }
}

export function codeForStatus(status: number): JiraErrorCode {
  switch (status) {
    case 401:
      return 'JIRA_UNAUTHORIZED';
    case 403:
      return 'JIRA_FORBIDDEN';
    case 404:
      return 'JIRA_NOT_FOUND';
    case 410:
      return 'JIRA_GONE';
    case 429:
      return 'JIRA_RATE_LIMITED';
    default:
      if (status >= 500) return 'JIRA_UNAVAILABLE';
      // A final 1xx/3xx (e.g. 304) is nothing a JSON API client asked for.
      return status < 400 ? 'JIRA_BAD_RESPONSE' : 'JIRA_BAD_REQUEST';
  }
}

export function isJiraError(error: unknown): error is JiraError {
  return error instanceof JiraError;
}
