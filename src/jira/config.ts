import { readFileSync } from 'node:fs';
import { ClawError } from '../util/errors.js';
import type { JiraAuth } from './auth.js';
import { cloudBaseUrl, normalizeBaseUrl } from './base-url.js';
import { Secret } from './secret.js';

export interface JiraConfig {
  readonly baseUrl: string;
  readonly auth: JiraAuth;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Read the Jira connection from `JIRA_*` variables. Every refusal is a `JIRA_CONFIG_INVALID` ClawError
 * naming the variable, never its value (values may be secrets or paths to them).
 */
export function loadJiraConfig(env: Env = process.env): JiraConfig {
  return {
    baseUrl: readBaseUrl(env),
    auth: readAuth(env),
    timeoutMs: readInteger(env, 'JIRA_TIMEOUT_MS', DEFAULT_TIMEOUT_MS, 3_600_000),
    maxResponseBytes: readInteger(env, 'JIRA_MAX_RESPONSE_BYTES', DEFAULT_MAX_RESPONSE_BYTES, 1024 ** 3),
  };
}

function readBaseUrl(env: Env): string {
  const site = value(env, 'JIRA_BASE_URL');
  const cloudId = value(env, 'JIRA_CLOUD_ID');
  if (site !== undefined && cloudId !== undefined) {
    throw invalid('JIRA_BASE_URL', 'and JIRA_CLOUD_ID are both set; set exactly one');
  }
  if (site !== undefined) return normalizeBaseUrl(site, 'JIRA_BASE_URL');
  if (cloudId !== undefined) return cloudBaseUrl(cloudId, 'JIRA_CLOUD_ID');
  throw invalid('JIRA_BASE_URL', 'is not set (set JIRA_BASE_URL to https://<site>.atlassian.net, or JIRA_CLOUD_ID)');
}

function readAuth(env: Env): JiraAuth {
  const email = value(env, 'JIRA_EMAIL');
  const apiToken = readSecret(env, 'JIRA_API_TOKEN');
  const bearer = readSecret(env, 'JIRA_BEARER_TOKEN');
  if (apiToken !== undefined && bearer !== undefined) {
    throw invalid('JIRA_BEARER_TOKEN', 'and JIRA_API_TOKEN are both set; choose basic or bearer authentication');
  }
  if (bearer !== undefined) {
    if (email !== undefined) throw invalid('JIRA_EMAIL', 'is set but bearer authentication takes no email');
    return { kind: 'bearer', token: bearer };
  }
  if (apiToken !== undefined) {
    if (email === undefined) throw invalid('JIRA_EMAIL', 'is required with JIRA_API_TOKEN');
    // A colon would split the basic credential; control characters would break the header.
    if (!/^[^\s:@]+@[^\s:@]+$/.test(email)) throw invalid('JIRA_EMAIL', 'is not an email address');
    return { kind: 'basic', email, apiToken };
  }
  if (email !== undefined) throw invalid('JIRA_API_TOKEN', 'is required with JIRA_EMAIL');
  throw invalid('JIRA_API_TOKEN', 'is not set (set JIRA_EMAIL with JIRA_API_TOKEN[_FILE], or JIRA_BEARER_TOKEN[_FILE])');
}

/** A secret from `NAME` or from the file named by `NAME_FILE` (trailing newline trimmed), never both. */
function readSecret(env: Env, name: string): Secret | undefined {
  const fileVar = `${name}_FILE`;
  const direct = value(env, name);
  const path = value(env, fileVar);
  if (direct !== undefined && path !== undefined) throw invalid(fileVar, `and ${name} are both set; set one`);
  let raw: string;
  let from: string;
  if (path !== undefined) {
    try {
      raw = readFileSync(path, 'utf8');
    } catch {
      throw invalid(fileVar, 'names a file that cannot be read');
    }
    from = fileVar;
  } else if (direct !== undefined) {
    raw = direct;
    from = name;
  } else {
    return undefined;
  }
  const secret = raw.replace(/[\r\n]+$/, '');
  if (secret === '') throw invalid(from, 'is empty');
  // Checked here because fetch would otherwise reject the header with a message that quotes it.
  if (!/^[\x21-\x7e]+$/.test(secret)) throw invalid(from, 'contains whitespace or non-printable characters');
  return new Secret(secret);
}

function readInteger(env: Env, name: string, fallback: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw invalid(name, 'must be a positive integer');
  const n = Number(raw);
  if (n < 1 || n > max) throw invalid(name, `must be between 1 and ${max}`);
  return n;
}

/** Unset and empty are the same: compose files and shells often export `NAME=`. */
function value(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function invalid(variable: string, why: string): ClawError {
  return new ClawError('JIRA_CONFIG_INVALID', `${variable} ${why}`, { variable });
}
