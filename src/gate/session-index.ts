import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import type { ClawHome } from '../config/home.js';
import { listHeadFiles } from '../receipts/heads.js';

/**
 * Outside the bundle, each server records the sessions it opens for a job. `bundle seal` checks that every
 * recorded session of the bundle is still there, so a whole session deleted from the bundle folder before
 * the seal is caught (the bundle alone cannot show a file that is not there).
 */
export function sessionIndexFile(home: ClawHome, job: string): string {
  return join(home.stateDir, 'sessions', `${job}.jsonl`);
}

export function recordSession(home: ClawHome, job: string, entry: { server: string; session: string; bundle_dir: string; file: string }): void {
  const file = sessionIndexFile(home, job);
  mkdirSync(join(home.stateDir, 'sessions'), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${JSON.stringify({ ...entry, opened_at: new Date().toISOString() })}\n`, { mode: 0o600 });
}

/**
 * The job of a bundle folder, from the servers' signed head records for that folder (never from a file name in
 * the bundle, which whoever can write the folder controls). Empty when no record names the folder.
 */
export function findBundleJob(headsDir: string, bundleDir: string, publicKey: KeyObject): string[] {
  let here: string;
  try {
    here = realpathSync(bundleDir);
  } catch {
    return [];
  }
  const jobs = new Set<string>();
  for (const { record } of listHeadFiles(headsDir, publicKey)) {
    if (record && record.bundle_dir === here) jobs.add(record.job);
  }
  return [...jobs].sort();
}

/**
 * At start: earlier sessions of this job whose file ends past their recorded durable length without a final
 * newline, i.e. a line torn by a crash mid-write. Cheap: one stat and a one-byte read per earlier session.
 */
export function findTornTails(headsDir: string, job: string, publicKey: KeyObject): { file: string; bytes: number }[] {
  const out: { file: string; bytes: number }[] = [];
  for (const { record } of listHeadFiles(headsDir, publicKey, job)) {
    if (!record) continue;
    const file = join(record.bundle_dir, record.file);
    let fd: number | undefined;
    try {
      const size = statSync(file).size;
      if (size <= record.bytes) continue;
      fd = openSync(file, 'r');
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) {
        const text = readFileSync(file);
        out.push({ file: record.file, bytes: size - (text.lastIndexOf(0x0a) + 1) });
      }
    } catch {
      // A file that is gone or unreadable is seal's business (SESSION_MISSING), not start's.
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return out;
}
