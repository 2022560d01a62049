import { closeSync, constants, fdatasyncSync, fstatSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SigningKey } from '../keys/ed25519.js';
import { fsyncDir, writeAll } from '../util/files.js';
import { ReceiptError } from './errors.js';
import { receiptHash, receiptLine, signReceipt } from './sign.js';
import type { Receipt, ReceiptContent } from './types.js';

export interface ReceiptLogOptions {
  /** The job's proof-bundle folder. */
  bundleDir: string;
  job: string;
  server: string;
  key: SigningKey;
  session?: string;
  /** Stamped on every receipt of the log: the job's Claw run id. */
  runId?: string;
}

export interface AppendedReceipt {
  receipt: Receipt;
  hash: string;
}

export const RECEIPTS_DIR = 'receipts';

/**
 * One append-only, hash-chained file per server session, so concurrent sessions never share a file and never
 * interleave. Each append is one write of one whole line followed by fsync: when `append` returns, the
 * receipt is durable; when it throws, the caller must not proceed (no durable receipt, no Jira call).
 * After a failed write the log refuses every further append, since its tail may be damaged.
 */
export class ReceiptLog {
  readonly file: string;
  readonly session: string;
  #fd: number | undefined;
  #seq = 0;
  #prev: string | null = null;
  #broken = false;

  private constructor(
    readonly options: ReceiptLogOptions,
    session: string,
    file: string,
    fd: number,
  ) {
    this.session = session;
    this.file = file;
    this.#fd = fd;
  }

  static open(options: ReceiptLogOptions): ReceiptLog {
    const session = options.session ?? `${new Date().toISOString().replace(/[:.]/g, '').slice(0, 15)}-${randomBytes(4).toString('hex')}`;
    const dir = join(options.bundleDir, RECEIPTS_DIR);
    const file = join(dir, `${options.server}-${session}.jsonl`);
    try {
      mkdirSync(dir, { recursive: true });
      const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND, 0o644);
      fsyncDir(dir);
      return new ReceiptLog(options, session, file, fd);
    } catch {
      throw new ReceiptError('RECEIPT_WRITE_FAILED', `cannot create the receipt file in ${dir}`);
    }
  }

  get seq(): number {
    return this.#seq;
  }

  get head(): string | null {
    return this.#prev;
  }

  /**
   * `durable: false` writes the line without waiting for the disk; the next durable append flushes it too
   * (fdatasync covers all data written to the file). The gate uses it only for the decision receipt of a
   * read, whose outcome receipt is made durable before the result reaches the model.
   */
  append(content: ReceiptContent, options: { durable?: boolean } = {}): AppendedReceipt {
    if (this.#broken || this.#fd === undefined) {
      throw new ReceiptError('RECEIPT_LOG_CLOSED', 'the receipt log can no longer be written; restart the server');
    }
    const receipt = signReceipt(
      {
        ...content,
        ...(this.options.runId !== undefined ? { run_id: this.options.runId } : {}),
        v: 1,
        job: this.options.job,
        server: this.options.server,
        session: this.session,
        seq: this.#seq + 1,
        prev: this.#prev,
        kid: this.options.key.kid,
      },
      this.options.key,
    );
    const line = receiptLine(receipt);
    try {
      writeAll(this.#fd, `${line}\n`);
      // fdatasync is enough for an append-only file: it flushes the data and the size that makes it readable,
      // skipping only timestamps; about half the cost of fsync on ext4.
      if (options.durable !== false) fdatasyncSync(this.#fd);
      // A file unlinked under us (bundle folder deleted) still accepts writes that nobody can ever read.
      if (fstatSync(this.#fd).nlink === 0) throw new Error('receipt file was removed');
    } catch {
      this.#broken = true;
      throw new ReceiptError('RECEIPT_WRITE_FAILED', `cannot write a durable receipt to ${this.file}`);
    }
    const hash = receiptHash(line);
    this.#seq += 1;
    this.#prev = hash;
    return { receipt, hash };
  }

  close(): void {
    if (this.#fd !== undefined) {
      try {
        closeSync(this.#fd);
      } catch {
        // Closing is best effort: every receipt was already fsynced.
      }
      this.#fd = undefined;
    }
  }
}
