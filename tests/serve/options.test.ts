import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { addressKey, clientAddressKey } from '../../src/serve/client-address.js';
import { loadServeOptions } from '../../src/serve/options.js';
import { isLoopbackHost } from '../../src/util/loopback.js';
import { parseRate, RateLimiter } from '../../src/serve/rate-limit.js';
import { wwwAuthenticate } from '../../src/serve/metadata.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
};

describe('serve settings', () => {
  it('binds loopback by default and refuses any other address without TLS or a TLS proxy', () => {
    expect(loadServeOptions({}, {})).toMatchObject({ host: '127.0.0.1', port: 8790, tls: undefined });
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'jira-gate.internal']) {
      expect(code(() => loadServeOptions({ host }, {})), host).toBe('SERVE_INSECURE_BIND');
      expect(code(() => loadServeOptions({}, { CLAW_SERVE_HOST: host })), host).toBe('SERVE_INSECURE_BIND');
    }
    expect(loadServeOptions({ host: '0.0.0.0', 'tls-key': 'k.pem', 'tls-cert': 'c.pem' }, {}).tls).toEqual({ keyFile: 'k.pem', certFile: 'c.pem' });
    expect(loadServeOptions({ host: '0.0.0.0', 'behind-tls-proxy': true, 'public-url': 'https://jira-gate.example/' }, {}).publicUrl).toBe('https://jira-gate.example');
    for (const host of ['127.0.0.1', '127.8.9.10', '::1', 'localhost']) expect(isLoopbackHost(host), host).toBe(true);
  });

  it('behind a TLS proxy, needs the https public URL (the token audience)', () => {
    expect(code(() => loadServeOptions({ host: '0.0.0.0', 'behind-tls-proxy': true }, {}))).toBe('CONFIG_INVALID');
    expect(code(() => loadServeOptions({ 'behind-tls-proxy': true, 'public-url': 'http://gate.example' }, {}))).toBe('CONFIG_INVALID');
    expect(code(() => loadServeOptions({ 'public-url': 'https://gate.example/?a=1' }, {}))).toBe('CONFIG_INVALID');
    expect(code(() => loadServeOptions({ 'tls-key': 'k.pem' }, {}))).toBe('CONFIG_INVALID');
    expect(code(() => loadServeOptions({ port: '70000' }, {}))).toBe('CONFIG_INVALID');
    expect(code(() => loadServeOptions({}, { CLAW_SERVE_MAX_BODY_BYTES: '10' }))).toBe('CONFIG_INVALID');
    expect(code(() => loadServeOptions({}, { CLAW_SERVE_MAX_GATES: '0' }))).toBe('CONFIG_INVALID');
    expect(code(() => loadServeOptions({}, { CLAW_SERVE_FAILURE_RATE: 'many' }))).toBe('CONFIG_INVALID');
    expect(loadServeOptions({}, {})).toMatchObject({ maxGates: 256, failureRate: { limit: 60, perSeconds: 60 } });
  });

  it('parses rates as n/s, n/min or n/h', () => {
    expect(parseRate('120/min', 'X')).toEqual({ limit: 120, perSeconds: 60 });
    expect(parseRate('5/h', 'X')).toEqual({ limit: 5, perSeconds: 3600 });
    for (const bad of ['0/s', '10', '10/day', '-1/s', '1.5/s']) expect(code(() => parseRate(bad, 'X')), bad).toBe('CONFIG_INVALID');
  });
});

describe('token bucket', () => {
  it('passes a burst of `limit`, then refuses with the seconds until the next call, and refills at the rate', () => {
    let now = 0;
    const limiter = new RateLimiter({ limit: 3, perSeconds: 60 }, () => now);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBe(20);
    expect(limiter.take('b')).toBe(0);
    now = 19_000;
    expect(limiter.take('a')).toBe(1);
    now = 20_000;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(20);
  });

  it('wait() says what take() would, without taking and without storing a key it has not seen', () => {
    let now = 0;
    const limiter = new RateLimiter({ limit: 1, perSeconds: 60 }, () => now);
    expect(limiter.wait('a')).toBe(0);
    expect(limiter.wait('a')).toBe(0);
    expect(limiter.take('a')).toBe(0);
    expect(limiter.wait('a')).toBe(60);
    now = 60_000;
    expect(limiter.wait('a')).toBe(0);
  });
});

describe('client address key', () => {
  const req = (remoteAddress: string, forwarded?: string | string[]) =>
    ({ socket: { remoteAddress }, headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded } }) as unknown as IncomingMessage;

  it('is the peer address, an IPv4-mapped one unwrapped, an IPv6 one cut to its /64', () => {
    expect(clientAddressKey(req('10.0.0.7'), false)).toBe('10.0.0.7');
    expect(clientAddressKey(req('::ffff:10.0.0.7'), false)).toBe('10.0.0.7');
    expect(clientAddressKey(req('2001:db8:0:12:a:b:c:d'), false)).toBe('2001:db8:0:12::/64');
    expect(clientAddressKey(req('2001:db8::1'), false)).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:0DB8:0000:0012::9')).toBe('2001:db8:0:12::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });

  it('behind a TLS proxy, is the rightmost X-Forwarded-For entry (the one the proxy added), never one the client wrote', () => {
    expect(clientAddressKey(req('127.0.0.1', '6.6.6.6, 203.0.113.9'), true)).toBe('203.0.113.9');
    expect(clientAddressKey(req('127.0.0.1', ['6.6.6.6', '203.0.113.9']), true)).toBe('203.0.113.9');
    expect(clientAddressKey(req('127.0.0.1', 'not-an-address'), true)).toBe('127.0.0.1');
    expect(clientAddressKey(req('127.0.0.1'), true)).toBe('127.0.0.1');
    // Without the proxy flag the header is the client's own word: ignored.
    expect(clientAddressKey(req('198.51.100.2', '203.0.113.9'), false)).toBe('198.51.100.2');
  });
});

describe('WWW-Authenticate', () => {
  it('names the per-endpoint metadata URL, with an error only when a token was sent', () => {
    expect(wwwAuthenticate('https://gate.example', '/mcp/read')).toBe('Bearer resource_metadata="https://gate.example/.well-known/oauth-protected-resource/mcp/read"');
    expect(wwwAuthenticate('https://gate.example', '/mcp/write', { error: 'invalid_token', description: 'CST_"EXPIRED' })).toBe(
      'Bearer resource_metadata="https://gate.example/.well-known/oauth-protected-resource/mcp/write", error="invalid_token", error_description="CST_EXPIRED"',
    );
  });
});
