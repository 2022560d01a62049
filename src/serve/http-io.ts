import type { IncomingMessage, ServerResponse } from 'node:http';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { ClawError } from '../util/errors.js';

/** JSON-RPC error codes for refusals before MCP: the stable claw-jira code is in `error.data.code`. */
export const JSONRPC_PARSE_ERROR = -32700;
export const JSONRPC_INVALID_REQUEST = -32600;
export const JSONRPC_SERVER_ERROR = -32000;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** A refusal in the JSON-RPC error shape MCP clients expect from an HTTP MCP endpoint. */
export function sendRefusal(
  res: ServerResponse,
  status: number,
  refusal: { code: string; message: string; receipt?: string | undefined; jsonrpc?: number },
  headers: Record<string, string> = {},
): void {
  sendJson(
    res,
    status,
    {
      jsonrpc: '2.0',
      id: null,
      error: {
        code: refusal.jsonrpc ?? JSONRPC_SERVER_ERROR,
        message: `${refusal.code}: ${refusal.message}`,
        data: { code: refusal.code, ...(refusal.receipt ? { receipt: refusal.receipt } : {}) },
      },
    },
    headers,
  );
}

/** How much of an oversized body is read and dropped before the connection is cut instead. */
const DISCARD_BYTES = 8 * 1024 * 1024;

/**
 * The request body, whole, up to `maxBytes`. A larger one is never buffered: the rest is read and discarded
 * (so the client, still sending, gets the 413 instead of a reset connection), up to a bound past which the
 * connection is cut.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else if (size > Math.max(maxBytes * 4, DISCARD_BYTES)) req.destroy();
    });
    req.on('end', () => {
      if (size > maxBytes) reject(new ClawError('BODY_TOO_LARGE', `the request body is larger than ${maxBytes} bytes`));
      else resolve(Buffer.concat(chunks));
    });
    req.on('error', () => reject(new ClawError('BODY_UNREADABLE', 'the request body could not be read')));
    req.on('close', () => {
      if (!req.complete) reject(new ClawError('BODY_UNREADABLE', 'the request body could not be read'));
    });
  });
}

export function parseJsonBody(bytes: Buffer): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch {
    throw new ClawError('BODY_NOT_JSON', 'the request body is not JSON');
  }
}

/**
 * The body as MCP messages: one JSON-RPC 2.0 message, or a non-empty batch of them. Anything else is refused
 * here with its own code and a receipt, before the MCP server sees it.
 */
export function checkJsonRpc(body: unknown): void {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  if (messages.length === 0 || !messages.every((message) => JSONRPCMessageSchema.safeParse(message).success)) {
    throw new ClawError('BODY_NOT_JSONRPC', 'the request body is not a JSON-RPC 2.0 message or batch');
  }
}
