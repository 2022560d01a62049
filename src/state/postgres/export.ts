import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BUNDLE, receiptFileName } from '../../bundle/layout.js';
import { writeFileAtomic } from '../../util/files.js';
import { addressHex } from '../../wpc/registry.js';
import type { ApprovalRow } from './approvals.js';
import { StateError } from './errors.js';
import type { StateDb } from './pool.js';

/** What a name from the database must look like before it becomes part of a path (never `..` or a slash). */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const REQUEST_ID = /^apr_[a-z0-9]{20}$/;

export interface ExportSummary {
  dir: string;
  sessions: number;
  receipts: number;
  wpcs: number;
  approvals: number;
}

/**
 * Write a job's proof-bundle folder from the state database, in the layout the servers write on disk (see
 * src/bundle/layout.ts), so `bundle seal`, `verify`, `review` and `report` work on it unchanged: one receipt
 * file per session of every replica, the WPCs in force, keys/trust.json, and approvals/<request_id>.json.
 * Read in one repeatable-read transaction: a consistent snapshot while replicas keep writing. Each session's
 * rows must run 1..n and end at its recorded head; anything else is refused, not exported.
 */
export async function exportBundle(db: StateDb, job: string, dir: string): Promise<ExportSummary> {
  if (!SAFE_NAME.test(job)) throw new StateError('STATE_JOB_UNKNOWN', 'not a job id');
  if (!isEmptyOrMissing(dir)) throw new StateError('STATE_EXPORT_TARGET_EXISTS', `${dir} exists and is not empty: export into a new folder`);
  const snapshot = await readJob(db, job);
  // Written into a fresh folder beside the target and renamed into place: a failed export leaves no half bundle.
  mkdirSync(dirname(dir), { recursive: true });
  const staging = mkdtempSync(join(dirname(dir), `.${basename(dir)}.export-`));
  try {
    writeBundle(staging, snapshot);
    // The target is empty or missing (checked above): an empty folder gives way to the finished one.
    if (existsSync(dir)) rmdirSync(dir);
    renameSync(staging, dir);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    sessions: snapshot.sessions.length,
    receipts: snapshot.sessions.reduce((n, session) => n + session.lines.length, 0),
    wpcs: snapshot.wpcs.length,
    approvals: snapshot.approvals.length,
  };
}

interface JobSnapshot {
  trust: string;
  sessions: { server: string; session: string; lines: string[] }[];
  wpcs: { wpc_hash: string; bytes: string; signature: string }[];
  approvals: ApprovalRow[];
}

/** Everything the bundle holds, read and checked before anything is written. */
async function readJob(db: StateDb, job: string): Promise<JobSnapshot> {
  return db.transaction(async (query) => {
    await query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const jobRow = (await query<{ trust: string }>('SELECT trust FROM claw_jobs WHERE job = $1', [job]))[0];
    if (!jobRow) throw new StateError('STATE_JOB_UNKNOWN', `the state database holds no job ${job}`);
    const sessionRows = await query<{ server: string; session: string; seq: number; head: string | null }>(
      'SELECT server, session, seq, head FROM claw_sessions WHERE job = $1 ORDER BY server, session',
      [job],
    );
    const sessions: JobSnapshot['sessions'] = [];
    for (const session of sessionRows) {
      if (!SAFE_NAME.test(session.server) || !SAFE_NAME.test(session.session)) {
        throw new StateError('STATE_SESSION_INCOMPLETE', 'a session in the state database has a name that is not a file name');
      }
      const rows = await query<{ seq: number; hash: string; line: string }>(
        'SELECT seq, hash, line FROM claw_receipts WHERE job = $1 AND server = $2 AND session = $3 ORDER BY seq',
        [job, session.server, session.session],
      );
      const contiguous = rows.every((row, index) => row.seq === index + 1);
      if (!contiguous || rows.length !== session.seq || (rows[rows.length - 1]?.hash ?? null) !== session.head) {
        throw new StateError('STATE_SESSION_INCOMPLETE', `session ${session.server}-${session.session} does not hold receipts 1..${session.seq} ending at its recorded head`);
      }
      if (rows.length > 0) sessions.push({ server: session.server, session: session.session, lines: rows.map((row) => row.line) });
    }
    const wpcs = await query<JobSnapshot['wpcs'][number]>('SELECT wpc_hash, bytes, signature FROM claw_job_wpcs WHERE job = $1 ORDER BY wpc_hash', [job]);
    const approvals = await query<ApprovalRow>('SELECT request_id, request, approval, used_at, used_via FROM claw_approvals WHERE job = $1 ORDER BY requested_at, request_id', [job]);
    if (approvals.some((row) => !REQUEST_ID.test(row.request_id))) {
      throw new StateError('STATE_SESSION_INCOMPLETE', 'an approval in the state database has an id that is not a request id');
    }
    return { trust: jobRow.trust, sessions, wpcs, approvals };
  });
}

function writeBundle(dir: string, snapshot: JobSnapshot): void {
  const folder = (name: string) => mkdirSync(join(dir, name), { recursive: true, mode: 0o700 });
  const file = (path: string, data: string | Uint8Array) => writeFileAtomic(join(dir, path), data, { mode: 0o600 });
  folder(BUNDLE.receipts);
  for (const session of snapshot.sessions) file(receiptFileName(session.server, session.session), session.lines.map((line) => `${line}\n`).join(''));
  folder(BUNDLE.wpc);
  for (const wpc of snapshot.wpcs) {
    const hex = addressHex(wpc.wpc_hash);
    file(`${BUNDLE.wpc}/${hex}.json`, Buffer.from(wpc.bytes, 'base64'));
    file(`${BUNDLE.wpc}/${hex}.sig`, `${wpc.signature}\n`);
  }
  folder(BUNDLE.keys);
  file(BUNDLE.trustFile, `${JSON.stringify(JSON.parse(snapshot.trust), null, 2)}\n`);
  if (snapshot.approvals.length > 0) folder(BUNDLE.approvals);
  for (const row of snapshot.approvals) file(`${BUNDLE.approvals}/${row.request_id}.json`, `${JSON.stringify(approvalRecord(row), null, 2)}\n`);
}

/** The record the gate writes to approvals/<request_id>.json for the same state of the request. */
function approvalRecord(row: ApprovalRow): Record<string, unknown> {
  const request: unknown = JSON.parse(row.request);
  const usedAt = row.used_at?.toISOString();
  if (row.used_via === 'elicitation' && usedAt) return { request, elicitation: { accepted: true, answered_at: usedAt } };
  return { request, ...(row.approval !== null ? { approval: row.approval } : {}), ...(row.used_via === 'signed' && usedAt ? { used_at: usedAt } : {}) };
}

function isEmptyOrMissing(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
