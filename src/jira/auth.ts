import type { Secret } from './secret.js';

/**
 * Basic: Jira Cloud `email:api_token` (site URL, or api.atlassian.com for scoped tokens).
 * Bearer: an OAuth 2.0 access token (api.atlassian.com) or a Data Center personal access token.
 */
export type JiraAuth =
  | { readonly kind: 'basic'; readonly email: string; readonly apiToken: Secret }
  | { readonly kind: 'bearer'; readonly token: Secret };

export function authorizationHeader(auth: JiraAuth): string {
  if (auth.kind === 'basic') {
    return `Basic ${Buffer.from(`${auth.email}:${auth.apiToken.reveal()}`, 'utf8').toString('base64')}`;
  }
  return `Bearer ${auth.token.reveal()}`;
}

/**
 * Every string that would disclose the credential if it showed up in text: the raw token and the
 * base64 form sent on the wire. Used to scrub anything a server echoes back before it reaches an error.
 */
export function secretForms(auth: JiraAuth): string[] {
  const header = authorizationHeader(auth);
  const raw = auth.kind === 'basic' ? auth.apiToken.reveal() : auth.token.reveal();
  return [raw, header.slice(header.indexOf(' ') + 1)].filter((s) => s.length >= 4);
}

export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out;
}
