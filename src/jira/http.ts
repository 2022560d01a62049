import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { BodyTooLarge, readCapped } from './body.js';

/** One HTTP request as the transport makes it: the URL, and nothing it has not decided itself. */
export interface HttpInit {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Aborts the request and its body (the transport's per-attempt timeout). */
  readonly signal: AbortSignal;
}

/** An answer whose body has not been read yet. */
export interface HttpAnswer {
  readonly status: number;
  /** A response header, lower-case name; repeated headers joined with ", ". */
  header(name: string): string | undefined;
  /**
   * The whole body, content-encoding removed, refused (BodyTooLarge) as soon as it passes `maxBytes` decoded
   * bytes, so neither a large nor a small compressed body that inflates is ever held beyond the cap.
   */
  read(maxBytes: number): Promise<Uint8Array>;
  /** Stop reading: the connection is closed rather than reused with half a body in it. */
  discard(): void;
}

/** The seam between the transport and the network; tests wrap the default one to see what is sent. */
export type HttpSend = (url: URL, init: HttpInit) => Promise<HttpAnswer>;

export interface NodeHttpOptions {
  /** Connections kept per origin; calls beyond it wait for a free one. */
  readonly maxSockets?: number;
  /** How long an idle connection is kept (shorter when the server's Keep-Alive hint says so). */
  readonly idleMs?: number;
}

/** Decoders for what we advertise in accept-encoding; any other encoding is refused by the transport. */
const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};
export const ACCEPT_ENCODING = 'gzip, deflate, br';

/** Thrown for a content-encoding we did not ask for: its bytes cannot be read, so the answer is unusable. */
export class UnsupportedEncoding extends Error {
  constructor(readonly encoding: string) {
    super(`unsupported content-encoding ${encoding}`);
  }
}

/**
 * HTTP/1.1 over node:http and node:https with keep-alive connection pools, one per scheme. Node's own client
 * rather than fetch: measured against the simulator, a GET costs about half the CPU through node:http that it
 * costs through fetch (undici's WHATWG layers: Request, Headers, Response and web streams per call), and that
 * CPU was the largest single part of a read served by either server. Redirects are not followed here (the
 * transport decides each hop); TLS is verified as Node always does (its CA store plus NODE_EXTRA_CA_CERTS),
 * never relaxed.
 */
export function nodeHttp(options: NodeHttpOptions = {}): HttpSend {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 16, timeout: options.idleMs ?? 4000, scheduling: 'lifo' as const };
  const agents = { 'http:': new HttpAgent(agentOptions), 'https:': new HttpsAgent(agentOptions) };
  return (url, init) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      const secure = url.protocol === 'https:';
      if (!secure && url.protocol !== 'http:') {
        reject(new Error(`unsupported protocol ${url.protocol}`));
        return;
      }
      const headers: Record<string, string> = { ...init.headers, 'accept-encoding': ACCEPT_ENCODING };
      if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
      const request = (secure ? httpsRequest : httpRequest)(url, { method: init.method, headers, agent: agents[url.protocol as 'http:' | 'https:'], signal: init.signal }, (response) =>
        resolve(answerOf(response)),
      );
      request.on('error', reject);
      request.end(init.body);
    });
}

function answerOf(response: IncomingMessage): HttpAnswer {
  const encoding = (response.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const identity = encoding === 'identity' || encoding === '';
  const decoder = DECODERS[encoding];
  const discard = () => void response.destroy();
  return {
    status: response.statusCode ?? 0,
    header(name) {
      const value = response.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    async read(maxBytes) {
      if (identity) {
        // A declared length over the cap is refused before a byte is read.
        if (Number(response.headers['content-length'] ?? Number.NaN) > maxBytes) {
          discard();
          throw new BodyTooLarge(maxBytes);
        }
        return readCapped(response, maxBytes, discard);
      }
      // Refused when the body is read, so the error still carries the status that came with it.
      if (!decoder) {
        discard();
        throw new UnsupportedEncoding(encoding);
      }
      const decoding = decoder();
      // An error on either side ends the read with it (a truncated or corrupt body is a network error).
      response.on('error', (error) => decoding.destroy(error));
      return readCapped(response.pipe(decoding), maxBytes, () => {
        decoding.destroy();
        discard();
      });
    },
    discard,
  };
}
