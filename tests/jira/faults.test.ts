import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JiraAuth } from '../../src/jira/auth.js';
import { JiraClient, type JiraClientOptions } from '../../src/jira/client.js';
import { JiraError } from '../../src/jira/errors.js';
import { backoffMs, DEFAULT_RETRY, parseRetryAfter } from '../../src/jira/retry.js';
import { Secret } from '../../src/jira/secret.js';
import { json, recordingSleep, useStubs, type StubHandler } from '../helpers/stub.js';

const TOKEN = 'ATATT3xFfGF0-fault-test-token-5c4d';
const EMAIL = 'bot@acme.com';
const BASIC = Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64');
const NOW = Date.UTC(2030, 0, 1);

const stub = useStubs();

function setup(url: string, extra: Partial<JiraClientOptions> = {}, auth: JiraAuth = { kind: 'bearer', token: new Secret(TOKEN) }) {
  const rec = recordingSleep();
  const client = new JiraClient({ baseUrl: url, auth, sleep: rec.sleep, now: () => NOW, random: () => 0.5, ...extra });
  return { client, sleeps: rec.sleeps };
}

/** Fails `times` requests with `fail`, then answers like Jira. */
function flaky(times: number, fail: StubHandler): StubHandler {
  let n = 0;
  return (req, res, raw) => {
    if (n++ < times) return fail(req, res, raw);
    if (req.method === 'POST' && req.url === '/rest/api/3/issue') return json(res, 201, { id: '1', key: 'ABC-1' });
    return json(res, 200, { accountId: 'acc-1', issues: [], isLast: true });
  };
}

function assertNoSecret(error: unknown): void {
  for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: 10, showHidden: true })]) {
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(BASIC);
  }
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('retries on reads', () => {
  it('honours Retry-After in seconds: the sleep receives the header value', async () => {
    const s = await stub(flaky(2, (_req, res) => json(res, 429, { errorMessages: ['Rate limit'] }, { 'retry-after': '7' })));
    const { client, sleeps } = setup(s.url);
    const result = await client.myself();
    expect(sleeps).toEqual([7000, 7000]);
    expect(s.requests).toHaveLength(3);
    expect(result.request).toEqual({ method: 'GET', path: '/rest/api/3/myself', status: 200, attempts: 3 });
  });

  it('honours Retry-After as an HTTP date, also on 503, also on the read-only search POST', async () => {
    const date = new Date(NOW + 5000).toUTCString();
    const s = await stub(flaky(1, (_req, res) => json(res, 503, {}, { 'retry-after': date })));
    const { client, sleeps } = setup(s.url);
    await client.searchJql({ jql: 'project = ABC' });
    expect(sleeps).toEqual([5000]);
    expect(s.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /rest/api/3/search/jql', 'POST /rest/api/3/search/jql']);
  });

  it('without Retry-After backs off exponentially with jitter, capped, exactly 4 tries', async () => {
    for (const [random, expected] of [
      [0, [700, 1400, 2800]],
      [0.999999, [1300, 2600, 5200]],
    ] as const) {
      const s = await stub((_req, res) => json(res, 503, { errorMessages: ['busy'] }));
      const { client, sleeps } = setup(s.url, { random: () => random });
      const error = await client.getIssue('ABC-1').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'JIRA_UNAVAILABLE', status: 503, errorMessages: ['busy'], request: { attempts: 4, status: 503 } });
      expect(s.requests).toHaveLength(4);
      expect(sleeps).toEqual(expected);
    }
    const capped = await stub((_req, res) => json(res, 502, {}));
    const { client, sleeps } = setup(capped.url, { random: () => 1, retry: { baseMs: 1000, capMs: 2000 } });
    await expect(client.myself()).rejects.toMatchObject({ code: 'JIRA_UNAVAILABLE' });
    expect(sleeps).toEqual([1300, 2000, 2000]);
    expect(capped.requests).toHaveLength(4);
  });

  it('gives up after 4 tries on 429 with JIRA_RATE_LIMITED', async () => {
    const s = await stub((_req, res) => json(res, 429, { errorMessages: ['Too many requests'] }, { 'retry-after': '1' }));
    const { client, sleeps } = setup(s.url);
    const error = await client.myself().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'JIRA_RATE_LIMITED', status: 429, retryAfterMs: 1000, request: { attempts: 4 } });
    expect(sleeps).toEqual([1000, 1000, 1000]);
    expect(s.requests).toHaveLength(4);
  });

  it('stops at once when Retry-After exceeds the cap instead of waiting less than asked', async () => {
    const s = await stub((_req, res) => json(res, 429, {}, { 'retry-after': '120' }));
    const { client, sleeps } = setup(s.url);
    await expect(client.myself()).rejects.toMatchObject({ code: 'JIRA_RATE_LIMITED', retryAfterMs: 120_000, request: { attempts: 1 } });
    expect(sleeps).toEqual([]);
    expect(s.requests).toHaveLength(1);
  });

  it('retries a read after dropped connections', async () => {
    const s = await stub(flaky(2, (_req, res) => res.socket?.destroy()));
    const { client, sleeps } = setup(s.url);
    const result = await client.myself();
    expect(result.request.attempts).toBe(3);
    expect(sleeps).toEqual([1000, 2000]);
  });

  it('retries a read that times out, and reports JIRA_TIMEOUT after the last try', async () => {
    const s = await stub(() => undefined); // never answers
    const { client } = setup(s.url, { timeoutMs: 150, retry: { limit: 2 } });
    const error = await client.myself().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'JIRA_TIMEOUT', request: { attempts: 2, status: undefined }, inDoubt: false });
    expect(s.requests).toHaveLength(2);
  });

  it('a body that stalls after the headers times out (the timeout covers the body); one cut mid-body is a network error', async () => {
    const stalled = await stub((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"accountId":');
    });
    const slow = setup(stalled.url, { timeoutMs: 150, retry: { limit: 1 } });
    await expect(slow.client.myself()).rejects.toMatchObject({ code: 'JIRA_TIMEOUT', request: { attempts: 1, status: 200 } });
    const cut = await stub((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"accountId":', () => res.socket?.destroy());
    });
    const dropped = setup(cut.url, { timeoutMs: 5000, retry: { limit: 1 } });
    await expect(dropped.client.myself()).rejects.toMatchObject({ code: 'JIRA_NETWORK', request: { attempts: 1 } });
  });

  it('does not retry other client errors', async () => {
    const s = await stub((_req, res) => json(res, 404, { errorMessages: ['Issue does not exist'] }));
    const { client, sleeps } = setup(s.url);
    await expect(client.getIssue('ABC-404')).rejects.toMatchObject({ code: 'JIRA_NOT_FOUND', request: { attempts: 1 } });
    expect(sleeps).toEqual([]);
  });
});

