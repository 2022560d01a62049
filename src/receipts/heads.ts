import { closeSync, constants, fdatasyncSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, writeSync } from 'node:fs';
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { join, relative } from 'node:path';
import { canonicalBytes, canonicalJson } from '../util/canonical.js';
import { signBytes, signBytesOffThread, type SigningKey } from '../keys/ed25519.js';
import { isCanonicalBase64url } from '../keys/base64url.js';

/**
 * Receipts before the seal. The bundle folder alone cannot show that its newest receipts were cut off at a line
 * boundary, or that a whole session file was deleted. So each server session also records, outside the bundle
 * (`$CLAW_HOME/state/heads/<job>/<server>-<session>.head`), how far its chain is durable: seq, head hash and
 * byte length, signed with the receipt key, plus whether the session closed cleanly. `bundle seal` compares
 * each session file with its record.
 *
 * The record is rewritten after every sync batch, so it must be cheap and crash-safe without an fsync of its
 * own: the file has two fixed-size slots written alternately in place (one pwrite, no rename). A write torn
 * by a crash damages only the slot being written; the reader takes the valid slot with the higher `n`. The
 * record is written only after the receipts it names are durable, so after a power loss it can lag the
 * receipt file (seal then checks less), never lead it (which would make an intact bundle unsealable). The
 * closing record is fsynced.
 *
 * The receipt log signs a batch's record while that batch's fdatasync runs (`prepare`: the state it will
 * name is known when the sync starts) and writes it once the sync has succeeded (`commit`), before any caller
 * of the batch is released: the signature costs no latency, and the record still never names a receipt that
 * is not durable, nor lags a receipt whose caller was told it is.
 */
export interface HeadsOptions {
  /** `$CLAW_HOME/state/heads`. */
  dir: string;
}

export interface SessionHead {
  v: 1;
  type: 'claw-jira.session-head';
  job: string;
  server: string;
  session: string;
  /** realpath of the bundle folder, and the session file relative to it. */
  bundle_dir: string;
  file: string;
  /** Write counter: the newer of the two slots. */
  n: number;
  seq: number;
  head: string | null;
  bytes: number;
  closed: boolean;
  kid: string;
  sig: string;
}

const SLOT = 4096;

/** What a head record says about its session. */
export interface HeadState {
  seq: number;
  head: string | null;
  bytes: number;
  closed: boolean;
}

/** A signed slot not yet written (see `HeadRecorder.prepare`). */
export interface PreparedHead {
  n: number;
  seq: number;
  slot: Buffer;
}
export const HEAD_SUFFIX = '.head';

export function headsDirOf(stateDir: string): string {
  return join(stateDir, 'heads');
}

interface Identity {
  job: string;
  server: string;
  session: string;
  key: SigningKey;
  bundleDir: string;
  file: string;
}

export class HeadRecorder {
  #fd: number | undefined;
  #n = 0;
  #warned = false;
  readonly #static: Omit<SessionHead, 'n' | 'seq' | 'head' | 'bytes' | 'closed' | 'sig'>;

  private constructor(
    fd: number,
    readonly path: string,
    readonly key: SigningKey,
    identity: Omit<SessionHead, 'n' | 'seq' | 'head' | 'bytes' | 'closed' | 'sig'>,
  ) {
    this.#fd = fd;
    this.#static = identity;
  }

