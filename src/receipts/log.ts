import { closeSync, constants, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SigningKey } from '../keys/ed25519.js';
import { fsyncDir } from '../util/files.js';
import { ReceiptError } from './errors.js';
import { HeadRecorder, type HeadsOptions, type PreparedHead } from './heads.js';
import { signChained } from './sign.js';
import type { Receipt, ReceiptContent } from './types.js';

/**
 * The file operations the log needs, as a seam: tests inject a failing or counting one (ENOSPC, EIO, "how many
 * syncs did eight concurrent calls cost") without needing a full disk.
 */
export interface ReceiptFs {
  write(fd: number, bytes: Uint8Array, offset: number, length: number): number;
  /** Asynchronous fdatasync: runs on libuv's thread pool, never on the event loop. */
  datasync(fd: number): Promise<void>;
  datasyncSync(fd: number): void;
  truncate(fd: number, length: number): void;
  linked(fd: number): boolean;
}

export const NODE_RECEIPT_FS: ReceiptFs = {
  write: (fd, bytes, offset, length) => writeSync(fd, bytes, offset, length),
  datasync: (fd) => new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve()))),
  datasyncSync: (fd) => fdatasyncSync(fd),
  truncate: (fd, length) => ftruncateSync(fd, length),
  linked: (fd) => fstatSync(fd).nlink > 0,
};

export interface ReceiptLogOptions {
  /** The job's proof-bundle folder. */
  bundleDir: string;
  job: string;
  server: string;
  key: SigningKey;
  session?: string;
  /** Record the session's durable head outside the bundle (the servers do; seal's own log does not). */
  heads?: HeadsOptions;
  /** Injected by tests. */
  fs?: ReceiptFs;
  /** Stamped on every receipt of the log: the job's Claw run id. */
  runId?: string;
  /**
   * Whether other calls are in flight (the gate tells). Then every sync runs on the thread pool, so their
   * calls never wait behind it on the event loop; a caller alone syncs inline, which is faster than the
   * thread hand-off. Without it, a lone caller after a lone caller syncs inline.
   */
  busy?: () => boolean;
}

export interface AppendedReceipt {
  receipt: Receipt;
  hash: string;
}

export const RECEIPTS_DIR = 'receipts';

/** Receipts hold before-values of changed issues and ticket text: owner only. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/** An append waiting for the disk: released (or failed) by the sync that covers its bytes. */
interface Waiter {
  end: number;
  resolve: () => void;
  reject: (error: ReceiptError) => void;
}

/**
 * One append-only, hash-chained file per server session, so concurrent sessions never share a file and never
 * interleave. Each append writes one whole line at once, in call order, so the chain is strictly ordered.
 *
 * Durability is a group commit: `appendDurable` resolves once an fdatasync that started after its line was
 * written has completed. While one sync runs, every append that arrives waits for the next one, which then
 * covers all of them: eight concurrent calls cost two syncs, not eight, and the event loop never blocks on
 * the disk. A failed sync rejects every append that waited on it (none is told "durable" when it is not).
 *
 * Any failure (a short write, ENOSPC, EIO, the file unlinked) cuts the file back to the end of the last receipt
 * known durable, so no partial or unconfirmed line stays behind, and the log then refuses every further append:
 * the caller must not proceed (no durable receipt, no Jira call).
 */
export class ReceiptLog {
  readonly file: string;
  readonly session: string;
  readonly #fs: ReceiptFs;
  #fd: number | undefined;
  #seq = 0;
  #prev: string | null = null;
  #broken = false;
  /** Bytes written; bytes known durable. */
  #written = 0;
  #durable = 0;
  /** The seq and head at #durable, for the head record. */
  #durableSeq = 0;
  #durableHead: string | null = null;
  #syncing = false;
  #waiters: Waiter[] = [];
  /** Callers released by the previous sync (0 before the first): a lone one after a lone one syncs inline. */
  #lastBatch = 0;
  /** Where each written-but-not-yet-durable line ends, with its seq and hash, oldest first. */
  #pending: { end: number; seq: number; hash: string }[] = [];
  #heads: HeadRecorder | undefined;
  /** Counted for the bench and the tests: how many fdatasyncs the log issued. */
  syncs = 0;

  private constructor(
    readonly options: ReceiptLogOptions,
    session: string,
    file: string,
    fd: number,
  ) {
    this.session = session;
    this.file = file;
    this.#fd = fd;
    this.#fs = options.fs ?? NODE_RECEIPT_FS;
  }

