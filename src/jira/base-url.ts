import { ClawError } from '../util/errors.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const CLOUD_ID = /^[A-Za-z0-9-]{1,64}$/;

/**
 * Validate and normalise a Jira base URL. HTTPS only, except loopback (the simulator), because the
 * Authorization header travels with every request. The value itself is never echoed: it may carry
 * userinfo.
 */
export function normalizeBaseUrl(raw: string, variable = 'baseUrl'): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw invalid(variable, 'is not an absolute URL');
  }
  if (url.username !== '' || url.password !== '') throw invalid(variable, 'must not contain credentials');
  if (url.search !== '' || url.hash !== '') throw invalid(variable, 'must not contain a query or fragment');
  const loopback = LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw invalid(variable, 'must use https (plain http is accepted for 127.0.0.1, localhost and [::1] only)');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Base for scoped API tokens and OAuth 2.0 (3LO): the Atlassian API gateway, per site. */
export function cloudBaseUrl(cloudId: string, variable = 'cloudId'): string {
  const id = cloudId.trim();
  if (!CLOUD_ID.test(id)) throw invalid(variable, 'must be a cloud id (letters, digits and dashes)');
  return `https://api.atlassian.com/ex/jira/${id}`;
}

function invalid(variable: string, why: string): ClawError {
  return new ClawError('JIRA_CONFIG_INVALID', `${variable} ${why}`, { variable });
}
