import { timingSafeEqual } from 'node:crypto';
import { credentialedUsers, type SimCredentialedUser } from '../users.js';

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

export type AuthResult =
  | { kind: 'anonymous' }
  | { kind: 'user'; user: SimCredentialedUser; scheme: 'basic' | 'bearer' }
  | { kind: 'rejected' };

/** Resolves `Authorization` (Cloud basic `email:api_token`, or `Bearer <token>`). */
export function authenticate(header: string | undefined): AuthResult {
  if (header === undefined || header.trim() === '') return { kind: 'anonymous' };
  const match = /^(\S+)\s+(.+)$/.exec(header.trim());
  if (!match) return { kind: 'rejected' };
  const scheme = (match[1] ?? '').toLowerCase();
  const value = (match[2] ?? '').trim();
  if (scheme === 'basic') {
    let decoded: string;
    try {
      decoded = Buffer.from(value, 'base64').toString('utf8');
    } catch {
      return { kind: 'rejected' };
    }
    const colon = decoded.indexOf(':');
    if (colon < 0) return { kind: 'rejected' };
    const email = decoded.slice(0, colon).toLowerCase();
    const token = decoded.slice(colon + 1);
    const user = credentialedUsers().find((u) => u.email.toLowerCase() === email);
    if (user && sameSecret(token, user.apiToken) && user.active) return { kind: 'user', user, scheme: 'basic' };
    return { kind: 'rejected' };
  }
  if (scheme === 'bearer') {
    const user = credentialedUsers().find((u) => sameSecret(value, u.bearer));
    if (user && user.active) return { kind: 'user', user, scheme: 'bearer' };
    return { kind: 'rejected' };
  }
  return { kind: 'rejected' };
}
