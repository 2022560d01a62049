import { closeSync, constants, fdatasync, fdatasyncSync, fstatSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { canonicalBytes, canonicalJson, hashAddress } from '../util/canonical.js';
import { ClawError } from '../util/errors.js';
import { fsyncDir, writeAll } from '../util/files.js';
import { signBytes, verifyBytes, type SigningKey, type VerifyingKey } from '../keys/ed25519.js';
import { stampOf } from '../util/file-stamp.js';

/**
 * The server's own memory of what it has accepted and spent: approvals used, budget units spent, the newest
 * revocation list and kill-switch record seen. Files an attacker can delete or rewrite (a `.used` marker, a
 * budget file, an old revocation list put back) are checked against it instead of trusted.
 *
 * One append-only file per CLAW_HOME (`state/journal.jsonl`), shared by every server of that home. Each line
 * is canonical JSON, names the hash of the line before it and is signed with the server's receipt key, so a
 * line edited, removed, reordered or cut off breaks the chain. Appends take an O_EXCL lock, re-read what
 * other servers appended, and are fdatasync'ed before the caller goes on (before any Jira call).
 */
export const JOURNAL_VERSION = 1;

/** `CLAW_HOME/state/journal.jsonl`. */
export function journalFileOf(stateDir: string): string {
  return join(stateDir, 'journal.jsonl');
}

export const JournalEntrySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('genesis'), created_at: z.string() }),
  z.strictObject({ type: z.literal('approval.used'), job: z.string(), request_id: z.string(), via: z.enum(['signed', 'elicitation']) }),
  z.strictObject({ type: z.literal('budget.spend'), job: z.string(), budgets: z.array(z.string()).min(1) }),
  z.strictObject({ type: z.literal('revocation.accepted'), iat: z.number().int(), hash: z.string() }),
  z.strictObject({ type: z.literal('kill_switch.seen'), state: z.enum(['disabled', 'enabled']), seq: z.number().int(), hash: z.string() }),
]);
export type JournalEntry = z.infer<typeof JournalEntrySchema>;

const LineSchema = z.strictObject({
  v: z.literal(JOURNAL_VERSION),
  seq: z.number().int().min(0),
  prev: z.string().nullable(),
  time: z.string(),
  entry: JournalEntrySchema,
  kid: z.string(),
  sig: z.string(),
});
type Line = z.infer<typeof LineSchema>;

export type JournalErrorCode = 'STATE_JOURNAL_MISSING' | 'STATE_JOURNAL_INVALID' | 'STATE_JOURNAL_TRUNCATED' | 'STATE_JOURNAL_UNAVAILABLE';

export class JournalError extends ClawError {
  declare readonly code: JournalErrorCode;
  constructor(code: JournalErrorCode, message: string) {
    super(code, message);
    this.name = 'JournalError';
  }
}

/** What the journal says, folded from its entries in order. */
export interface JournalState {
  usedApprovals: Set<string>;
  /** job -> budget name -> units spent. */
  budgets: Map<string, Record<string, number>>;
  revocation: { iat: number; hash: string } | undefined;
  killSwitch: { state: 'disabled' | 'enabled'; seq: number; hash: string } | undefined;
}

function emptyState(): JournalState {
  return { usedApprovals: new Set(), budgets: new Map(), revocation: undefined, killSwitch: undefined };
}

function apply(state: JournalState, entry: JournalEntry): void {
  switch (entry.type) {
    case 'approval.used':
      state.usedApprovals.add(entry.request_id);
      return;
    case 'budget.spend': {
      const counts = state.budgets.get(entry.job) ?? {};
      for (const name of entry.budgets) counts[name] = (counts[name] ?? 0) + 1;
      state.budgets.set(entry.job, counts);
      return;
    }
    case 'revocation.accepted':
      if (!state.revocation || entry.iat >= state.revocation.iat) state.revocation = { iat: entry.iat, hash: entry.hash };
      return;
    case 'kill_switch.seen':
      if (!state.killSwitch || entry.seq >= state.killSwitch.seq) state.killSwitch = { state: entry.state, seq: entry.seq, hash: entry.hash };
      return;
    case 'genesis':
      return;
  }
}

function verifyingKeyOf(key: SigningKey): VerifyingKey {
  return { kid: key.kid, publicKey: createPublicKey(key.privateKey), publicJwk: key.publicJwk };
}

function signLine(body: Omit<Line, 'sig'>, key: SigningKey): string {
  const sig = Buffer.from(signBytes(key, canonicalBytes(body))).toString('base64url');
  return canonicalJson({ ...body, sig });
}

