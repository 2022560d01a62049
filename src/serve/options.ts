import { ClawError } from '../util/errors.js';
import { isLoopbackHost } from '../util/loopback.js';
import { parseRate, type Rate } from './rate-limit.js';

/** Everything `claw-jira serve` needs beyond the gate's own CLAW_* / JIRA_* settings. */
export interface ServeOptions {
  host: string;
  port: number;
  tls: { keyFile: string; certFile: string } | undefined;
  behindTlsProxy: boolean;
  /** The URL agents reach the service at (the resource identifier tokens are audience-bound to), without a trailing slash. */
  publicUrl: string | undefined;
  /** RFC 9728 `authorization_servers`: where a client gets tokens, when the issuer runs one. */
  authorizationServers: string[];
  /** Browser origins allowed to call the MCP endpoints; a request with any other Origin is refused (DNS rebinding). */
  allowedOrigins: string[];
  tokenRate: Rate;
  jobRate: Rate;
  /** Refusals before authentication (401, bad Origin) an address may earn; past it the address is turned away unread. */
  failureRate: Rate;
  /** Gates (endpoint, job, WPC) kept open at once; the least recently used beyond this is closed once idle. */
  maxGates: number;
  maxBodyBytes: number;
  stateUrl: string | undefined;
}

/** `claw-jira serve`'s flags (node:util parseArgs form), shared by `doctor --serve` so both read the same line. */
export const SERVE_FLAG_SPEC = {
  host: { type: 'string' },
  port: { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-cert': { type: 'string' },
  'behind-tls-proxy': { type: 'boolean' },
  'public-url': { type: 'string' },
} as const;

/** Flags win over the environment; each flag has a CLAW_SERVE_* twin for unit files and containers. */
export interface ServeFlags {
  host?: string | undefined;
  port?: string | undefined;
  'tls-key'?: string | undefined;
  'tls-cert'?: string | undefined;
  'behind-tls-proxy'?: boolean | undefined;
  'public-url'?: string | undefined;
}

function invalid(variable: string, message: string): ClawError {
  return new ClawError('CONFIG_INVALID', `${variable} ${message}`);
}

export function loadServeOptions(flags: ServeFlags, env: NodeJS.ProcessEnv): ServeOptions {
  const get = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const host = flags.host ?? get('CLAW_SERVE_HOST') ?? '127.0.0.1';
  const portText = flags.port ?? get('CLAW_SERVE_PORT') ?? '8790';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw invalid('CLAW_SERVE_PORT', 'must be a port number (0 picks a free one)');

  const keyFile = flags['tls-key'] ?? get('CLAW_SERVE_TLS_KEY');
  const certFile = flags['tls-cert'] ?? get('CLAW_SERVE_TLS_CERT');
  if ((keyFile === undefined) !== (certFile === undefined)) throw invalid('CLAW_SERVE_TLS_KEY', 'and CLAW_SERVE_TLS_CERT must be set together');
  const tls = keyFile && certFile ? { keyFile, certFile } : undefined;
  const behindTlsProxy = flags['behind-tls-proxy'] === true || get('CLAW_SERVE_BEHIND_TLS_PROXY') === '1';
  // A bearer token sent in clear over a network is a leaked token: off loopback, TLS is not optional.
  if (!isLoopbackHost(host) && !tls && !behindTlsProxy) {
    throw new ClawError(
      'SERVE_INSECURE_BIND',
      `refusing to listen on ${host} without TLS: set --tls-key/--tls-cert, or --behind-tls-proxy when a TLS proxy on this host terminates it`,
    );
  }

  const publicUrl = flags['public-url'] ?? get('CLAW_SERVE_PUBLIC_URL');
  if (publicUrl !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(publicUrl);
    } catch {
      throw invalid('CLAW_SERVE_PUBLIC_URL', 'is not a URL');
    }
    if (parsed.search !== '' || parsed.hash !== '' || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
      throw invalid('CLAW_SERVE_PUBLIC_URL', 'must be an http(s) URL without query or fragment');
    }
    if (behindTlsProxy && parsed.protocol !== 'https:') throw invalid('CLAW_SERVE_PUBLIC_URL', 'must be https:// behind a TLS proxy');
  } else if (behindTlsProxy) {
    throw invalid('CLAW_SERVE_PUBLIC_URL', 'must be set behind a TLS proxy: it is the https:// URL agents use, and the token audience');
  }

  const maxBodyText = get('CLAW_SERVE_MAX_BODY_BYTES') ?? '1048576';
  const maxBodyBytes = Number(maxBodyText);
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1024 || maxBodyBytes > 64 * 1024 * 1024) {
    throw invalid('CLAW_SERVE_MAX_BODY_BYTES', 'must be a whole number of bytes from 1024 to 67108864');
  }

  const maxGatesText = get('CLAW_SERVE_MAX_GATES') ?? '256';
  const maxGates = Number(maxGatesText);
  if (!Number.isInteger(maxGates) || maxGates < 1 || maxGates > 100_000) throw invalid('CLAW_SERVE_MAX_GATES', 'must be a whole number from 1 to 100000');

  return {
    host,
    port,
    tls,
    behindTlsProxy,
    publicUrl: publicUrl?.replace(/\/+$/, ''),
    authorizationServers: (get('CLAW_SERVE_AUTHORIZATION_SERVERS') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    allowedOrigins: (get('CLAW_SERVE_ALLOWED_ORIGINS') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    tokenRate: parseRate(get('CLAW_SERVE_TOKEN_RATE') ?? '600/min', 'CLAW_SERVE_TOKEN_RATE'),
    jobRate: parseRate(get('CLAW_SERVE_JOB_RATE') ?? '3000/min', 'CLAW_SERVE_JOB_RATE'),
    failureRate: parseRate(get('CLAW_SERVE_FAILURE_RATE') ?? '60/min', 'CLAW_SERVE_FAILURE_RATE'),
    maxGates,
    maxBodyBytes,
    stateUrl: get('CLAW_STATE_URL'),
  };
}
