import { randomBytes } from 'node:crypto';
import type { SigningKey } from '../../keys/ed25519.js';
import { ReceiptError } from '../../receipts/errors.js';
import type { AppendedReceipt } from '../../receipts/log.js';
import { signChained } from '../../receipts/sign.js';
import type { ReceiptContent } from '../../receipts/types.js';
import type { ReceiptSink } from '../ports.js';
import { StateError } from './errors.js';
import type { SqlValue, StateDb } from './pool.js';

/** Rows per INSERT statement: well under PostgreSQL's 65535 parameters at six a row. */
const ROWS_PER_STATEMENT = 500;
/** How long a sink waits between attempts to learn its committed head again after a failed commit. */
const RESYNC_RETRY_MS = 500;

interface Pending {
  seq: number;
  hash: string;
  line: string;
}

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface PostgresSinkOptions {
  job: string;
  server: string;
  key: SigningKey;
  /** The job's Claw run id, as the database holds it (the same on every replica). */
  runId: string;
  session?: string;
}

/**
 * One session's receipt chain as rows of `claw_receipts`: the same lines, chain and Ed25519 signatures a
 * session file holds (signed with `signChained`, as ReceiptLog does), computed in this process in call order,
 * and inserted in one transaction per commit together with the session's head (`claw_sessions.seq/head`).
 *
 * Durability is a group commit, as the file log's fdatasync: `appendDurable` resolves once a transaction that
 * holds its row has committed; appends made while one commit runs share the next. A failed commit fails every
 * waiter (none is told "durable" when it is not), and the transaction leaves nothing half-written. The rows
 * in memory past the last commit are then dropped, and the sink refuses appends (STATE_UNAVAILABLE) until it
 * has read its committed head back from the database: a commit whose answer was lost may still have landed,
 * and the chain must go on from what the database holds, never fork it.
 */
export class PostgresReceiptSink implements ReceiptSink {
  readonly session: string;
  readonly #db: StateDb;
  readonly #options: PostgresSinkOptions;
  #seq = 0;
  #prev: string | null = null;
  #committedSeq = 0;
  #committedHead: string | null = null;
  #pending: Pending[] = [];
  #waiters: Waiter[] = [];
  #committing = false;
  #recovering: Promise<void> | undefined;
  #closed = false;
  #sessionRow = false;
  /** Counted for the bench and the tests: how many transactions carried receipts. */
  commits = 0;

  constructor(db: StateDb, options: PostgresSinkOptions) {
    this.#db = db;
    this.#options = options;
    this.session = options.session ?? `${new Date().toISOString().replace(/[:.]/g, '').slice(0, 15)}-${randomBytes(4).toString('hex')}`;
  }