describe('writes are sent exactly once', () => {
  it('never resends a create on 429, 503 or a dropped connection', async () => {
    const failures: Array<[string, StubHandler, Record<string, unknown>]> = [
      ['429', (_q, res) => json(res, 429, {}, { 'retry-after': '1' }), { code: 'JIRA_RATE_LIMITED', inDoubt: false, retryAfterMs: 1000 }],
      ['503', (_q, res) => json(res, 503, {}), { code: 'JIRA_UNAVAILABLE', inDoubt: true }],
      ['drop', (_q, res) => res.socket?.destroy(), { code: 'JIRA_NETWORK', inDoubt: true }],
    ];
    for (const [, fail, expected] of failures) {
      const s = await stub(flaky(1, fail));
      const { client, sleeps } = setup(s.url);
      const error = await client.createIssue({ fields: { summary: 'once' } }).catch((e: unknown) => e);
      expect(error).toMatchObject({ ...expected, request: { method: 'POST', path: '/rest/api/3/issue', attempts: 1 } });
      expect(s.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
      expect(sleeps).toEqual([]);
    }
  });

  it('never resends a comment, edit, transition, assignment or delete', async () => {
    const s = await stub((_req, res) => json(res, 503, {}));
    const { client } = setup(s.url);
    const doc = { version: 1 as const, type: 'doc' as const, content: [] };
    const writes = [
      () => client.addComment('ABC-1', doc),
      () => client.editIssue('ABC-1', { fields: { summary: 'x' } }),
      () => client.transitionIssue('ABC-1', { transition: { id: '31' } }),
      () => client.assignIssue('ABC-1', 'acc-1'),
      () => client.deleteIssue('ABC-1'),
      () => client.deleteComment('ABC-1', '1'),
    ];
    for (const write of writes) await expect(write()).rejects.toMatchObject({ code: 'JIRA_UNAVAILABLE', request: { attempts: 1 } });
    expect(s.requests).toHaveLength(writes.length);
  });

  it('a timed-out write is in doubt; a refused connection is not', async () => {
    const s = await stub(() => undefined);
    const { client } = setup(s.url, { timeoutMs: 150 });
    await expect(client.createIssue({ fields: {} })).rejects.toMatchObject({ code: 'JIRA_TIMEOUT', inDoubt: true, request: { attempts: 1 } });
    expect(s.requests).toHaveLength(1);
    const port = await closedPort();
    const refused = setup(`http://127.0.0.1:${port}`).client;
    await expect(refused.createIssue({ fields: {} })).rejects.toMatchObject({ code: 'JIRA_NETWORK', inDoubt: false, details: { cause: 'ECONNREFUSED' } });
  });
});

describe('redirects and size', () => {
  it('refuses a redirect to another origin, for reads and writes, without contacting it', async () => {
    const other = await stub((_req, res) => json(res, 200, { accountId: 'stolen' }));
    const s = await stub((_req, res) => {
      res.writeHead(302, { location: `${other.url}/rest/api/3/myself` });
      res.end();
    });
    const { client } = setup(s.url);
    const error = await client.myself().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'JIRA_REDIRECT_REFUSED', request: { status: 302 } });
    await expect(client.createIssue({ fields: {} })).rejects.toMatchObject({ code: 'JIRA_REDIRECT_REFUSED' });
    expect(other.requests).toHaveLength(0);
    assertNoSecret(error);
  });

  it('follows a same-origin redirect for GET only, and only under the base path', async () => {
    const s = await stub((req, res) => {
      if (req.url === '/jira/rest/api/3/myself') {
        res.writeHead(301, { location: '/jira/rest/api/3/myself-moved' });
        return res.end();
      }
      if (req.url === '/jira/rest/api/3/serverInfo') {
        res.writeHead(307, { location: '/other-tenant/rest/api/3/serverInfo' });
        return res.end();
      }
      if (req.url === '/jira/rest/api/3/issue') {
        res.writeHead(307, { location: '/jira/rest/api/3/issue2' });
        return res.end();
      }
      return json(res, 200, { accountId: 'acc-1' });
    });
    const { client } = setup(`${s.url}/jira`);
    const me = await client.myself();
    expect(me.data.accountId).toBe('acc-1');
    expect(s.requests.map((r) => r.url)).toEqual(['/jira/rest/api/3/myself', '/jira/rest/api/3/myself-moved']);
    expect(s.requests[1]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    await expect(client.serverInfo()).rejects.toMatchObject({ code: 'JIRA_REDIRECT_REFUSED' });
    await expect(client.createIssue({ fields: {} })).rejects.toMatchObject({ code: 'JIRA_REDIRECT_REFUSED' });
    expect(s.requests.some((r) => r.url.startsWith('/other-tenant') || r.url === '/jira/rest/api/3/issue2')).toBe(false);
  });

  it('refuses a redirect loop after 3 hops', async () => {
    const s = await stub((req, res) => {
      res.writeHead(302, { location: `${req.url}x` });
      res.end();
    });
    await expect(setup(s.url).client.myself()).rejects.toMatchObject({ code: 'JIRA_REDIRECT_REFUSED' });
    expect(s.requests).toHaveLength(4);
  });

  it('refuses an oversized response, declared or streamed, without retrying it', async () => {
    const declared = await stub((_req, res) => json(res, 200, { accountId: 'x'.repeat(4096) }));
    await expect(setup(declared.url, { maxResponseBytes: 1024 }).client.myself()).rejects.toMatchObject({
      code: 'JIRA_RESPONSE_TOO_LARGE',
      request: { status: 200, attempts: 1 },
    });
    let written = 0;
    const streamed = await stub((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const pump = (): void => {
        // Bounded: stops after 8 MiB or when the client goes away.
        while (written < 8 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    await expect(setup(streamed.url, { maxResponseBytes: 64 * 1024 }).client.getFields()).rejects.toMatchObject({ code: 'JIRA_RESPONSE_TOO_LARGE' });
    expect(streamed.requests).toHaveLength(1);
    expect(written).toBeLessThan(8 * 1024 * 1024);
  });
});

describe('secrets never reach errors', () => {
  it('scrubs a token a server echoes back, across every error kind', async () => {
    const echo = await stub((req, res) =>
      json(res, 401, {
        errorMessages: [`bad credentials: ${req.headers.authorization ?? ''}`, `token ${TOKEN}`],
        errors: { auth: `${TOKEN}` },
      }),
    );
    const auths: JiraAuth[] = [
      { kind: 'bearer', token: new Secret(TOKEN) },
      { kind: 'basic', email: EMAIL, apiToken: new Secret(TOKEN) },
    ];
    for (const auth of auths) {
      const error = await setup(echo.url, {}, auth).client.myself().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'JIRA_UNAUTHORIZED', status: 401 });
      expect((error as { errorMessages: string[] }).errorMessages[1]).toBe('token [redacted]');
      assertNoSecret(error);
    }
    const port = await closedPort();
    const hang = await stub(() => undefined);
    const others = [
      await setup(`http://127.0.0.1:${port}`, { retry: { limit: 1 } }).client.myself().catch((e: unknown) => e),
      await setup(hang.url, { timeoutMs: 100, retry: { limit: 1 } }).client.myself().catch((e: unknown) => e),
    ];
    for (const error of others) {
      expect(error).toBeInstanceOf(JiraError);
      assertNoSecret(error);
    }
  });
});

describe('backoff and Retry-After arithmetic', () => {
  it('keeps every wait within jitter bounds and under the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (index, r) => {
        const ms = backoffMs(index, DEFAULT_RETRY, () => r);
        const nominal = DEFAULT_RETRY.baseMs * 2 ** index;
        expect(ms).toBeLessThanOrEqual(DEFAULT_RETRY.capMs);
        expect(ms).toBeGreaterThanOrEqual(Math.min(DEFAULT_RETRY.capMs, Math.floor(nominal * 0.7)));
        expect(ms).toBeLessThanOrEqual(Math.ceil(nominal * 1.3));
      }),
      { numRuns: 500 },
    );
  });

  it('parses delta-seconds and HTTP dates, ignores garbage', () => {
    expect(parseRetryAfter('30', NOW)).toBe(30_000);
    expect(parseRetryAfter(new Date(NOW + 12_000).toUTCString(), NOW)).toBe(12_000);
    expect(parseRetryAfter(new Date(NOW - 12_000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('-5', NOW)).toBeUndefined();
  });
});