  static open(options: ReceiptLogOptions): ReceiptLog {
    const session = options.session ?? `${new Date().toISOString().replace(/[:.]/g, '').slice(0, 15)}-${randomBytes(4).toString('hex')}`;
    const dir = join(options.bundleDir, RECEIPTS_DIR);
    const file = join(dir, `${options.server}-${session}.jsonl`);
    let log: ReceiptLog;
    try {
      mkdirSync(dir, { recursive: true, mode: DIR_MODE });
      const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND, FILE_MODE);
      fsyncDir(dir);
      log = new ReceiptLog(options, session, file, fd);
    } catch {
      throw new ReceiptError('RECEIPT_WRITE_FAILED', `cannot create the receipt file in ${dir}`);
    }
    if (options.heads) {
      try {
        log.#heads = HeadRecorder.open(options.heads, { job: options.job, server: options.server, session, key: options.key, bundleDir: options.bundleDir, file });
      } catch {
        log.close();
        throw new ReceiptError('RECEIPT_WRITE_FAILED', 'cannot create the session head record in the server state');
      }
    }
    return log;
  }

  get seq(): number {
    return this.#seq;
  }

  get head(): string | null {
    return this.#prev;
  }

  /**
   * Synchronous append, on the calling thread (the CLI and seal use it; servers use the asynchronous ones).
   * `durable: false` writes the line without waiting for the disk; the next sync covers it (fdatasync covers
   * all data written to the file). Otherwise the line is synced before this returns.
   */
  append(content: ReceiptContent, options: { durable?: boolean } = {}): AppendedReceipt {
    const appended = this.#write(content);
    if (options.durable !== false) {
      const end = this.#written;
      try {
        this.syncs += 1;
        this.#fs.datasyncSync(this.#fd as number);
      } catch {
        throw this.#fail();
      }
      this.#markDurable(end);
    }
    return appended;
  }

  /**
   * Append without waiting for the disk: the line is signed and written now, in call order (the gate's read
   * decision receipts, whose outcome's sync covers them, and its events). The next sync makes it durable.
   */
  appendWritten(content: ReceiptContent): Promise<AppendedReceipt> {
    try {
      return Promise.resolve(this.#write(content));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Append and wait until the line is durable, sharing one fdatasync with every append made meanwhile. */
  async appendDurable(content: ReceiptContent): Promise<AppendedReceipt> {
    const appended = this.#write(content);
    await this.flush();
    return appended;
  }

  /** Resolves when everything written so far is durable; rejects (RECEIPT_WRITE_FAILED) if that sync failed. */
  flush(): Promise<void> {
    if (this.#broken) return Promise.reject(closedError());
    if (this.#durable >= this.#written) return Promise.resolve();
    const end = this.#written;
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ end, resolve, reject });
      if (!this.#syncing) {
        // Started on the next turn of the event loop, not now: appends made by the callbacks of this same
        // turn (requests read from one stdin chunk, a batch of Promise.all) join this first sync.
        this.#syncing = true;
        setImmediate(() => void this.#syncLoop());
      }
    });
  }

  #write(content: ReceiptContent): AppendedReceipt {
    if (this.#broken || this.#fd === undefined) throw closedError();
    const { job, server, runId, key } = this.options;
    const { receipt, line, hash } = signChained(content, { job, server, session: this.session, seq: this.#seq + 1, prev: this.#prev, runId }, key);
    const bytes = Buffer.from(`${line}\n`, 'utf8');
    try {
      let offset = 0;
      while (offset < bytes.length) offset += this.#fs.write(this.#fd, bytes, offset, bytes.length - offset);
      // A file unlinked under us (bundle folder deleted) still accepts writes that nobody can ever read.
      if (!this.#fs.linked(this.#fd)) throw new Error('receipt file was removed');
    } catch {
      throw this.#fail();
    }
    this.#seq += 1;
    this.#prev = hash;
    this.#written += bytes.length;
    this.#pending.push({ end: this.#written, seq: this.#seq, hash });
    return { receipt, hash };
  }

  /** One sync at a time; each covers every byte written before it started, and releases the waiters it covers. */
  async #syncLoop(): Promise<void> {
    try {
      while (!this.#broken && this.#waiters.length > 0) {
        const end = this.#written;
        let head: PreparedHead | undefined;
        // Alone (no other call in flight, or, when nobody says, a lone caller after a lone caller): nobody is
        // there to share the sync with, and the thread pool's cross-thread wake-ups cost more than they save
        // (measured here: fdatasync of a receipt pair 0.22-0.39 ms inline, 0.33-0.46 ms through the pool). With
        // others in flight the sync goes to the pool, so their calls never wait behind it on the event loop,
        // and the head record is signed on the pool meanwhile.
        const alone = this.options.busy ? !this.options.busy() : this.#lastBatch === 1;
        const inline = this.#waiters.length === 1 && alone;
        this.#lastBatch = this.#waiters.length;
        const state = { seq: this.#seq, head: this.#prev, bytes: end, closed: false };
        try {
          this.syncs += 1;
          if (inline) {
            head = this.#heads?.prepare(state);
            this.#fs.datasyncSync(this.#fd as number);
          } else {
            // The head record this batch will earn (everything written so far: seq, hash, bytes) is signed
            // while the disk works, and written only if the sync succeeds.
            const [, prepared] = await Promise.all([this.#fs.datasync(this.#fd as number), this.#heads?.prepareOffThread(state)]);
            head = prepared;
          }
          // A write that failed meanwhile cut the file back past what this sync covered.
          if (this.#broken) throw new Error('log failed during the sync');
        } catch {
          const error = this.#broken ? writeFailed(this.file) : this.#fail();
          for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
          return;
        }
        this.#markDurable(end, head);
        const still: Waiter[] = [];
        for (const waiter of this.#waiters) {
          if (waiter.end <= this.#durable) waiter.resolve();
          else still.push(waiter);
        }
        this.#waiters = still;
      }
    } finally {
      this.#syncing = false;
    }
  }

  /** `prepared`: the head record signed while the sync ran, used when it names exactly what is durable now. */
  #markDurable(end: number, prepared?: PreparedHead): void {
    if (end <= this.#durable) return;
    this.#durable = end;
    while (this.#pending.length > 0 && (this.#pending[0] as { end: number }).end <= end) {
      const done = this.#pending.shift() as { seq: number; hash: string };
      this.#durableSeq = done.seq;
      this.#durableHead = done.hash;
    }
    // The head record never names a receipt that is not durable yet, and is written before any caller of
    // this batch is released; a failed record write is not a failed receipt (the receipt is on disk), it only
    // leaves seal less to compare with: reported on stderr once.
    const state = { seq: this.#durableSeq, head: this.#durableHead, bytes: this.#durable, closed: false };
    this.#heads?.commitOrRecord(prepared, state);
  }

  /**
   * After any failure: cut the file back to the last durable receipt (no partial line, no line whose durability
   * was never confirmed), and refuse every further append.
   */
  #fail(): ReceiptError {
    this.#broken = true;
    if (this.#fd !== undefined) {
      try {
        this.#fs.truncate(this.#fd, this.#durable);
        this.#fs.datasyncSync(this.#fd);
      } catch {
        // Truncation is the best we can do; a tail it could not remove is named as torn by seal and verify.
      }
    }
    return writeFailed(this.file);
  }

  /**
   * Close after a last flush. `closing` is the stop event (the closing receipt review looks for); when it is
   * durable the head record is marked closed, so seal knows the session ended cleanly at that seq.
   */
  async closeDurably(closing?: ReceiptContent): Promise<void> {
    if (this.#fd === undefined) return;
    try {
      if (closing && !this.#broken) await this.appendDurable(closing);
      else if (!this.#broken) await this.flush();
      this.#heads?.record({ seq: this.#durableSeq, head: this.#durableHead, bytes: this.#durable, closed: closing !== undefined && !this.#broken }, { sync: true });
    } catch {
      // A failed last append was already cut back and is reported by the missing closing receipt.
    } finally {
      this.close();
    }
  }

  /** Close without waiting (the synchronous users: CLI, seal, tests); every durable append was already synced. */
  close(): void {
    this.#heads?.close();
    if (this.#fd !== undefined) {
      try {
        closeSync(this.#fd);
      } catch {
        // Closing is best effort: every durable receipt was already synced.
      }
      this.#fd = undefined;
    }
  }
}

function writeFailed(file: string): ReceiptError {
  return new ReceiptError('RECEIPT_WRITE_FAILED', `cannot write a durable receipt to ${file}`);
}

function closedError(): ReceiptError {
  return new ReceiptError('RECEIPT_LOG_CLOSED', 'the receipt log can no longer be written; restart the server');
}