/** Write the first line of a new journal (`claw-jira init`). Never replaces an existing journal. */
export function createJournal(file: string, key: SigningKey, now: Date = new Date()): boolean {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new JournalError('STATE_JOURNAL_UNAVAILABLE', `cannot create the state journal ${file}`);
  }
  try {
    const time = now.toISOString();
    writeAll(fd, `${signLine({ v: JOURNAL_VERSION, seq: 0, prev: null, time, entry: { type: 'genesis', created_at: time }, kid: key.kid }, key)}\n`);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDir(dirname(file));
  return true;
}

const LOCK_ATTEMPTS = 400;
const STALE_LOCK_MS = 10_000;

/**
 * Run `fn` holding an O_EXCL lock file. A holder keeps it for a disk sync at most; one older than 10 s belongs
 * to a process that died holding it.
 */
export async function withFileLock<T>(lock: string, fn: () => T | Promise<T>, code = 'STATE_JOURNAL_UNAVAILABLE'): Promise<T> {
  for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
    let fd: number;
    try {
      fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new ClawError(code, `cannot take the lock ${lock}`);
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { force: true });
      } catch {
        // Gone already: the next attempt takes it.
      }
      await sleep(5);
      continue;
    }
    try {
      // Awaited here: the lock is held until an asynchronous `fn` has finished, its disk sync included.
      return await fn();
    } finally {
      closeSync(fd);
      rmSync(lock, { force: true });
    }
  }
  throw new ClawError(code, `the lock ${lock} stayed taken for 2 s`);
}

/**
 * A verified, incrementally re-read view of the journal. `refresh` costs one `stat` when nothing changed; new
 * lines (from other servers) are verified as they are read. Once the journal fails to verify, the view stays
 * broken: every caller refuses until an operator looks at it.
 */
export class StateJournal {
  readonly state: JournalState = emptyState();
  readonly #file: string;
  readonly #lock: string;
  readonly #key: SigningKey;
  readonly #verify: VerifyingKey;
  /** Bytes verified so far, and where the last verified line starts (re-read to prove it is still there). */
  #offset = 0;
  #lastStart = 0;
  #lastLine: string | undefined;
  #lastHash: string | null = null;
  #seq = -1;
  #stamp = '';
  #broken: JournalError | undefined;
  /** Lines this server signed in the transaction in progress: read back, they need no signature check. */
  #own = new Set<string>();
  /** Transactions of this process run one after another (the file lock orders them against other processes). */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(file: string, key: SigningKey) {
    this.#file = file;
    this.#lock = `${file}.lock`;
    this.#key = key;
    this.#verify = verifyingKeyOf(key);
  }

  /** Open and verify the whole journal. Missing (deleted, or a home `claw-jira init` never made) refuses. */
  static open(file: string, key: SigningKey): StateJournal {
    const journal = new StateJournal(file, key);
    journal.refresh();
    return journal;
  }

  get file(): string {
    return this.#file;
  }

