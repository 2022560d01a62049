/**
 * The simulator's control surface for out-of-process runs (`claw-jira sim`, the demo): faults, state
 * hash, snapshot, reset and the request log. Never used by the Jira client; served only to loopback
 * callers, and never to browsers (a page could otherwise reset or poison a running simulator).
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { isClawError } from '../util/errors.js';
import type { FaultController } from './faults.js';
import { parseFaultSpec } from './faults.js';
import type { RecordedRequest } from './recorder.js';
import type { SimStore } from './store.js';

export const ADMIN_PREFIX = '/__sim';

export interface AdminContext {
  readonly store: SimStore;
  readonly faults: FaultController;
  readonly requests: () => RecordedRequest[];
  readonly clearRequests: () => void;
}

export interface AdminResponse {
  readonly status: number;
  readonly body?: unknown;
}

export function isAdminPath(path: string): boolean {
  return path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`);
}

function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Whether this request may use the admin surface at all. */
export function adminAllowed(req: IncomingMessage): 'ok' | 'not-loopback' | 'browser' {
  if (!isLoopbackAddress(req.socket.remoteAddress)) return 'not-loopback';
  if (req.headers.origin !== undefined || req.headers['sec-fetch-site'] !== undefined) return 'browser';
  return 'ok';
}

const ResetSchema = z.object({ seed: z.number().int().min(0).max(2 ** 32 - 1).optional() }).strict();

function parseBody(raw: string): unknown {
  if (raw.trim() === '') return undefined;
  return JSON.parse(raw) as unknown;
}

export function handleAdmin(ctx: AdminContext, method: string, path: string, raw: string): AdminResponse {
  const route = `${method} ${path.slice(ADMIN_PREFIX.length) || '/'}`;
  let body: unknown;
  try {
    body = parseBody(raw);
  } catch {
    return { status: 400, body: { error: 'body is not valid JSON' } };
  }
  try {
    switch (route) {
      case 'GET /health':
        return { status: 200, body: { ok: true, seed: ctx.store.seed, now: new Date(ctx.store.now).toISOString() } };
      case 'GET /state-hash':
        return { status: 200, body: { hash: ctx.store.hash() } };
      case 'GET /snapshot':
        return { status: 200, body: ctx.store.snapshot() };
      case 'POST /reset': {
        const parsed = ResetSchema.safeParse(body ?? {});
        if (!parsed.success) return { status: 400, body: { error: 'expected { "seed"?: integer }' } };
        ctx.store.reset(parsed.data.seed);
        ctx.faults.clear();
        ctx.clearRequests();
        return { status: 200, body: { hash: ctx.store.hash(), seed: ctx.store.seed } };
      }
      case 'GET /faults':
        return { status: 200, body: { faults: ctx.faults.list() } };
      case 'POST /faults': {
        const specs = (Array.isArray(body) ? body : [body]).map(parseFaultSpec);
        return { status: 201, body: { faults: specs.map((s) => ctx.faults.add(s)) } };
      }
      case 'DELETE /faults':
        ctx.faults.clear();
        return { status: 204 };
      case 'GET /requests':
        return { status: 200, body: { requests: ctx.requests() } };
      case 'DELETE /requests':
        ctx.clearRequests();
        return { status: 204 };
      default:
        return { status: 404, body: { error: `no admin route ${route}` } };
    }
  } catch (error) {
    if (isClawError(error)) return { status: 400, body: { error: error.message, code: error.code } };
    throw error;
  }
}
