import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressHex, HttpRegistryBackend, registryBackend, WpcRegistry, LocalRegistryBackend } from '../../src/wpc/registry.js';
import { makeEnv, type CoreEnv } from './helpers/env.js';
import { seedWpc } from './helpers/seed.js';

/**
 * A static host on 127.0.0.1 serving the local registry folder under several prefixes, each misbehaving in one
 * way, so the HTTP backend meets real sockets, real status codes and real bodies.
 */
let env: CoreEnv;
let server: Server;
let base: string;
const requests: string[] = [];

function flipFirstDigit(text: string): string {
  const i = text.search(/[0-9]/);
  return `${text.slice(0, i)}${text[i] === '1' ? '2' : '1'}${text.slice(i + 1)}`;
}

beforeAll(async () => {
  env = await makeEnv();
  server = createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    const [, prefix = '', name = ''] = /^\/([a-z-]+)\/([0-9a-f]{64}\.(?:json|sig))$/.exec(url) ?? [];
    let body: Buffer;
    try {
      body = readFileSync(join(env.home.registryDir, name));
    } catch {
      res.writeHead(404).end('not found');
      return;
    }
    const isSig = name.endsWith('.sig');
    switch (prefix) {
      case 'good':
        break;
      case 'tampered-body':
        if (!isSig) body = Buffer.from(body.toString('utf8').replace('"ENG"', '"ENH"'));
        break;
      case 'tampered-sig':
        if (isSig) {
          const jws = body.toString('utf8').trim();
          const i = jws.length - 10;
          body = Buffer.from(`${jws.slice(0, i)}${jws[i] === 'A' ? 'B' : 'A'}${jws.slice(i + 1)}\n`);
        }
        break;
      case 'no-sig':
        if (isSig) {
          res.writeHead(404).end();
          return;
        }
        break;
      case 'redirect':
        res.writeHead(302, { location: `/good/${name}` }).end();
        return;
      case 'broken':
        res.writeHead(500).end('boom');
        return;
      case 'huge':
        if (!isSig) body = Buffer.alloc(2 * 1024 * 1024, 0x20);
        break;
      case 'edited-wpc':
        // A different, valid policy served under the seed's address: the address, not the host, decides.
        if (!isSig) body = Buffer.from(flipFirstDigit(body.toString('utf8')));
        break;
      default:
        res.writeHead(404).end();
        return;
    }
    res.writeHead(200, { 'content-type': isSig ? 'application/jose' : 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  env.cleanup();
});

const registryAt = (prefix: string) => new WpcRegistry(new HttpRegistryBackend(`${base}/${prefix}/`), env.trust);

describe('HTTP WPC registry', () => {
  it('fetches, verifies and caches a WPC from a static host', async () => {
    const registry = registryAt('good');
    requests.length = 0;
    const verified = await registry.get(env.seed.hash);
    expect(verified.hash).toBe(env.seed.hash);
    expect(verified.policy).toEqual(env.seed.policy);
    expect(verified.signer.kid).toBe(env.keys.policy.kid);
    const hex = addressHex(env.seed.hash);
    expect(requests).toEqual([`/good/${hex}.json`, `/good/${hex}.sig`]);
    expect(await registry.get(env.seed.hash)).toBe(verified);
    expect(requests).toHaveLength(2);
  });

  it('accepts a base URL without a trailing slash', async () => {
    const registry = new WpcRegistry(new HttpRegistryBackend(`${base}/good`), env.trust);
    await expect(registry.get(env.seed.hash)).resolves.toMatchObject({ hash: env.seed.hash });
  });

  it('answers WPC_NOT_FOUND for a 404', async () => {
    await expect(registryAt('good').get(`sha256:${'ab'.repeat(32)}`)).rejects.toMatchObject({ code: 'WPC_NOT_FOUND' });
  });

  it('refuses a body that does not hash to the address, even a valid policy', async () => {
    await expect(registryAt('tampered-body').get(env.seed.hash)).rejects.toMatchObject({ code: 'WPC_HASH_MISMATCH' });
    await expect(registryAt('edited-wpc').get(env.seed.hash)).rejects.toMatchObject({ code: 'WPC_HASH_MISMATCH' });
  });

  it('refuses a tampered or missing signature', async () => {
    await expect(registryAt('tampered-sig').get(env.seed.hash)).rejects.toMatchObject({ code: 'WPC_SIGNATURE_INVALID' });
    await expect(registryAt('no-sig').get(env.seed.hash)).rejects.toMatchObject({ code: 'WPC_SIGNATURE_INVALID' });
  });

  it('does not follow redirects, and refuses server errors and oversized bodies', async () => {
    await expect(registryAt('redirect').get(env.seed.hash)).rejects.toMatchObject({ code: 'WPC_UNREADABLE' });
    await expect(registryAt('broken').get(env.seed.hash)).rejects.toMatchObject({ code: 'WPC_UNREADABLE' });
    await expect(registryAt('huge').get(env.seed.hash)).rejects.toMatchObject({ code: 'WPC_UNREADABLE' });
  });

  it('answers WPC_UNREADABLE when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const registry = new WpcRegistry(new HttpRegistryBackend(`http://127.0.0.1:${port}/`, { timeoutMs: 2_000 }), env.trust);
    await expect(registry.get(env.seed.hash)).rejects.toMatchObject({ code: 'WPC_UNREADABLE' });
  });

  it('refuses plain http to any host but loopback, and non-http schemes', () => {
    for (const url of ['http://example.com/registry/', 'http://10.0.0.1/', 'http://127.0.0.1.nip.io/', 'ftp://127.0.0.1/', 'file:///etc/']) {
      expect(() => new HttpRegistryBackend(url), url).toThrow(expect.objectContaining({ code: 'WPC_UNREADABLE' }));
    }
    expect(() => registryBackend('http://example.com/')).toThrow(expect.objectContaining({ code: 'WPC_UNREADABLE' }));
    expect(new HttpRegistryBackend('https://policies.example.com/wpc').location).toBe('https://policies.example.com/wpc/');
    expect(registryBackend('HTTPS://policies.example.com/')).toBeInstanceOf(HttpRegistryBackend);
    expect(registryBackend(env.home.registryDir)).toBeInstanceOf(LocalRegistryBackend);
  });

  it('serves the same verified policy as the local folder', async () => {
    const policy = await env.publish({ ...seedWpc(), description: 'over http' });
    const overHttp = await registryAt('good').get(policy.hash);
    expect(overHttp.bytes).toEqual(policy.bytes);
    expect(overHttp.signature).toBe(policy.signature);
  });
});
