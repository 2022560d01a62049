/** The simulator's HTTP server: plain node:http, one in-memory Jira site. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ClawError, describeError } from '../util/errors.js';
import { ADMIN_PREFIX, adminAllowed, handleAdmin, isAdminPath } from './admin.js';
import { FaultController, type ActiveFault } from './faults.js';
import { authenticate } from './http/auth.js';
import type { SimRequest, SimResponse } from './http/context.js';
import {
  BODY_EMPTY,
  BODY_UNPARSEABLE,
  JIRA_JSON,
  JiraHttpError,
  UNAUTHENTICATED,
  badBody,
  errorCollection,
  problem,
} from './http/errors.js';
import type { SimSnapshot } from './model.js';
import { RequestRecorder, queryObject, type RecordedRequest } from './recorder.js';
import { matchRoute } from './routes.js';
import { SimStore } from './store.js';
import { DEFAULT_SIM_NOW } from './time.js';
import type { SimCredentialedUser } from './users.js';

export interface SimulatorOptions {
  /** Interface to bind; default 127.0.0.1. The admin endpoint answers loopback callers only. */
  host?: string;
  /** Port; default 0 (ephemeral). */
  port?: number;
  /** Seed for the generated data; default 42. */
  seed?: number;
  /** Latency added to every Jira request (not admin requests); default 0. */
  latencyMs?: number;
  /** Receives one line per request; default: nothing. Never gets credentials. */
  log?: (line: string) => void;
  /** The simulated clock's start (ISO 8601); default SIM_FIXTURES.now. */
  now?: string;
}

export interface RunningSimulator {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
  readonly faults: FaultController;
  /** Deep copy of all mutable Jira state. */
  snapshot(): SimSnapshot;
  /** `sha256:<hex>` of the canonical snapshot. */
  stateHash(): string;
  /** Requests received so far (most recent 10 000), oldest first. */
  requests(): RecordedRequest[];
  clearRequests(): void;
  /** Regenerates the data (same seed unless given), clears faults and the request log. */
  reset(seed?: number): void;
  /** Move an issue to another project now (as a Jira admin would); returns its new key. Throws if it cannot. */
  moveIssue(key: string, toProject: string): string;
}

const OptionsSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535).default(0),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(42),
    latencyMs: z.number().int().min(0).max(120_000).default(0),
    now: z.iso.datetime().optional(),
  })
  .strict();

const MAX_BODY_BYTES = 1_048_576;

