import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClawHome } from '../config/home.js';

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
  mkdirSync(join(home.stateDir, 'sessions'), { recursive: true });
  appendFileSync(file, `${JSON.stringify({ ...entry, opened_at: new Date().toISOString() })}\n`, { mode: 0o600 });
}

/** The job a bundle belongs to, from the first line of its first receipt file; undefined when unreadable. */
export function readBundleJob(bundleDir: string): string | undefined {
  try {
    const first = readdirSync(join(bundleDir, 'receipts')).filter((name) => name.endsWith('.jsonl')).sort()[0];
    if (!first) return undefined;
    const line = readFileSync(join(bundleDir, 'receipts', first), 'utf8').split('\n')[0] ?? '';
    const job = (JSON.parse(line) as { job?: unknown }).job;
    return typeof job === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(job) ? job : undefined;
  } catch {
    return undefined;
  }
}
