import process from 'node:process';
import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** The SDK's own limit for one stdio message (STDIO_DEFAULT_MAX_BUFFER_SIZE), kept, but per line. */
export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

/** JSON-RPC 2.0 error codes (https://www.jsonrpc.org/specification#error_object). */
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;

/**
 * Newline-delimited JSON-RPC over stdin/stdout, like the SDK's StdioServerTransport, except for what it does
 * with a bad line. The SDK's transport closes itself when one line exceeds 10 MiB, and the process then
 * exits silently with code 0; a line that is not JSON is dropped without an answer. Here an oversized line is
 * skipped to its newline (never held in memory) and answered with a JSON-RPC error, a line that is not a
 * JSON-RPC message gets a parse error, and the server keeps serving the next line.
 */
export class LineLimitedStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  readonly #stdin: Readable;
  readonly #stdout: Writable;
  readonly #maxBytes: number;
  readonly #log: (line: string) => void;
  #parts: Buffer[] = [];
  #size = 0;
  /** While skipping an oversized line: its first and (so far) last bytes, to find the request id to answer. */
  #skipping: { head: Buffer; tail: Buffer } | undefined;
  #started = false;

  constructor(options: { stdin?: Readable; stdout?: Writable; maxBytes?: number; log?: (line: string) => void } = {}) {
    this.#stdin = options.stdin ?? process.stdin;
    this.#stdout = options.stdout ?? process.stdout;
    this.#maxBytes = options.maxBytes ?? MAX_MESSAGE_BYTES;
    this.#log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  async start(): Promise<void> {
    if (this.#started) throw new Error('transport already started');
    this.#started = true;
    this.#stdin.on('data', this.#onData);
    this.#stdin.on('error', this.#onError);
  }

  readonly #onError = (error: Error): void => {
    this.onerror?.(error);
  };

  readonly #onData = (chunk: Buffer): void => {
    let rest = chunk;
    for (let index = rest.indexOf(0x0a); index !== -1; index = rest.indexOf(0x0a)) {
      this.#take(rest.subarray(0, index));
      this.#endLine();
      rest = rest.subarray(index + 1);
    }
    if (rest.length > 0) this.#take(rest);
  };

  /** Part of the current line: kept while the line fits, counted and dropped once it does not. */
  #take(part: Buffer): void {
    if (this.#skipping) {
      this.#skipping.tail = lastBytes(Buffer.concat([this.#skipping.tail, part]));
      return;
    }
    if (this.#size + part.length > this.#maxBytes) {
      const line = Buffer.concat([...this.#parts, part]);
      this.#skipping = { head: Buffer.from(line.subarray(0, ID_WINDOW)), tail: lastBytes(line) };
      this.#parts = [];
      this.#size = 0;
      return;
    }
    if (part.length > 0) this.#parts.push(part);
    this.#size += part.length;
  }

  #endLine(): void {
    const skipped = this.#skipping;
    const line = Buffer.concat(this.#parts).toString('utf8').replace(/\r$/, '');
    this.#parts = [];
    this.#size = 0;
    this.#skipping = undefined;
    if (skipped) {
      this.#log(`claw-jira: refused a JSON-RPC message larger than ${this.#maxBytes} bytes; still serving`);
      void this.#answerError(requestIdOf(skipped.head, skipped.tail), INVALID_REQUEST, `message refused: larger than ${this.#maxBytes} bytes`);
      return;
    }
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      void this.#answerError(null, PARSE_ERROR, 'parse error: the line is not JSON');
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(json);
    if (!parsed.success) {
      void this.#answerError(idOf(json), INVALID_REQUEST, 'invalid request: not a JSON-RPC 2.0 message');
      return;
    }
    this.onmessage?.(parsed.data);
  }

  #answerError(id: string | number | null, code: number, message: string): Promise<void> {
    // JSON-RPC: an error whose request id cannot be read is answered with id null.
    return this.#write(`${JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } })}\n`);
  }

  send(message: JSONRPCMessage): Promise<void> {
    return this.#write(`${JSON.stringify(message)}\n`);
  }

  #write(text: string): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stdout.write(text)) resolve();
      else this.#stdout.once('drain', resolve);
    });
  }

  async close(): Promise<void> {
    this.#stdin.off('data', this.#onData);
    this.#stdin.off('error', this.#onError);
    if (this.#stdin.listenerCount('data') === 0) this.#stdin.pause();
    this.#parts = [];
    this.#skipping = undefined;
    this.onclose?.();
  }
}

function idOf(json: unknown): string | number | null {
  if (typeof json !== 'object' || json === null || !('id' in json)) return null;
  const id = (json as { id: unknown }).id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
}

const ID_WINDOW = 256;

function lastBytes(buffer: Buffer): Buffer {
  return Buffer.from(buffer.subarray(Math.max(0, buffer.length - ID_WINDOW)));
}

const ID = String.raw`(-?\d{1,15}|"[A-Za-z0-9._:-]{1,128}")`;
/** `{"jsonrpc":"2.0","id":7,` at the very start of the line. */
const ID_FIRST = new RegExp(String.raw`^\s*\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*${ID}\s*,`);
/** `,"id":7}` closing the line: one brace after it, so it is the top-level object's (the SDK client puts it last). */
const ID_LAST = new RegExp(String.raw`,\s*"id"\s*:\s*${ID}\s*\}\s*$`);

/**
 * The id of an oversized request, read only where clients put it: first after `"jsonrpc":"2.0"`, or last before
 * the closing brace. Anything else is not guessed: the error is answered with id null, as JSON-RPC says.
 */
function requestIdOf(head: Buffer, tail: Buffer): string | number | null {
  const found = ID_FIRST.exec(head.toString('utf8'))?.[1] ?? ID_LAST.exec(tail.toString('utf8').replace(/\r$/, ''))?.[1];
  if (found === undefined) return null;
  return found.startsWith('"') ? found.slice(1, -1) : Number(found);
}
