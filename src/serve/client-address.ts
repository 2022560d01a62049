import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * The key an unauthenticated client is counted under: its IPv4 address, or the /64 of its IPv6 address (one
 * host commonly holds a whole /64, so counting single IPv6 addresses would let it pick a fresh one per request).
 * Behind a TLS proxy every connection comes from the proxy, so the address is the rightmost X-Forwarded-For
 * entry: the one that proxy appended, which the client cannot choose (entries to its left it can).
 */
export function clientAddressKey(req: IncomingMessage, behindTlsProxy: boolean): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (!behindTlsProxy) return addressKey(peer);
  const header = req.headers['x-forwarded-for'];
  const entries = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((entry) => entry.trim());
  const forwarded = entries[entries.length - 1] ?? '';
  return addressKey(isIP(forwarded) ? forwarded : peer);
}

export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (isIP(address) !== 6) return address;
  const [head = '', tail] = (address.split('%')[0] ?? '').split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
