import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { loadServerConfig } from '../config/server-config.js';
import { CstError } from '../cst/errors.js';
import type { ReplayClaims } from '../cst/replay-store.js';
import type { VerifiedCst } from '../cst/verify.js';
import type { ServerName } from '../gate/gate.js';
import { loadTrustFile } from '../gate/wiring.js';
import type { Tool } from '../gate/tool.js';
import { loadSigningKey } from '../keys/store.js';
import { ReceiptLog } from '../receipts/log.js';
import type { DecisionStage } from '../receipts/types.js';
import { effectiveOperations } from '../policy/decide.js';
import { createClawServer } from '../servers/factory.js';
import { PostgresGateState } from '../state/postgres/gate-state.js';
import { PostgresKillSwitch } from '../state/postgres/kill-switch.js';
import { checkSchema } from '../state/postgres/migrations.js';
import { openStateDb, type StateDb } from '../state/postgres/pool.js';
import { PostgresReplayStore } from '../state/postgres/replay-store.js';
import { READ_TOOLS } from '../tools/read-tools.js';
import { STATUS_TOOL_NAME } from '../tools/status-tool.js';
import { WRITE_TOOLS } from '../tools/write-tools.js';
import { hashAddress } from '../util/canonical.js';
import { ClawError, codeOf, describeError } from '../util/errors.js';
import { bearerToken, routeOf, type TokenRoute } from './bearer.js';
import { GatePool, RequestContext, requestExecutor, type RequestState } from './gates.js';
import { checkJsonRpc, JSONRPC_INVALID_REQUEST, JSONRPC_PARSE_ERROR, parseJsonBody, readBody, sendJson, sendRefusal } from './http-io.js';
import { ENDPOINTS, METADATA_PATH, resourceMetadata, wwwAuthenticate } from './metadata.js';
import { RateLimiter } from './rate-limit.js';
import { clientAddressKey } from './client-address.js';
import { PinnedWpcs } from './pinned-wpcs.js';
import type { ServeOptions } from './options.js';

/** Refusals before any job is known are receipted here: a folder name no job can have (jobs start with a letter or digit). */
export const SERVICE_LOG_DIR = '_serve';

const TOOLS: Readonly<Record<ServerName, readonly Tool[]>> = { 'jira-read': READ_TOOLS, 'jira-write': WRITE_TOOLS };

/** Settings the service takes from the token instead of the environment. */
export const PER_TOKEN_VARIABLES: ReadonlySet<string> = new Set(['CLAW_JOB_ID', 'CLAW_WPC', 'CLAW_CST_FILE']);

export interface RunningService {
  /** The public base URL: endpoints are `${url}/mcp/read` and `${url}/mcp/write`. */
  url: string;
  close(): Promise<void>;
}

/** What is known of a request when it is refused: where it came from, and its token's hash and route once read. */
interface RequestFacts {
  address: string;
  tokenHash?: string;
  route?: TokenRoute;
}

/** A refusal before MCP: its HTTP status, stable code and the stage receipts file it under. */
class Refusal extends ClawError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly stage: DecisionStage,
    readonly headers: Record<string, string> = {},
    readonly jsonrpc?: number,
  ) {
    super(code, message);
  }
}

/**
 * `claw-jira serve`: the gate and tools of both stdio servers over MCP Streamable HTTP (stateless: one MCP
 * server per request), authenticated by the CST as an OAuth 2.0 bearer token. The job and the WPC come from
 * the token; every refusal before MCP (401, 403, 413, 429, 400) gets a receipt. Throws on any start-up
 * problem: a service does not come up half-configured.
 */