  /**
   * Signs and chains at once, in call order. A database cannot be written synchronously, so the row always
   * goes out with the next commit (started here): a caller that must know it is durable uses `appendDurable`.
   */
  append(content: ReceiptContent): AppendedReceipt {
    if (this.#closed) throw new ReceiptError('RECEIPT_LOG_CLOSED', 'the receipt session is closed');
    if (this.#recovering) throw unavailable();
    const { job, server, runId, key } = this.#options;
    const { receipt, line, hash } = signChained(content, { job, server, session: this.session, seq: this.#seq + 1, prev: this.#prev, runId }, key);
    this.#seq += 1;
    this.#prev = hash;
    this.#pending.push({ seq: this.#seq, hash, line });
    this.flush().catch(() => undefined);
    return { receipt, hash };
  }

  /** Its place in the chain now; durable with the commit `append` started. */
  async appendWritten(content: ReceiptContent): Promise<AppendedReceipt> {
    return this.append(content);
  }

  async appendDurable(content: ReceiptContent): Promise<AppendedReceipt> {
    const appended = this.append(content);
    await this.#until(appended.receipt.seq);
    return appended;
  }

  /** Resolves when every receipt appended so far is committed; rejects (STATE_UNAVAILABLE) if that commit failed. */
  flush(): Promise<void> {
    if (this.#recovering) return Promise.reject(unavailable());
    return this.#until(this.#seq);
  }

  #until(seq: number): Promise<void> {
    if (seq <= this.#committedSeq) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ seq, resolve, reject });
      if (!this.#committing) {
        this.#committing = true;
        // Next turn of the event loop: appends made in this one (a batch of concurrent calls) join this commit.
        setImmediate(() => void this.#commitLoop());
      }
    });
  }

  async #commitLoop(): Promise<void> {
    try {
      while (this.#waiters.length > 0 && this.#pending.length > 0) {
        const batch = this.#pending.splice(0);
        try {
          await this.#db.transaction((query) => this.#insert(query, batch));
          this.commits += 1;
        } catch {
          this.#failed();
          return;
        }
        const last = batch[batch.length - 1] as Pending;
        this.#sessionRow = true;
        this.#committedSeq = last.seq;
        this.#committedHead = last.hash;
        const still: Waiter[] = [];
        for (const waiter of this.#waiters) {
          if (waiter.seq <= this.#committedSeq) waiter.resolve();
          else still.push(waiter);
        }
        this.#waiters = still;
      }
    } finally {
      this.#committing = false;
    }
  }

  async #insert(query: StateDb['query'], batch: Pending[]): Promise<void> {
    const { job, server } = this.#options;
    const last = batch[batch.length - 1] as Pending;
    // The session row first (the receipts name it): its index entry, and its durable head as of this commit.
    if (!this.#sessionRow) {
      await query(
        `INSERT INTO claw_sessions (job, server, session, opened_at, seq, head) VALUES ($1, $2, $3, now(), $4, $5)
         ON CONFLICT (job, server, session) DO UPDATE SET seq = EXCLUDED.seq, head = EXCLUDED.head`,
        [job, server, this.session, last.seq, last.hash],
      );
    } else {
      await query('UPDATE claw_sessions SET seq = $4, head = $5 WHERE job = $1 AND server = $2 AND session = $3', [job, server, this.session, last.seq, last.hash]);
    }
    for (let at = 0; at < batch.length; at += ROWS_PER_STATEMENT) {
      const rows = batch.slice(at, at + ROWS_PER_STATEMENT);
      const params: SqlValue[] = [];
      const values = rows.map((row) => {
        params.push(job, server, this.session, row.seq, row.hash, row.line);
        const n = params.length;
        return `($${n - 5}, $${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
      });
      await query(`INSERT INTO claw_receipts (job, server, session, seq, hash, line) VALUES ${values.join(', ')}`, params);
    }
  }

  /** A commit failed: every waiter fails, what was not committed is dropped, and the head is read back before any new append. */
  #failed(): void {
    const error = unavailable();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    this.#pending = [];
    this.#seq = this.#committedSeq;
    this.#prev = this.#committedHead;
    this.#recovering ??= this.#resync();
  }

  async #resync(): Promise<void> {
    const { job, server } = this.#options;
    for (;;) {
      try {
        const rows = await this.#db.query<{ seq: number; hash: string }>(
          'SELECT seq, hash FROM claw_receipts WHERE job = $1 AND server = $2 AND session = $3 ORDER BY seq DESC LIMIT 1',
          [job, server, this.session],
        );
        const head = rows[0];
        this.#seq = this.#committedSeq = head?.seq ?? 0;
        this.#prev = this.#committedHead = head?.hash ?? null;
        this.#sessionRow = head !== undefined;
        this.#recovering = undefined;
        return;
      } catch {
        await new Promise<void>((resolve) => setTimeout(resolve, RESYNC_RETRY_MS).unref());
        if (this.#closed) return;
      }
    }
  }

  /** A clean stop: the closing receipt committed, then the session marked closed (review tells it from a crash). */
  async closeDurably(closing?: ReceiptContent): Promise<void> {
    if (this.#closed) return;
    try {
      if (closing && !this.#recovering) await this.appendDurable(closing);
      else if (!this.#recovering) await this.flush();
      if (closing && !this.#recovering) {
        const { job, server } = this.#options;
        await this.#db.query('UPDATE claw_sessions SET closed = true WHERE job = $1 AND server = $2 AND session = $3', [job, server, this.session]);
      }
    } catch {
      // A failed last commit is reported by the missing closing receipt.
    } finally {
      this.#closed = true;
    }
  }
}

function unavailable(): StateError {
  return new StateError('STATE_UNAVAILABLE', 'the state database did not commit the receipt: the call is refused');
}