  /** Read and verify what was appended since the last look. Throws JournalError (and stays broken) on tampering. */
  refresh(): void {
    if (this.#broken) throw this.#broken;
    try {
      this.#refresh();
    } catch (error) {
      if (error instanceof JournalError && error.code !== 'STATE_JOURNAL_UNAVAILABLE') this.#broken = error;
      throw error;
    }
  }

  #refresh(): void {
    let st;
    try {
      st = statSync(this.#file, { bigint: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new JournalError('STATE_JOURNAL_MISSING', `the state journal ${this.#file} is missing (deleted, or CLAW_HOME was not made by 'claw-jira init')`);
      }
      throw new JournalError('STATE_JOURNAL_UNAVAILABLE', 'cannot read the state journal');
    }
    const stamp = stampOf(st);
    if (stamp === this.#stamp) return;
    if (st.size < BigInt(this.#offset)) throw new JournalError('STATE_JOURNAL_TRUNCATED', 'the state journal is shorter than what this server already read');
    const bytes = this.#readFrom(this.#lastStart);
    let pos = 0;
    if (this.#lastLine !== undefined) {
      // The last line verified must still be there, byte for byte: a rewritten tail is a broken chain.
      const expected = Buffer.from(`${this.#lastLine}\n`, 'utf8');
      if (bytes.length < expected.length || !bytes.subarray(0, expected.length).equals(expected)) {
        throw new JournalError('STATE_JOURNAL_INVALID', 'the state journal was rewritten under a running server');
      }
      pos = expected.length;
    }
    const base = this.#lastStart;
    while (pos < bytes.length) {
      const end = bytes.indexOf(0x0a, pos);
      // A line without its newline is an append in progress (or a torn write): read it next time.
      if (end < 0) break;
      this.#accept(bytes.subarray(pos, end).toString('utf8'));
      this.#lastStart = base + pos;
      this.#offset = base + end + 1;
      pos = end + 1;
    }
    if (this.#seq < 0) throw new JournalError('STATE_JOURNAL_INVALID', 'the state journal is empty');
    this.#stamp = pos === bytes.length ? stamp : '';
  }

  #readFrom(start: number): Buffer {
    let fd: number;
    try {
      fd = openSync(this.#file, constants.O_RDONLY);
    } catch {
      throw new JournalError('STATE_JOURNAL_UNAVAILABLE', 'cannot read the state journal');
    }
    try {
      const size = Number(fstatSync(fd).size) - start;
      if (size <= 0) return Buffer.alloc(0);
      const buffer = Buffer.alloc(size);
      let read = 0;
      while (read < size) {
        const n = readSync(fd, buffer, read, size - read, start + read);
        if (n === 0) break;
        read += n;
      }
      return buffer.subarray(0, read);
    } finally {
      closeSync(fd);
    }
  }

  #accept(text: string): void {
    let line: Line;
    try {
      line = LineSchema.parse(JSON.parse(text));
    } catch {
      throw new JournalError('STATE_JOURNAL_INVALID', `state journal line ${this.#seq + 2} is not a journal entry`);
    }
    const { sig, ...body } = line;
    // A line read back byte for byte as this server just signed it needs no second Ed25519 verify (the
    // chain checks below still run); every other line is verified.
    const signed =
      canonicalJson(line) === text &&
      line.kid === this.#key.kid &&
      (this.#own.has(text) || verifyBytes(this.#verify, canonicalBytes(body), Buffer.from(sig, 'base64url')));
    if (!signed) throw new JournalError('STATE_JOURNAL_INVALID', `state journal line ${line.seq} is not signed by this server's receipt key`);
    const first = this.#seq < 0;
    if (line.seq !== this.#seq + 1 || line.prev !== this.#lastHash || (first ? line.entry.type !== 'genesis' : line.entry.type === 'genesis')) {
      throw new JournalError('STATE_JOURNAL_INVALID', `state journal line ${line.seq} does not follow line ${this.#seq} (lines removed, reordered or replaced)`);
    }
    apply(this.state, line.entry);
    this.#seq = line.seq;
    this.#lastHash = hashAddress(text);
    this.#lastLine = text;
  }

  /**
   * Under the journal lock: bring the view up to date, let `decide` look at it and name the entries to append
   * (none: nothing is written), append them and fdatasync. The caller acts only after this returns.
   */
  transact<T>(
    decide: (state: JournalState) => { entries: JournalEntry[]; result: T },
    options: { now?: Date; afterAppend?: () => void } = {},
  ): Promise<T> {
    // Queued in process rather than left to the file lock, which a second caller would poll for every 5 ms.
    const run = this.#queue.then(() => this.#transact(decide, options));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #transact<T>(
    decide: (state: JournalState) => { entries: JournalEntry[]; result: T },
    options: { now?: Date; afterAppend?: () => void },
  ): Promise<T> {
    const now = options.now ?? new Date();
    return withFileLock(this.#lock, async () => {
      this.refresh();
      const { entries, result } = decide(this.state);
      if (entries.length === 0) return result;
      const lines: string[] = [];
      let prev = this.#lastHash;
      let seq = this.#seq;
      for (const entry of entries) {
        seq += 1;
        const line = signLine({ v: JOURNAL_VERSION, seq, prev, time: now.toISOString(), entry, kid: this.#key.kid }, this.#key);
        lines.push(line);
        prev = hashAddress(line);
      }
      let fd: number;
      try {
        fd = openSync(this.#file, constants.O_WRONLY | constants.O_APPEND);
      } catch {
        throw new JournalError('STATE_JOURNAL_UNAVAILABLE', 'cannot append to the state journal');
      }
      try {
        writeAll(fd, `${lines.join('\n')}\n`);
        // On the thread pool, not the event loop: other calls' work goes on while this write's entry syncs;
        // this caller still goes on (to Jira) only once it is durable.
        await new Promise<void>((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
      } catch {
        throw new JournalError('STATE_JOURNAL_UNAVAILABLE', 'cannot append to the state journal (disk full?)');
      } finally {
        closeSync(fd);
      }
      // Read back our own lines through the same verifying path: the view and the file cannot disagree.
      this.#own = new Set(lines);
      try {
        this.refresh();
      } finally {
        this.#own.clear();
      }
      options.afterAppend?.();
      return result;
    });
  }
}
