import { isIP } from 'node:net';

/**
 * A host name (without IPv6 brackets) that only this machine can reach: `localhost`, 127.0.0.0/8, `::1`. The one
 * place plain http or a listener without TLS is let through.
 */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
