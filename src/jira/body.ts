import type { HttpAnswer } from './http.js';

/** Thrown by readCappedBody; the transport turns it into JIRA_RESPONSE_TOO_LARGE. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`response body exceeds ${limit} bytes`);
  }
}

/**
 * Read a response body counting bytes as they arrive and stop at the cap, so a hostile or broken server
 * cannot make us buffer an unbounded body. Counts decoded bytes (after content-encoding), which is what
 * would be held in memory.
 */
export async function readCappedBody(answer: HttpAnswer, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(answer.header('content-length') ?? Number.NaN);
  if (answer.header('content-encoding') === undefined && declared > maxBytes) {
    answer.discard();
    throw new BodyTooLarge(maxBytes);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of answer.body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      answer.discard();
      throw new BodyTooLarge(maxBytes);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
