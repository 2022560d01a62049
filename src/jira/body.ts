import type { Readable } from 'node:stream';

/** Thrown when a body passes its cap; the transport turns it into JIRA_RESPONSE_TOO_LARGE. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`response body exceeds ${limit} bytes`);
  }
}

/**
 * Read a body counting bytes as they arrive and stop at the cap, so a hostile or broken server cannot make
 * us buffer an unbounded body. The count is of what the stream yields (decoded bytes, after
 * content-encoding), which is what would be held in memory. `stop` ends the connection when the cap is hit.
 * Plain 'data' events rather than the stream's async iterator: the same bytes for less CPU per response.
 */
export function readCapped(stream: Readable, maxBytes: number, stop: () => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > maxBytes) {
        stream.removeListener('data', onData);
        stop();
        reject(new BodyTooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    stream.on('data', onData);
    stream.once('end', () => resolve(Buffer.concat(chunks, total)));
    stream.once('error', reject);
    // Destroyed without an error (aborted by the timeout, the connection gone): no end will come.
    stream.once('close', () => reject(new Error('the response ended before its body was complete')));
  });
}