  /** Creates the record (seq 0) durably before the first receipt, so a session is known from its start. */
  static open(options: HeadsOptions, id: Identity): HeadRecorder {
    const dir = join(options.dir, id.job);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, `${id.server}-${id.session}${HEAD_SUFFIX}`);
    const bundleDir = realpathSync(id.bundleDir);
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
    const recorder = new HeadRecorder(fd, path, id.key, {
      v: 1,
      type: 'claw-jira.session-head',
      job: id.job,
      server: id.server,
      session: id.session,
      bundle_dir: bundleDir,
      file: relative(id.bundleDir, id.file).split('\\').join('/'),
      kid: id.key.kid,
    });
    // Unlike later records, the first must exist (durably) or the session does not start.
    const first = recorder.prepare({ seq: 0, head: null, bytes: 0, closed: false });
    try {
      if (!first) throw new Error('cannot sign the session head record');
      writeSync(fd, first.slot, 0, SLOT, (first.n % 2) * SLOT);
      fdatasyncSync(fd);
      recorder.#n = first.n;
    } catch (error) {
      recorder.close();
      throw error;
    }
    return recorder;
  }

  /** Never throws: the receipts it describes are already durable. A failure is said once on stderr. */
  record(state: HeadState, options: { sync?: boolean } = {}): void {
    this.commit(this.prepare(state), options);
  }

  /** `prepared` if it names `state` and can still be written, else a record of `state` built now. */
  commitOrRecord(prepared: PreparedHead | undefined, state: HeadState): void {
    if (prepared?.seq === state.seq && this.commit(prepared)) return;
    this.record(state);
  }

  /**
   * The signed slot for `state`, not written yet: the caller writes it with `commit` only once the receipts it
   * names are durable, and discards it otherwise. Numbered after the last record committed; undefined (said
   * once) if it cannot be built.
   */
  prepare(state: HeadState): PreparedHead | undefined {
    const unsigned = this.#unsigned(state);
    if (unsigned === undefined) return undefined;
    try {
      return this.#slot(unsigned, signBytes(this.key, unsigned.bytes));
    } catch {
      this.#warn();
      return undefined;
    }
  }

  /** `prepare` with the signature computed on the thread pool (the log uses it while its sync runs there too). */
  async prepareOffThread(state: HeadState): Promise<PreparedHead | undefined> {
    const unsigned = this.#unsigned(state);
    if (unsigned === undefined) return undefined;
    try {
      return this.#slot(unsigned, await signBytesOffThread(this.key, unsigned.bytes));
    } catch {
      this.#warn();
      return undefined;
    }
  }

  #unsigned(state: HeadState): { n: number; seq: number; body: Omit<SessionHead, 'sig'>; bytes: Uint8Array } | undefined {
    if (this.#fd === undefined) return undefined;
    try {
      const n = this.#n + 1;
      const body = { ...this.#static, n, ...state };
      return { n, seq: state.seq, body, bytes: canonicalBytes(body) };
    } catch {
      this.#warn();
      return undefined;
    }
  }

  #slot(unsigned: { n: number; seq: number; body: Omit<SessionHead, 'sig'> }, signature: Uint8Array): PreparedHead {
    const text = canonicalJson({ ...unsigned.body, sig: Buffer.from(signature).toString('base64url') });
    if (Buffer.byteLength(text, 'utf8') >= SLOT) throw new Error('head record too long');
    const slot = Buffer.alloc(SLOT, 0x20);
    slot.write(text, 0, 'utf8');
    slot[SLOT - 1] = 0x0a;
    return { n: unsigned.n, seq: unsigned.seq, slot };
  }

  /**
   * Write a prepared slot (fsynced with `sync`). Never throws. False when it was not written: a record was
   * committed since it was prepared (it would reuse that record's number), or the write failed (said once).
   */
  commit(prepared: PreparedHead | undefined, options: { sync?: boolean } = {}): boolean {
    if (this.#fd === undefined || prepared === undefined || prepared.n !== this.#n + 1) return false;
    try {
      writeSync(this.#fd, prepared.slot, 0, SLOT, (prepared.n % 2) * SLOT);
      this.#n = prepared.n;
      if (options.sync === true) fdatasyncSync(this.#fd);
      return true;
    } catch {
      this.#warn();
      return false;
    }
  }

  #warn(): void {
    if (!this.#warned) process.stderr.write(`claw-jira: cannot update the session head record ${this.path}; seal will check less\n`);
    this.#warned = true;
  }

  close(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {
      // Best effort.
    }
    this.#fd = undefined;
  }
}

/** The newest valid slot of a head file, checked against the receipt public key; undefined if none is valid. */
export function readHeadFile(path: string, publicKey: KeyObject): SessionHead | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return undefined;
  }
  let best: SessionHead | undefined;
  for (let offset = 0; offset < bytes.length && offset < 2 * SLOT; offset += SLOT) {
    const record = parseSlot(bytes.subarray(offset, offset + SLOT).toString('utf8').trim(), publicKey);
    if (record && (!best || record.n > best.n)) best = record;
  }
  return best;
}

function parseSlot(text: string, publicKey: KeyObject): SessionHead | undefined {
  try {
    const record = JSON.parse(text) as SessionHead;
    if (record?.type !== 'claw-jira.session-head' || typeof record.sig !== 'string' || !isCanonicalBase64url(record.sig)) return undefined;
    if (typeof record.seq !== 'number' || typeof record.n !== 'number' || typeof record.file !== 'string' || typeof record.bundle_dir !== 'string') return undefined;
    const { sig, ...body } = record;
    return verifyRecord(canonicalBytes(body), sig, publicKey) ? record : undefined;
  } catch {
    return undefined;
  }
}

function verifyRecord(bytes: Uint8Array, sig: string, publicKey: KeyObject): boolean {
  try {
    return nodeVerify(null, bytes, publicKey, Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}

export function receiptPublicKey(key: SigningKey): KeyObject {
  return createPublicKey(key.privateKey);
}

export interface HeadFileEntry {
  path: string;
  record: SessionHead | undefined;
}

/** Every head file of every job (`<dir>/<job>/*.head`), each with its valid record or undefined. */
export function listHeadFiles(dir: string, publicKey: KeyObject, job?: string): HeadFileEntry[] {
  const out: HeadFileEntry[] = [];
  let jobs: string[];
  try {
    jobs = job !== undefined ? [job] : readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of jobs.sort()) {
    let files: string[];
    try {
      files = readdirSync(join(dir, name)).filter((file) => file.endsWith(HEAD_SUFFIX)).sort();
    } catch {
      continue;
    }
    for (const file of files) {
      const path = join(dir, name, file);
      out.push({ path, record: readHeadFile(path, publicKey) });
    }
  }
  return out;
}