/** Stands in for the caller of anonymous operations (server info); it can see nothing. */
const ANONYMOUS: SimCredentialedUser = {
  accountId: '',
  displayName: 'Anonymous',
  email: '',
  active: false,
  timeZone: 'Etc/UTC',
  apiToken: '',
  bearer: '',
};

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function lenientJson(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function send(res: ServerResponse, status: number, body: unknown, contentType: string, headers: Record<string, string>): void {
  if (status === 204 || body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const { log, ...rest } = options;
  const parsed = OptionsSchema.safeParse(rest);
  if (!parsed.success) {
    throw new ClawError('SIM_OPTIONS_INVALID', `invalid simulator options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const opts = parsed.data;
  const store = new SimStore(opts.seed, opts.now ? Date.parse(opts.now) : DEFAULT_SIM_NOW);
  const faults = new FaultController();
  const recorder = new RequestRecorder();
  const emit = (line: string): void => {
    try {
      log?.(line);
    } catch {
      // a failing logger must not break the simulator
    }
  };
  let baseUrl = '';
  let requestCounter = 0;

  const faultResponse = (res: ServerResponse, fault: ActiveFault, headers: Record<string, string>): void => {
    if (fault.kind === '429') {
      const retryAfter = fault.retryAfterSeconds === undefined ? 1 : fault.retryAfterSeconds;
      const resetAt = new Date(Date.now() + (retryAfter ?? 1) * 1000).toISOString();
      send(res, 429, errorCollection(['Rate limit exceeded.']), JIRA_JSON, {
        ...headers,
        ...(retryAfter === null ? {} : { 'Retry-After': String(retryAfter) }),
        'X-RateLimit-Limit': '100',
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset': resetAt,
        'RateLimit-Reason': fault.rateLimitReason ?? 'jira-burst-based',
      });
      return;
    }
    const retryAfter = fault.retryAfterSeconds;
    send(res, 503, errorCollection(['Service Unavailable: the simulator injected a 503.']), JIRA_JSON, {
      ...headers,
      ...(retryAfter === undefined || retryAfter === null ? {} : { 'Retry-After': String(retryAfter) }),
    });
  };

  const handleJira = async (req: IncomingMessage, res: ServerResponse, method: string, url: URL, raw: string): Promise<void> => {
    const path = url.pathname;
    requestCounter += 1;
    const headers: Record<string, string> = { 'X-AREQUESTID': `sim-${requestCounter}` };
    const record = recorder.start({ method, path, query: queryObject(url.searchParams), body: lenientJson(raw) });
    const started = performance.now();
    const finish = (status: number): void => {
      record.status = status;
      emit(`sim ${method} ${path} -> ${status === 0 ? 'dropped' : status} ${Math.round(performance.now() - started)}ms${record.fault ? ` (fault ${record.fault})` : ''}`);
    };

    // Jira answers HEAD as GET without the body (node:http drops the body of a HEAD response).
    const match = matchRoute(method === 'HEAD' ? 'GET' : method, path);
    const fault = faults.take({ method, path, noopable: match.kind === 'route' && match.route.noopable === true });
    if (fault) record.fault = fault.kind;
    const delay = opts.latencyMs + (fault?.kind === 'latency' ? (fault.latencyMs ?? 0) : 0);
    if (delay > 0) await sleep(delay);
    if (fault?.kind === 'drop') {
      finish(0);
      req.socket.destroy();
      return;
    }
    if (fault?.kind === '429' || fault?.kind === '503') {
      faultResponse(res, fault, headers);
      finish(res.statusCode);
      return;
    }

    try {
      if (match.kind === 'none') throw problem(404, 'Not Found', `No endpoint ${method} ${path}.`, path);
      if (match.kind === 'method-not-allowed') {
        throw problem(405, 'Method Not Allowed', `Method '${method}' is not supported.`, path, { Allow: match.allow.join(', ') });
      }
      const { route, params } = match;
      let user = ANONYMOUS;
      if (!route.removed) {
        const auth = authenticate(req.headers.authorization);
        if (auth.kind === 'user') {
          user = auth.user;
          record.user = auth.user.accountId;
          record.authScheme = auth.scheme;
        } else if (!(auth.kind === 'anonymous' && route.anonymous)) {
          const wantsJson = (req.headers.accept ?? '').includes('application/json');
          throw new JiraHttpError(401, UNAUTHENTICATED, {
            contentType: wantsJson ? JIRA_JSON : 'text/plain;charset=UTF-8',
            headers: {
              'WWW-Authenticate': `OAuth realm="${encodeURIComponent(baseUrl)}"`,
              ...(auth.kind === 'rejected' ? { 'X-Seraph-LoginReason': 'AUTHENTICATED_FAILED' } : {}),
            },
          });
        }
      }
      let body: unknown;
      if (raw.trim() !== '' && route.body !== undefined) {
        const contentType = req.headers['content-type'];
        if (!contentType || !/^application\/json\b/i.test(contentType)) {
          throw problem(415, 'Unsupported Media Type', `Content-Type '${contentType ?? 'null'}' is not supported.`, path, { Accept: 'application/json' });
        }
        try {
          body = JSON.parse(raw) as unknown;
        } catch {
          throw badBody(BODY_UNPARSEABLE);
        }
      } else if (route.body === 'required') {
        throw badBody(BODY_EMPTY);
      }
      const simReq: SimRequest = { method, path, params, query: url.searchParams, body, user, store, baseUrl, noop: fault?.kind === 'noop_write' };
      const response: SimResponse = route.handler(simReq);
      send(res, response.status, response.body, JIRA_JSON, headers);
      finish(response.status);
    } catch (error) {
      if (error instanceof JiraHttpError) {
        send(res, error.status, error.body, error.contentType, { ...headers, ...error.headers });
        finish(error.status);
        return;
      }
      emit(`sim ${method} ${path} internal error: ${describeError(error)}`);
      send(res, 500, errorCollection(['Internal server error']), JIRA_JSON, headers);
      finish(500);
    }
  };

  const server = createServer((req, res) => {
    const method = (req.method ?? 'GET').toUpperCase();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://simulator.invalid');
    } catch {
      send(res, 400, errorCollection(['Malformed request URL.']), JIRA_JSON, {});
      return;
    }
    readBody(req)
      .then(async (raw) => {
        if (isAdminPath(url.pathname)) {
          const allowed = adminAllowed(req);
          if (allowed !== 'ok') {
            send(res, allowed === 'browser' ? 403 : 404, { error: allowed === 'browser' ? 'the admin endpoint refuses browser requests' : 'not found' }, 'application/json', {});
            return;
          }
          const answer = handleAdmin({ store, faults, requests: () => recorder.list(), clearRequests: () => recorder.clear() }, method, url.pathname, raw);
          send(res, answer.status, answer.body, 'application/json', {});
          return;
        }
        await handleJira(req, res, method, url, raw);
      })
      .catch((error: unknown) => {
        if (error instanceof BodyTooLarge) {
          if (!res.headersSent) send(res, 413, errorCollection(['The request body is too large.']), JIRA_JSON, { Connection: 'close' });
          return;
        }
        emit(`sim request failed: ${describeError(error)}`);
        if (!res.headersSent) send(res, 500, errorCollection(['Internal server error']), JIRA_JSON, {});
        else res.destroy();
      });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  baseUrl = `http://${urlHost(opts.host)}:${address.port}`;
  emit(`sim listening on ${baseUrl} (seed ${opts.seed}, admin under ${ADMIN_PREFIX}/ for loopback callers)`);

  let closed: Promise<void> | undefined;
  return {
    url: baseUrl,
    port: address.port,
    faults,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
    snapshot: () => store.snapshot(),
    stateHash: () => store.hash(),
    moveIssue: (key, toProject) => {
      const moved = store.moveIssue(key, toProject);
      if (!moved) throw new Error(`cannot move ${key} to ${toProject}`);
      return moved.key;
    },
    requests: () => recorder.list(),
    clearRequests: () => recorder.clear(),
    reset(seed?: number) {
      store.reset(seed);
      faults.clear();
      recorder.clear();
    },
  };
}
