import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { JiraClient } from '../../src/jira/client.js';
import { nodeHttp } from '../../src/jira/http.js';
import { Secret } from '../../src/jira/secret.js';
import { json, useStubs } from '../helpers/stub.js';

/**
 * The client's own HTTP layer (node:http with keep-alive pools) over a real loopback server: what it
 * advertises and decodes, that caps count decoded bytes, that connections are reused, and that a body it
 * cannot decode is a clear refusal.
 */
const stub = useStubs();
const client = (url: string, maxResponseBytes?: number) =>
  new JiraClient({ baseUrl: url, auth: { kind: 'bearer', token: new Secret('t0ken-http') }, retry: { limit: 1 }, ...(maxResponseBytes ? { maxResponseBytes } : {}) });

const ISSUE = { id: '10', key: 'ABC-1', fields: { summary: 'compressed' } };
const ENCODERS: Record<string, (bytes: Buffer) => Buffer> = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };

describe('the Jira HTTP layer', () => {
  it('asks for gzip, deflate and br, and decodes each', async () => {
    for (const [encoding, encode] of Object.entries(ENCODERS)) {
      const s = await stub((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding });
        res.end(encode(Buffer.from(JSON.stringify(ISSUE))));
      });
      const { data } = await client(s.url).getIssue('ABC-1');
      expect(data.fields?.summary).toBe('compressed');
      expect(s.requests[0]?.headers['accept-encoding']).toBe('gzip, deflate, br');
    }
  });

  it('counts the cap in decoded bytes: a small gzip body that inflates past it is refused', async () => {
    // 1 MiB of spaces inside a JSON string compresses to about 1 KiB.
    const bomb = gzipSync(Buffer.from(JSON.stringify({ ...ISSUE, fields: { summary: ' '.repeat(1 << 20) } })));
    expect(bomb.length).toBeLessThan(8 * 1024);
    const s = await stub((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(bomb.length) });
      res.end(bomb);
    });
    await expect(client(s.url, 64 * 1024).getIssue('ABC-1')).rejects.toMatchObject({ code: 'JIRA_RESPONSE_TOO_LARGE' });
  });

  it('refuses an encoding it did not ask for, naming it, without a stack trace', async () => {
    const s = await stub((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'zstd' });
      res.end('not really zstd');
    });
    const error = await client(s.url).getIssue('ABC-1').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'JIRA_BAD_RESPONSE', request: { method: 'GET', status: 200 } });
    expect((error as Error).message).toContain('zstd');
    expect((error as Error).message).not.toContain('t0ken-http');
  });

  it('a corrupt compressed body is a network error, not a crash', async () => {
    const s = await stub((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(Buffer.from('definitely not gzip'));
    });
    await expect(client(s.url).getIssue('ABC-1')).rejects.toMatchObject({ code: 'JIRA_NETWORK' });
  });

  it('keeps connections alive: sequential and concurrent calls reuse a few sockets', async () => {
    const sockets = new Set<unknown>();
    const s = await stub((_req, res, raw) => {
      sockets.add(raw.socket);
      json(res, 200, ISSUE);
    });
    const c = client(s.url);
    for (let i = 0; i < 20; i++) await c.getIssue('ABC-1');
    expect(sockets.size).toBe(1);
    await Promise.all(Array.from({ length: 8 }, () => c.getIssue('ABC-1')));
    expect(s.requests).toHaveLength(28);
    expect(sockets.size).toBeLessThanOrEqual(8);
  });

  it('the idle timeout closes only idle pooled connections, never a slow answer in progress', async () => {
    const sockets = new Set<unknown>();
    const s = await stub((_req, res, raw) => {
      sockets.add(raw.socket);
      setTimeout(() => json(res, 200, ISSUE), 150);
    });
    const c = new JiraClient({ baseUrl: s.url, auth: { kind: 'bearer', token: new Secret('t0ken-http') }, retry: { limit: 1 }, send: nodeHttp({ idleMs: 40 }) });
    await expect(c.getIssue('ABC-1')).resolves.toMatchObject({ request: { status: 200, attempts: 1 } });
    // Idle longer than idleMs: the pooled connection was closed, the next call opens a new one.
    await new Promise((r) => setTimeout(r, 120));
    await c.getIssue('ABC-1');
    expect(sockets.size).toBe(2);
  });

  it('sends a write body with its length and content type, exactly once', async () => {
    const s = await stub((_req, res) => json(res, 201, { id: '10001', key: 'ABC-2', self: 'x' }));
    await client(s.url).createIssue({ fields: { summary: 'é ünïcode' } });
    expect(s.requests).toHaveLength(1);
    const sent = s.requests[0];
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(sent?.headers['content-length']).toBe(String(Buffer.byteLength(sent?.body ?? '')));
    expect(JSON.parse(sent?.body ?? '')).toEqual({ fields: { summary: 'é ünïcode' } });
  });
});

describe('TLS', () => {
  it('a certificate that does not verify is refused before any request is sent, never relaxed, and a write is not in doubt', async () => {
    const fixtures = new URL('./fixtures/', import.meta.url);
    let requests = 0;
    const server = createHttpsServer({ key: readFileSync(new URL('self-signed-key.pem', fixtures)), cert: readFileSync(new URL('self-signed-cert.pem', fixtures)) }, (_req, res) => {
      requests += 1;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const c = client(`https://127.0.0.1:${port}`);
      const read = await c.getIssue('ABC-1').catch((e: unknown) => e);
      expect(read).toMatchObject({ code: 'JIRA_NETWORK', details: { cause: 'DEPTH_ZERO_SELF_SIGNED_CERT' } });
      const write = await c.createIssue({ fields: { summary: 'never sent' } }).catch((e: unknown) => e);
      expect(write).toMatchObject({ code: 'JIRA_NETWORK', inDoubt: false });
      expect(requests).toBe(0);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
