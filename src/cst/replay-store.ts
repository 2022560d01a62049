import { closeSync, constants, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { sha256Hex } from '../util/canonical.js';
import { fsyncDir, writeAll } from '../util/files.js';
import { CstError } from './errors.js';

/** The first-use record of token ids, whatever holds it (this file store, or Postgres for `serve`). */
export interface ReplayClaims {
  /** Record the first use of `jti` in `job`, or confirm it was first used in `job`. Throws CST_REPLAYED otherwise. */
  claim(jti: string, job: string, expiresAt: number, now?: Date): void | Promise<void>;
}

/**
 * Durable first-use record of every token id: one file per `jti`, published with link(2) so two servers racing
 * on the same token agree on who saw it first, fsynced so the record survives a crash or restart. A `jti`
 * first seen in job J is refused in any other job.
 */
export class ReplayStore implements ReplayClaims {
  constructor(readonly dir: string) {}

  /** Record the first use of `jti` in `job`, or confirm it was first used in `job`. Throws CST_REPLAYED otherwise. */
  claim(jti: string, job: string, expiresAt: number, now: Date = new Date()): void {
    const file = join(this.dir, `${sha256Hex(jti)}.json`);
    const record = JSON.stringify({ job, first_seen: now.toISOString(), exp: expiresAt });
    // A known token (every server restart, every second server of the job) costs one read, no write.
    if (!existsSync(file) && this.#publish(file, record)) return;
    const firstJob = this.#readJob(file);
    if (firstJob !== job) {
      throw new CstError('CST_REPLAYED', 'this token was already used in another job', { first_job: firstJob });
    }
  }

  /**
   * Create the record whole or not at all: written and fsynced under a private name, then hard-linked to its
   * final name. link() fails when the name exists, so exactly one claimant wins; and unlike O_EXCL on the final
   * name, a losing claimant can never read a record its winner has not written yet (and mistake the same job
   * for another). Returns false when the record already existed.
   */
  #publish(file: string, record: string): boolean {
    const unavailable = () => new CstError('CST_REPLAY_STORE_UNAVAILABLE', `cannot record the token in the replay store ${this.dir}`);
    const tmp = `${file}.${randomBytes(8).toString('hex')}.tmp`;
    try {
      mkdirSync(this.dir, { recursive: true });
      const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        writeAll(fd, record);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      throw unavailable();
    }
    try {
      linkSync(tmp, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw unavailable();
    } finally {
      rmSync(tmp, { force: true });
    }
    fsyncDir(this.dir);
    return true;
  }

  #readJob(file: string): string | undefined {
    // Records appear complete (see #publish); an unreadable one is treated as another job: fail closed.
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { job?: unknown };
      return typeof parsed.job === 'string' ? parsed.job : undefined;
    } catch {
      return undefined;
    }
  }

  /** Drop records of tokens expired for longer than `graceSeconds`: they can no longer verify anyway. */
  prune(now: Date = new Date(), graceSeconds = 86_400): number {
    let removed = 0;
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const name of names) {
      try {
        const record = JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as { exp?: number };
        if (typeof record.exp === 'number' && record.exp + graceSeconds < now.getTime() / 1000) {
          rmSync(join(this.dir, name));
          removed++;
        }
      } catch {
        // Unreadable records are kept: deleting evidence of a use is the unsafe direction.
      }
    }
    return removed;
  }
}
