import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATUS_TOOL_NAME } from '../../src/tools/status-tool.js';
import { World } from '../e2e/harness.js';
import { endpointToken, httpClient, LIST_TOOLS, post, serviceRefusals, serveRefuses, startServe, type RunningServe } from './harness.js';

interface Called {
  isError: boolean;
  structured: Record<string, unknown>;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<Called> {
  const result = await client.callTool({ name, arguments: args });
  return { isError: result.isError === true, structured: (result.structuredContent ?? {}) as Record<string, unknown> };
}

const names = async (client: Client) => (await client.listTools()).tools.map((tool) => tool.name).sort();

describe('claw-jira serve: the gate over MCP Streamable HTTP, the CST as bearer token', () => {
  let world: World;
  let serve: RunningServe;
  let readUrl: string;
  let writeUrl: string;
  let readOnlyHash: string;
  const clients: Client[] = [];
  const connect = async (endpoint: string, token: string) => {
    const client = await httpClient(endpoint, token);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', job: 'job-a' });
    readOnlyHash = await world.signWpc('read-only.json');
    serve = await startServe(world);
    readUrl = `${serve.url}/mcp/read`;
    writeUrl = `${serve.url}/mcp/write`;
  });
  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await serve?.stop();
    await world?.close();
  });

  it('publishes RFC 9728 metadata per endpoint, the endpoint URL as resource', async () => {
    const perPath = await fetch(`${serve.url}/.well-known/oauth-protected-resource/mcp/write`);
    expect(perPath.status).toBe(200);
    expect(await perPath.json()).toMatchObject({ resource: writeUrl, bearer_methods_supported: ['header'] });
    const root = await fetch(`${serve.url}/.well-known/oauth-protected-resource`);
    expect((await root.json()) as unknown).toMatchObject({ resource: serve.url });
  });

  it('refuses a request without a token: 401 naming the metadata URL, and a receipt', async () => {
    const response = await post(readUrl, LIST_TOOLS);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${serve.url}/.well-known/oauth-protected-resource/mcp/read"`);
    const body = (await response.json()) as { error: { data: { code: string; receipt: string } } };
    expect(body.error.data.code).toBe('CST_MISSING');
    expect(serviceRefusals(world, 'CST_MISSING').map((receipt) => receipt.event?.http_status)).toContain(401);
    // The SDK client meets the same refusal.
    await expect(httpClient(readUrl, undefined)).rejects.toThrow();
  });

  it('lists the read tools on /mcp/read (never a write tool) and serves a read under the token\'s job', async () => {
    const client = await connect(readUrl, await endpointToken(world, readUrl));
    expect(await names(client)).toEqual(['jira_get_changelog', 'jira_get_comments', 'jira_get_issue', STATUS_TOOL_NAME, 'jira_get_transitions', 'jira_search_issues']);
    const issue = await call(client, 'jira_get_issue', { issue_key: 'ENG-1' });
    expect(issue.isError).toBe(false);
    expect((issue.structured.data as { key: string }).key).toBe('ENG-1');
    const receipts = world.receipts(join(world.home, 'bundles', 'job-a'));
    expect(receipts.some((receipt) => receipt.kind === 'outcome' && receipt.tool === 'jira_get_issue' && receipt.outcome?.status === 'succeeded')).toBe(true);
  });

  it('refuses a write tool called by name on /mcp/read, with a receipt, and Jira sees no write', async () => {
    const client = await connect(readUrl, await endpointToken(world, readUrl));
    world.sim.clearRequests();
    const refused = await call(client, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: 'through the read door' });
    expect(refused).toMatchObject({ isError: true, structured: { code: 'TOOL_UNKNOWN' } });
    expect(world.sim.requests()).toEqual([]);
    const receipts = world.receipts(join(world.home, 'bundles', 'job-a'));
    expect(receipts.some((receipt) => receipt.tool === 'jira_create_issue' && receipt.server === 'jira-read' && receipt.decision?.effect === 'deny')).toBe(true);
  });

  it('creates an issue on /mcp/write, and refuses a write the WPC denies before Jira sees it', async () => {
    const client = await connect(writeUrl, await endpointToken(world, writeUrl));
    expect(await names(client)).toEqual(['jira_add_comment', 'jira_create_issue', STATUS_TOOL_NAME]);
    const created = await call(client, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: 'made over HTTP' });
    expect(created.isError).toBe(false);
    const key = (created.structured.data as { issue_key: string }).issue_key;
    expect(world.sim.snapshot().issues.some((issue) => issue.key === key)).toBe(true);

    const before = world.sim.stateHash();
    world.sim.clearRequests();
    const denied = await call(client, 'jira_create_issue', { project_key: 'OPS', issue_type: 'Task', summary: 'outside the policy' });
    expect(denied.isError).toBe(true);
    expect(denied.structured.code).toBe('PROJECT_NOT_ALLOWED');
    expect(world.sim.stateHash()).toBe(before);
    expect(world.sim.requests().filter((request) => request.method !== 'GET')).toEqual([]);
    const denials = world.receipts(join(world.home, 'bundles', 'job-a')).filter((receipt) => receipt.decision?.effect === 'deny');
    expect(denials.some((receipt) => receipt.decision?.reasons.some((reason) => reason.code === denied.structured.code))).toBe(true);
  });

  it('refuses a token for another endpoint or audience with 401 invalid_token, and a receipt', async () => {
    world.sim.clearRequests();
    for (const token of [await endpointToken(world, readUrl), await endpointToken(world, 'claw-jira')]) {
      const response = await post(writeUrl, LIST_TOOLS, { authorization: `Bearer ${token}` });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(response.headers.get('www-authenticate')).toContain(`resource_metadata="${serve.url}/.well-known/oauth-protected-resource/mcp/write"`);
      expect(((await response.json()) as { error: { data: { code: string } } }).error.data.code).toBe('CST_WRONG_AUDIENCE');
    }
    expect(serviceRefusals(world, 'CST_WRONG_AUDIENCE').length).toBeGreaterThanOrEqual(2);
    expect(world.sim.requests()).toEqual([]);
  });

  it('refuses a forged or malformed token with 401, before any gate opens for the job it names', async () => {
    const token = await endpointToken(world, readUrl, { job: 'job-forged' });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, job: 'job-victim' })).toString('base64url')}.${signature}`;
    for (const [bearer, code] of [
      [forged, 'CST_BAD_SIGNATURE'],
      ['not-a-token', 'CST_MALFORMED'],
    ] as const) {
      const response = await post(readUrl, LIST_TOOLS, { authorization: `Bearer ${bearer}` });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { data: { code: string } } }).error.data.code).toBe(code);
      expect(serviceRefusals(world, code).length).toBeGreaterThan(0);
    }
    expect(world.receipts(join(world.home, 'bundles', 'job-victim'))).toEqual([]);
  });

  it('refuses a request from a browser Origin it was not told to allow (DNS rebinding), with a receipt', async () => {
    const token = await endpointToken(world, readUrl);
    const response = await post(readUrl, LIST_TOOLS, { authorization: `Bearer ${token}`, origin: 'http://attacker.example' });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { data: { code: string } } }).error.data.code).toBe('ORIGIN_NOT_ALLOWED');
    expect(serviceRefusals(world, 'ORIGIN_NOT_ALLOWED').length).toBe(1);
  });

  it('refuses a token revoked while the service runs, at its next request (401 CST_REVOKED)', async () => {
    const token = await endpointToken(world, readUrl);
    expect((await post(readUrl, LIST_TOOLS, { authorization: `Bearer ${token}` })).status).toBe(200);
    await world.cliOk(['cst', 'revoke', token, '--reason', 'leaked']);
    const response = await post(readUrl, LIST_TOOLS, { authorization: `Bearer ${token}` });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { data: { code: string } } }).error.data.code).toBe('CST_REVOKED');
  });

  it('answers 403 insufficient_scope for a valid token that permits nothing on the endpoint', async () => {
    const token = await endpointToken(world, writeUrl, { extra: ['--ops', 'issue.get'] });
    const response = await post(writeUrl, LIST_TOOLS, { authorization: `Bearer ${token}` });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(serviceRefusals(world, 'CST_INSUFFICIENT_SCOPE').length).toBe(1);
  });

  it('serves two jobs under two WPCs from one process, each into its own bundle', async () => {
    const jobB = await connect(readUrl, await endpointToken(world, readUrl, { job: 'job-b', wpcHash: readOnlyHash }));
    // read-only.json allows project.read, seed does not: one endpoint, two tool lists.
    expect(await names(jobB)).toContain('jira_list_projects');
    expect((await call(jobB, 'jira_list_projects', {})).isError).toBe(false);
    const jobA = await connect(readUrl, await endpointToken(world, readUrl));
    expect(await names(jobA)).not.toContain('jira_list_projects');
    // The same tool through the same endpoint is refused for job A, whose WPC (seed) does not allow it.
    expect((await call(jobA, 'jira_list_projects', {})).isError).toBe(true);

    const bReceipts = world.receipts(join(world.home, 'bundles', 'job-b'));
    const aReceipts = world.receipts(join(world.home, 'bundles', 'job-a'));
    expect(bReceipts.some((receipt) => receipt.tool === 'jira_list_projects' && receipt.kind === 'outcome')).toBe(true);
    expect(new Set(bReceipts.map((receipt) => receipt.job))).toEqual(new Set(['job-b']));
    expect(new Set(bReceipts.filter((r) => r.wpc_hash).map((receipt) => receipt.wpc_hash))).toEqual(new Set([readOnlyHash]));
    expect(new Set(aReceipts.filter((r) => r.wpc_hash).map((receipt) => receipt.wpc_hash))).toEqual(new Set([world.wpcHash]));
    expect(aReceipts.some((receipt) => receipt.tool === 'jira_list_projects' && receipt.decision?.effect === 'deny')).toBe(true);
  });

  it('leaves, per job, a bundle that seals and verifies once the service has stopped', async () => {
    for (const client of clients.splice(0)) await client.close().catch(() => undefined);
    expect(await serve.stop()).toBe(0);
    for (const job of ['job-a', 'job-b']) {
      await world.cliOk(['bundle', 'seal', job]);
      const verified = await world.cli(['bundle', 'verify', job, '--trust', join(world.home, 'trust.json')]);
      expect(verified.code, verified.out + verified.err).toBe(0);
    }
  });

  it('refuses to listen off loopback without TLS', async () => {
    const refused = await serveRefuses(world, {}, ['--host', '0.0.0.0']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('SERVE_INSECURE_BIND');
  });

  it('refuses to start on a trust file that does not match CLAW_TRUST_SHA256', async () => {
    const refused = await serveRefuses(world, { CLAW_TRUST_SHA256: `sha256:${'0'.repeat(64)}` });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('TRUST_PIN_MISMATCH');
  });
});

describe('claw-jira serve: rate limits and request bodies', () => {
  let world: World;
  let serve: RunningServe;
  let readUrl: string;

  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', job: 'job-limits' });
    serve = await startServe(world, { CLAW_SERVE_TOKEN_RATE: '3/h', CLAW_SERVE_JOB_RATE: '5/h', CLAW_SERVE_MAX_BODY_BYTES: '4096' });
    readUrl = `${serve.url}/mcp/read`;
  });
  afterAll(async () => {
    await serve?.stop();
    await world?.close();
  });

  it('holds each token and each job to its rate: 429 with Retry-After, and a receipt', async () => {
    const first = await endpointToken(world, readUrl);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(readUrl, LIST_TOOLS, { authorization: `Bearer ${first}` })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // A second token of the same job has its own bucket, but the job's (5/h) is nearly spent: 2 more pass.
    const second = await endpointToken(world, readUrl);
    const more = [];
    for (let i = 0; i < 3; i++) more.push(await post(readUrl, LIST_TOOLS, { authorization: `Bearer ${second}` }));
    expect(more.map((response) => response.status)).toEqual([200, 200, 429]);
    const limited = more[2] as Response;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { error: { data: { code: string } } }).error.data.code).toBe('RATE_LIMITED');
    expect(serviceRefusals(world, 'RATE_LIMITED').length).toBe(2);
    // Another job is not held by this one's limit.
    const other = await endpointToken(world, readUrl, { job: 'job-other' });
    expect((await post(readUrl, LIST_TOOLS, { authorization: `Bearer ${other}` })).status).toBe(200);
  });

  it('refuses an oversized body with 413 and bad JSON with 400, each with its code', async () => {
    const token = await endpointToken(world, readUrl, { job: 'job-bodies' });
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { pad: 'x'.repeat(100_000) } });
    const oversized = await post(readUrl, big, { authorization: `Bearer ${token}` });
    expect(oversized.status).toBe(413);
    expect(((await oversized.json()) as { error: { data: { code: string } } }).error.data.code).toBe('BODY_TOO_LARGE');
    const bad = await post(readUrl, '{"jsonrpc": "2.0", "id": 1, "method": ', { authorization: `Bearer ${token}` });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { code: number; data: { code: string } } };
    expect(body.error).toMatchObject({ code: -32700, data: { code: 'BODY_NOT_JSON' } });
    expect(serviceRefusals(world, 'BODY_TOO_LARGE').length).toBe(1);
    expect(serviceRefusals(world, 'BODY_NOT_JSON').length).toBe(1);
  });
});

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** One HTTPS request that trusts only the given CA: what a client configured with the service's certificate does. */
function httpsRequest(url: string, ca: Buffer, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, ca }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const opensslMissing = !hasOpenssl();
if (opensslMissing) process.stderr.write('tests/serve/serve.test.ts: TLS test skipped: no openssl to make a test certificate\n');

describe.skipIf(opensslMissing)('claw-jira serve over TLS (key and certificate files)', () => {
  let world: World;
  let serve: RunningServe;

  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', job: 'job-tls' });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(world.dir, 'tls.key'), '-out', join(world.dir, 'tls.crt')], { stdio: 'ignore' });
    serve = await startServe(world, {}, ['--tls-key', join(world.dir, 'tls.key'), '--tls-cert', join(world.dir, 'tls.crt')]);
  });
  afterAll(async () => {
    await serve?.stop();
    await world?.close();
  });

  it('serves https, with https resource identifiers, and authenticates as over http', async () => {
    expect(serve.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(join(world.dir, 'tls.crt'));
    const metadata = await httpsRequest(`${serve.url}/.well-known/oauth-protected-resource/mcp/read`, ca);
    expect(JSON.parse(metadata.body)).toMatchObject({ resource: `${serve.url}/mcp/read` });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const anonymous = await httpsRequest(`${serve.url}/mcp/read`, ca, { method: 'POST', headers, body: LIST_TOOLS });
    expect(anonymous.status).toBe(401);
    const token = await endpointToken(world, `${serve.url}/mcp/read`);
    const listed = await httpsRequest(`${serve.url}/mcp/read`, ca, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` }, body: LIST_TOOLS });
    expect(listed.status).toBe(200);
    expect((JSON.parse(listed.body) as { result: { tools: unknown[] } }).result.tools.length).toBe(6);
  });
});