export async function startService(options: ServeOptions, env: NodeJS.ProcessEnv): Promise<RunningService> {
  const { config, problems } = loadServerConfig(env);
  const remaining = problems.filter((problem) => !PER_TOKEN_VARIABLES.has(problem.variable));
  if (remaining.length > 0) throw new ClawError('CONFIG_INVALID', remaining.map((p) => `${p.variable} ${p.message}`).join('; '));
  // The same checks each gate makes (modes, CLAW_TRUST_SHA256 pin), at start: a bad trust file stops the service.
  const trust = (await loadTrustFile(config)).store;
  const receiptKey = await loadSigningKey(config.home, 'receipt');
  let db: StateDb | undefined;
  let replay: ReplayClaims | undefined;
  if (options.stateUrl) {
    db = openStateDb(options.stateUrl);
    try {
      await checkSchema(db);
    } catch (error) {
      await db.close();
      throw error;
    }
    replay = new PostgresReplayStore(db);
  }
  const killSwitch = db ? new PostgresKillSwitch(db) : undefined;

  const serviceLog = ReceiptLog.open({ bundleDir: join(config.home.bundlesDir, SERVICE_LOG_DIR), job: SERVICE_LOG_DIR, server: 'claw-serve', key: receiptKey });
  const requests = new RequestContext();
  let publicUrl = '';
  // With CLAW_STATE_URL every gate keeps budgets, approvals, the revocation mark and its receipts in the database.
  const state = db ? new PostgresGateState(db, { receiptKey, trust, maxPendingApprovals: config.maxPendingApprovals }) : undefined;
  const gates = new GatePool(config, (server) => `${publicUrl}${endpointOf(server)}`, replay, state, options.maxGates);
  const tokenLimiter = new RateLimiter(options.tokenRate);
  const jobLimiter = new RateLimiter(options.jobRate);
  // Spent by refusals before authentication only: an agent's own traffic never spends it.
  const failureLimiter = new RateLimiter(options.failureRate);
  /** Addresses already receipted as turned away; one leaves the set once its bucket has refilled. */
  const turnedAway = new Set<string>();
  const pinnedWpcs = new PinnedWpcs(config.registry, trust);

  const refuse = (res: ServerResponse, path: string, refusal: Refusal, context: RequestFacts, receipted = true): void => {
    // A failed authentication costs the address that sent it; past its limit the address is turned away unread.
    if (context.address && (refusal.status === 401 || refusal.code === 'ORIGIN_NOT_ALLOWED')) failureLimiter.take(context.address);
    let receipt: string | undefined;
    if (receipted) {
      try {
        receipt = serviceLog.append({
          kind: 'decision',
          time: new Date().toISOString(),
          decision: { effect: 'deny', stage: refusal.stage, reasons: [{ code: refusal.code, rule: `serve.http_${refusal.status}` }] },
          ...(context.route ? { wpc_hash: context.route.wpcHash } : {}),
          event: {
            type: 'serve.refused',
            endpoint: path.slice(0, 100),
            http_status: refusal.status,
            ...(context.tokenHash ? { token_hash: context.tokenHash } : {}),
            ...(context.route ? { job: context.route.job } : {}),
            ...(refusal.code === 'ADDRESS_RATE_LIMITED' && context.address ? { client: context.address } : {}),
          },
          // Not synced one by one: a flood of bad requests must not become a flood of disk syncs. Nothing
          // follows a refusal, so no later step depends on it being on disk; the next synced append flushes it.
        }, { durable: false }).hash;
      } catch {
        // Refused all the same: a refusal never waits on, or fails with, the service log.
      }
    }
    sendRefusal(res, refusal.status, { code: refusal.code, message: refusal.message, receipt, ...(refusal.jsonrpc ? { jsonrpc: refusal.jsonrpc } : {}) }, refusal.headers);
  };

  const unauthorized = (path: string, code: string, message: string, hasToken: boolean): Refusal => {
    const error = hasToken ? { error: 'invalid_token' as const, description: code } : undefined;
    return new Refusal(401, code, message, 'cst', { 'www-authenticate': wwwAuthenticate(publicUrl, path, error) });
  };

  const handleMcp = async (req: IncomingMessage, res: ServerResponse, path: string, server: ServerName): Promise<void> => {
    const context: RequestFacts = { address: clientAddressKey(req, options.behindTlsProxy) };
    try {
      const blocked = failureLimiter.wait(context.address);
      if (blocked > 0) {
        // No token parsed, no signature checked, no body read: one receipt when the address is first turned
        // away, then only a short answer until its bucket refills.
        const first = !turnedAway.has(context.address);
        if (first && turnedAway.size >= 10_000) turnedAway.clear();
        turnedAway.add(context.address);
        const limited = new Refusal(429, 'ADDRESS_RATE_LIMITED', `too many failed requests from this address; retry after ${blocked}s`, 'cst', { 'retry-after': String(blocked), connection: 'close' });
        return refuse(res, path, limited, context, first);
      }
      turnedAway.delete(context.address);
      if (req.method !== 'POST') {
        // Stateless: no server-to-client stream to GET and no session to DELETE.
        throw new Refusal(405, 'METHOD_NOT_ALLOWED', 'this endpoint takes POST only', 'config', { allow: 'POST' });
      }
      // MCP transport rule against DNS rebinding: a browser page's Origin must be one the operator allowed.
      const origin = req.headers.origin;
      if (origin !== undefined && !options.allowedOrigins.includes(origin)) {
        throw new Refusal(403, 'ORIGIN_NOT_ALLOWED', 'requests from this Origin are not accepted (CLAW_SERVE_ALLOWED_ORIGINS)', 'config');
      }
      let token: string | undefined;
      try {
        token = bearerToken(req);
      } catch (error) {
        throw unauthorized(path, 'CST_MALFORMED', describeError(error), true);
      }
      if (token === undefined) throw unauthorized(path, 'CST_MISSING', 'send the CST as Authorization: Bearer <token>', false);
      context.tokenHash = hashAddress(token);
      let route: TokenRoute;
      try {
        route = routeOf(token, trust);
      } catch (error) {
        throw unauthorized(path, codeOf(error, 'CST_MALFORMED'), describeError(error), true);
      }
      context.route = route;
      // Issuer-signed from here, so the job named is not an attacker's choice; limits come before any work.
      // A call the token's bucket refuses does not spend the job's.
      const wait = tokenLimiter.take(context.tokenHash) || jobLimiter.take(route.job);
      if (wait > 0) throw new Refusal(429, 'RATE_LIMITED', `too many requests for this token or job; retry after ${wait}s`, 'budget', { 'retry-after': String(wait) });

      // A token pinning a WPC the registry does not give is refused here, from memory when seen lately: it
      // never opens a gate, and so never a receipt session, per request.
      try {
        await pinnedWpcs.check(route.wpcHash);
      } catch (error) {
        const code = codeOf(error, 'WPC_FAILED');
        if (code.endsWith('_UNAVAILABLE')) throw new Refusal(503, code, describeError(error), 'config', { 'retry-after': '5' });
        throw unauthorized(path, code, describeError(error), true);
      }

      const request: RequestState = { token };
      const lease = await gates.get(server, route, requests);
      // Held until the response is done: an eviction meanwhile closes the gate only after this request.
      res.once('close', lease.release);
      const gate = lease.gate;
      let verified: VerifiedCst;
      try {
        const checked = await requests.run(request, () => gate.verifyCurrentToken());
        if (!checked) throw new CstError('CST_MISSING', 'no token was presented');
        verified = checked;
      } catch (error) {
        const code = codeOf(error, 'CST_MALFORMED');
        // A state or registry outage is the service's failure, not the token's: 503, and the client may retry.
        if (code.endsWith('_UNAVAILABLE')) throw new Refusal(503, code, describeError(error), 'cst', { 'retry-after': '5' });
        throw unauthorized(path, code, describeError(error), true);
      }
      const executor = requestExecutor(gate, request, requests);
      // From the token just verified, not a second verification (each one is a replay claim on the database).
      const permitted = new Set(gate.wpc ? effectiveOperations(gate.wpc.policy, verified.claims.scope) : []);
      if (!TOOLS[server].some((tool) => permitted.has(tool.operation))) {
        throw new Refusal(403, 'CST_INSUFFICIENT_SCOPE', `this token permits no ${server} operation`, 'cst', {
          'www-authenticate': wwwAuthenticate(publicUrl, path, { error: 'insufficient_scope', description: 'CST_INSUFFICIENT_SCOPE' }),
        });
      }

      let body: unknown;
      try {
        body = parseJsonBody(await readBody(req, options.maxBodyBytes));
      } catch (error) {
        const code = codeOf(error, 'BODY_UNREADABLE');
        throw new Refusal(code === 'BODY_TOO_LARGE' ? 413 : 400, code, describeError(error), 'config', code === 'BODY_TOO_LARGE' ? { connection: 'close' } : {}, JSONRPC_PARSE_ERROR);
      }
      try {
        checkJsonRpc(body);
      } catch (error) {
        throw new Refusal(400, 'BODY_NOT_JSONRPC', describeError(error), 'config', {}, JSONRPC_INVALID_REQUEST);
      }

      if (killSwitch && (server === 'jira-write' || callsStatusTool(body))) {
        // Read for every write request, so `writes disable` on the database stops every replica at its next call;
        // and for the status tool on either endpoint, so it reports the switch every replica obeys.
        try {
          request.killSwitch = await killSwitch.read();
        } catch (error) {
          throw new Refusal(503, codeOf(error, 'STATE_UNAVAILABLE'), describeError(error), 'kill_switch', { 'retry-after': '5' });
        }
      }

      const mcp = createClawServer({ name: server, tools: TOOLS[server], executor });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close().catch(() => undefined);
        void mcp.close().catch(() => undefined);
      });
      await mcp.connect(transport);
      await transport.handleRequest(req, res, body);
    } catch (error) {
      if (error instanceof Refusal) return refuse(res, path, error, context);
      process.stderr.write(`claw-jira serve: unexpected error: ${describeError(error)}\n`);
      refuse(res, path, new Refusal(500, 'INTERNAL_ERROR', 'internal error', 'config'), context);
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://service').pathname;
    if (req.method === 'GET' && (path === METADATA_PATH || path.startsWith(`${METADATA_PATH}/`))) {
      const resourcePath = path.slice(METADATA_PATH.length);
      // The bare well-known URL describes the service as a whole; each endpoint has its own per-path document.
      if (resourcePath === '') return sendJson(res, 200, { ...resourceMetadata(publicUrl, '', options.authorizationServers), resource: publicUrl });
      if (ENDPOINTS[resourcePath]) return sendJson(res, 200, resourceMetadata(publicUrl, resourcePath, options.authorizationServers));
    }
    const server = ENDPOINTS[path];
    if (!server) return sendJson(res, 404, { error: 'not_found', code: 'NOT_FOUND' });
    void handleMcp(req, res, path, server);
  };

  const http: HttpServer = options.tls
    ? createHttpsServer({ key: readFileSync(options.tls.keyFile), cert: readFileSync(options.tls.certFile) }, handle)
    : createHttpServer(handle);
  // Slow or idle clients must not hold sockets open indefinitely.
  http.requestTimeout = 120_000;
  http.headersTimeout = 20_000;
  await new Promise<void>((resolve, reject) => {
    http.once('error', (error: NodeJS.ErrnoException) => reject(new ClawError('SERVE_LISTEN_FAILED', `cannot listen on ${options.host}:${options.port}: ${error.code ?? error.message}`)));
    http.listen(options.port, options.host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const hostInUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  publicUrl = options.publicUrl ?? `${options.tls ? 'https' : 'http'}://${hostInUrl}:${port}`;
  serviceLog.append({ kind: 'event', time: new Date().toISOString(), event: { type: 'serve.start', url: publicUrl, pid: process.pid, state: db ? 'postgres' : 'files' } });

  return {
    url: publicUrl,
    async close() {
      // In-flight calls finish (their receipts are written); idle keep-alive sockets are closed now.
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      await closed;
      await gates.closeAll();
      serviceLog.append({ kind: 'event', time: new Date().toISOString(), event: { type: 'serve.stop' } });
      serviceLog.close();
      await db?.close();
    },
  };
}

/** Whether a JSON-RPC body (one message or a batch) calls the status tool. */
function callsStatusTool(body: unknown): boolean {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  return messages.some((message) => {
    const { method, params } = (message ?? {}) as { method?: unknown; params?: { name?: unknown } };
    return method === 'tools/call' && params?.name === STATUS_TOOL_NAME;
  });
}

function endpointOf(server: ServerName): string {
  return Object.entries(ENDPOINTS).find((entry) => entry[1] === server)?.[0] ?? '';
}
