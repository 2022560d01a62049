import { readFileSync, statSync } from 'node:fs';
import type { TokenSource } from '../config/server-config.js';
import { CstError } from '../cst/errors.js';
import { stampOf } from '../util/file-stamp.js';

/**
 * The CST reaches the server from the runtime, never from the model: an environment variable, or a file the
 * runtime rotates. Each call costs one stat, no read: the file is re-read only when its identity, size, mtime or
 * ctime changed (ctime also moves on a same-size rewrite within one mtime tick, and on chmod), so a fresh token
 * takes effect at the next call.
 */
export class TokenReader {
  #stamp = '';
  #token: string | undefined;

  constructor(readonly source: TokenSource) {}

  /** The current token, or undefined when none is configured. Throws CST_MISSING for an unreadable file. */
  current(): string | undefined {
    const source = this.source;
    if (source.kind === 'none') return undefined;
    if (source.kind === 'env') return source.token;
    let stamp: string;
    try {
      stamp = stampOf(statSync(source.path, { bigint: true }));
    } catch {
      throw new CstError('CST_MISSING', `the token file ${source.path} (CLAW_CST_FILE) does not exist or cannot be read`);
    }
    if (stamp !== this.#stamp) {
      try {
        this.#token = readFileSync(source.path, 'utf8').trim();
      } catch {
        throw new CstError('CST_MISSING', `the token file ${source.path} (CLAW_CST_FILE) cannot be read`);
      }
      this.#stamp = stamp;
    }
    return this.#token === '' ? undefined : this.#token;
  }
}
