import { linkSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { ClawHome } from '../config/home.js';
import { ClawError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';

/**
 * The Claw `run_id` of a job: one id for every receipt of the job, from its first session on, so all of them
 * can become one Claw event chain and a gateway receipt bound with `X-Run-Id` names this run. The first server
 * session of a job creates it under CLAW_HOME/state/runs/<job>.json; every later session (either server, any
 * restart) reads the same id. Creation is a hard link of a fully written file, so two servers starting at once
 * agree: one link wins, the other reads the winner's id.
 */
export const RUN_ID = /^run_(\d{8}T\d{9}Z)_[0-9a-f]{32}$/;

/**
 * A run id carries its creation time (`run_20261201T203023418Z_<128 random bits>`), so the run's anchor event
 * (run-anchor.ts) can be computed from the id alone, by claw-jira at export and by a harness at run time.
 */
export function runStartedAt(runId: string): string | undefined {
  const stamp = RUN_ID.exec(runId)?.[1];
  if (!stamp) return undefined;
  const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}.${stamp.slice(15, 18)}Z`;
  return Number.isFinite(Date.parse(iso)) ? iso : undefined;
}

export function newRunId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `run_${stamp}_${randomBytes(16).toString('hex')}`;
}

export function runIdFile(home: ClawHome, job: string): string {
  return join(home.stateDir, 'runs', `${job}.json`);
}

export function readRunId(home: ClawHome, job: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(runIdFile(home, job), 'utf8');
  } catch {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const record = parsed as { job?: unknown; run_id?: unknown } | undefined;
  if (!record || record.job !== job || typeof record.run_id !== 'string' || !RUN_ID.test(record.run_id)) {
    throw new ClawError('RUN_ID_INVALID', `${runIdFile(home, job)} is not a run id record for job ${job}`);
  }
  return record.run_id;
}

export function ensureRunId(home: ClawHome, job: string, now: Date = new Date()): string {
  const existing = readRunId(home, job);
  if (existing) return existing;
  const dir = join(home.stateDir, 'runs');
  mkdirSync(dir, { recursive: true });
  const draft = join(dir, `.${job}.${randomUUID()}.draft`);
  const runId = newRunId(now);
  writeFileAtomic(draft, `${JSON.stringify({ job, run_id: runId, created_at: now.toISOString() })}\n`, { mode: 0o600 });
  try {
    linkSync(draft, runIdFile(home, job));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      rmSync(draft, { force: true });
      throw new ClawError('RUN_ID_WRITE_FAILED', `cannot record the run id of job ${job} in ${dir}`);
    }
  }
  rmSync(draft, { force: true });
  const recorded = readRunId(home, job);
  if (!recorded) throw new ClawError('RUN_ID_WRITE_FAILED', `cannot read back the run id of job ${job}`);
  return recorded;
}
