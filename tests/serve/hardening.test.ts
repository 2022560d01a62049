/**
 * Attacks on a running `claw-jira serve` (the built CLI, the simulator, real sockets), each with the proof it
 * failed: an unauthenticated flood is turned away unread once its address has spent its failures; a token
 * pinning a WPC the registry does not have never opens a gate or a receipt session; a gate evicted from the
 * pool while a request holds it still serves that request; a body that is JSON but not JSON-RPC is refused
 * with its code.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/util/canonical.js';
import { World } from '../e2e/harness.js';
import { endpointToken, LIST_TOOLS, post, serviceRefusals, startServe, type RunningServe } from './harness.js';

interface Answer {
  status: number;
  code: string | undefined;
  body: string;
}

const codeOf = (body: string): string | undefined => {
  try {
    return (JSON.parse(body) as { error?: { data?: { code?: string } } }).error?.data?.code;
  } catch {
    return undefined;
  }
};

/**
 * A POST from a chosen loopback address (Linux routes all of 127/8 to lo), so one test can be two clients.
 * `hold` keeps the body back until the returned `send` is called.
 */
function postFrom(localAddress: string, url: string, body: string, headers: Record<string, string> = {}, hold = false): { answer: Promise<Answer>; send: () => void } {
  let send = () => undefined as void;
  const answer = new Promise<Answer>((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      localAddress,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': String(Buffer.byteLength(body)), ...headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: codeOf(text), body: text }));
    });
    req.on('error', reject);
    if (hold) {
      req.flushHeaders();
      send = () => void req.end(body);
    } else req.end(body);
  });
  return { answer, send };
}

