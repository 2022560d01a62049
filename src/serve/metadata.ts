import type { ServerName } from '../gate/gate.js';

/** The two MCP endpoints: the split of the stdio servers holds, the read endpoint has no write tool. */
export const ENDPOINTS: Readonly<Record<string, ServerName>> = { '/mcp/read': 'jira-read', '/mcp/write': 'jira-write' };

export const METADATA_PATH = '/.well-known/oauth-protected-resource';

/** RFC 9728 §3.1: the metadata of the resource at `path` lives at the well-known prefix plus that path. */
export function metadataUrl(publicUrl: string, path: string): string {
  return `${publicUrl}${METADATA_PATH}${path}`;
}

/** RFC 9728 §2 protected resource metadata for one endpoint: the resource identifier is the token audience. */
export function resourceMetadata(publicUrl: string, path: string, authorizationServers: string[]): Record<string, unknown> {
  return {
    resource: `${publicUrl}${path}`,
    ...(authorizationServers.length > 0 ? { authorization_servers: authorizationServers } : {}),
    bearer_methods_supported: ['header'],
    resource_signing_alg_values_supported: ['EdDSA'],
    resource_name: `claw-jira ${ENDPOINTS[path] === 'jira-read' ? 'read' : 'write'} (policy-gated Jira)`,
  };
}

/**
 * RFC 6750 §3 with RFC 9728 §5.1: every 401 names the metadata document. No `error` when no token was sent
 * (§3.1); `invalid_token` for one that failed verification; `insufficient_scope` (403) for a valid token that
 * permits nothing here.
 */
export function wwwAuthenticate(publicUrl: string, path: string, error?: { error: 'invalid_token' | 'insufficient_scope'; description: string }): string {
  const parts = [`resource_metadata="${metadataUrl(publicUrl, path)}"`];
  if (error) parts.push(`error="${error.error}"`, `error_description="${error.description.replace(/["\\]/g, '')}"`);
  return `Bearer ${parts.join(', ')}`;
}