const jtiOf = (token: string): string => (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { jti: string }).jti;

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('claw-jira serve under attack', () => {
  let world: World;
  let serve: RunningServe;
  let readUrl: string;

  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', job: 'job-hard' });
    serve = await startServe(world, { CLAW_SERVE_FAILURE_RATE: '3/h', CLAW_SERVE_MAX_GATES: '1' });
    readUrl = `${serve.url}/mcp/read`;
  });
  afterAll(async () => {
    await serve?.stop();
    await world?.close();
  });

  it('turns away an address that has spent its failed authentications, unread and with one receipt; another address is served', async () => {
    const flood: Answer[] = [];
    for (let i = 0; i < 8; i++) flood.push(await postFrom('127.0.0.3', readUrl, LIST_TOOLS).answer);
    expect(flood.map((answer) => answer.status)).toEqual([401, 401, 401, 429, 429, 429, 429, 429]);
    expect(flood.slice(3).every((answer) => answer.code === 'ADDRESS_RATE_LIMITED')).toBe(true);
    // Past the limit the requests cost no receipt each: one says when the address was first turned away.
    expect(serviceRefusals(world, 'CST_MISSING')).toHaveLength(3);
    const limited = serviceRefusals(world, 'ADDRESS_RATE_LIMITED');
    expect(limited).toHaveLength(1);
    expect(limited[0]?.event?.client).toBe('127.0.0.3');
    // Not even a forged token is looked at from that address now.
    const token = await endpointToken(world, readUrl);
    const forged = `${token.slice(0, -4)}AAAA`;
    expect((await postFrom('127.0.0.3', readUrl, LIST_TOOLS, { authorization: `Bearer ${forged}` }).answer).code).toBe('ADDRESS_RATE_LIMITED');
    expect(serviceRefusals(world, 'CST_BAD_SIGNATURE')).toHaveLength(0);
    // Valid traffic never spends the failure budget, and another address is not held by this one.
    for (let i = 0; i < 5; i++) expect((await postFrom('127.0.0.4', readUrl, LIST_TOOLS, { authorization: `Bearer ${token}` }).answer).status).toBe(200);
  });

  it('refuses a token that pins a WPC the registry does not have, without opening a gate or a receipt session for its job', async () => {
    const hash = await world.signWpc('read-only.json');
    const token = await endpointToken(world, readUrl, { job: 'job-unknown-wpc', wpcHash: hash });
    // The policy leaves the registry after the token was issued (or the issuer pinned one never published).
    for (const file of readdirSync(join(world.home, 'registry')).filter((name) => name.startsWith(hash.slice('sha256:'.length)))) rmSync(join(world.home, 'registry', file));
    const answers: Answer[] = [];
    for (let i = 0; i < 3; i++) answers.push(await postFrom('127.0.0.5', readUrl, LIST_TOOLS, { authorization: `Bearer ${token}` }).answer);
    expect(answers.map((answer) => [answer.status, answer.code])).toEqual([[401, 'WPC_NOT_FOUND'], [401, 'WPC_NOT_FOUND'], [401, 'WPC_NOT_FOUND']]);
    expect(existsSync(join(world.home, 'bundles', 'job-unknown-wpc'))).toBe(false);
    expect(serviceRefusals(world, 'WPC_NOT_FOUND')).toHaveLength(3);
  });

  it('serves a request whose gate is evicted (CLAW_SERVE_MAX_GATES=1) while it is in flight, body not yet sent', async () => {
    const tokenA = await endpointToken(world, readUrl, { job: 'job-evicted' });
    const call = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'jira_get_issue', arguments: { issue_key: 'ENG-1' } } });
    const slow = postFrom('127.0.0.6', readUrl, call, { authorization: `Bearer ${tokenA}` }, true);
    // The service has verified A's token (its replay record exists): it holds A's gate and waits for the body.
    await until(() => existsSync(join(world.home, 'state', 'jti', `${sha256Hex(jtiOf(tokenA))}.json`)), "job-evicted's token claim");
    // Another job's request takes the only place in the pool: A's gate is evicted.
    const tokenB = await endpointToken(world, readUrl, { job: 'job-evictor' });
    expect((await postFrom('127.0.0.6', readUrl, LIST_TOOLS, { authorization: `Bearer ${tokenB}` }).answer).status).toBe(200);
    slow.send();
    const answer = await slow.answer;
    expect(answer.status).toBe(200);
    const result = (JSON.parse(answer.body) as { result: { isError?: boolean; structuredContent?: { data?: { key?: string } } } }).result;
    expect(result.isError).not.toBe(true);
    expect(result.structuredContent?.data?.key).toBe('ENG-1');
    // Closed once the request let go: its session ends with a clean stop after the call's outcome.
    await until(() => world.receipts(join(world.home, 'bundles', 'job-evicted')).some((receipt) => receipt.event?.type === 'server.stop'), "the evicted gate's stop");
    const receipts = world.receipts(join(world.home, 'bundles', 'job-evicted'));
    const outcome = receipts.findIndex((receipt) => receipt.kind === 'outcome' && receipt.tool === 'jira_get_issue' && receipt.outcome?.status === 'succeeded');
    expect(outcome).toBeGreaterThanOrEqual(0);
    expect(receipts.findIndex((receipt) => receipt.event?.type === 'server.stop')).toBeGreaterThan(outcome);
  });

  it('refuses a body that is JSON but not JSON-RPC with 400 BODY_NOT_JSONRPC and a receipt', async () => {
    const token = await endpointToken(world, readUrl);
    for (const body of ['{"hello": "world"}', '[]', '42', '{"jsonrpc": "1.0", "id": 1, "method": "tools/list"}']) {
      const response = await post(readUrl, body, { authorization: `Bearer ${token}` });
      expect(response.status, body).toBe(400);
      expect(((await response.json()) as { error: { code: number; data: { code: string } } }).error).toMatchObject({ code: -32600, data: { code: 'BODY_NOT_JSONRPC' } });
    }
    expect(serviceRefusals(world, 'BODY_NOT_JSONRPC')).toHaveLength(4);
  });
});
