import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
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
  return db.transaction(async (query) => {
    await query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const jobRow = (await query<{ trust: string }>('SELECT trust FROM claw_jobs WHERE job = $1', [job]))[0];
    if (!jobRow) throw new StateError('STATE_JOB_UNKNOWN', `the state database holds no job ${job}`);
    const sessions = await query<{ server: string; session: string; seq: number; head: string | null }>(
      'SELECT server, session, seq, head FROM claw_sessions WHERE job = $1 ORDER BY server, session',
      [job],
    );
    const wpcs = await query<{ wpc_hash: string; bytes: string; signature: string }>('SELECT wpc_hash, bytes, signature FROM claw_job_wpcs WHERE job = $1 ORDER BY wpc_hash', [job]);
    const approvals = await query<ApprovalRow>('SELECT request_id, request, approval, used_at, used_via FROM claw_approvals WHERE job = $1 ORDER BY requested_at, request_id', [job]);

    mkdirSync(join(dir, BUNDLE.receipts), { recursive: true, mode: 0o700 });
    let receipts = 0;
    for (const session of sessions) {
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
      if (rows.length === 0) continue;
      writeFileAtomic(join(dir, receiptFileName(session.server, session.session)), rows.map((row) => `${row.line}\n`).join(''), { mode: 0o600 });
      receipts += rows.length;
    }

    mkdirSync(join(dir, BUNDLE.wpc), { recursive: true, mode: 0o700 });
    for (const wpc of wpcs) {
      const hex = addressHex(wpc.wpc_hash);
      writeFileAtomic(join(dir, BUNDLE.wpc, `${hex}.json`), Buffer.from(wpc.bytes, 'base64'), { mode: 0o600 });
      writeFileAtomic(join(dir, BUNDLE.wpc, `${hex}.sig`), `${wpc.signature}\n`, { mode: 0o600 });
    }

    mkdirSync(join(dir, BUNDLE.keys), { recursive: true, mode: 0o700 });
    writeFileAtomic(join(dir, BUNDLE.trustFile), `${JSON.stringify(JSON.parse(jobRow.trust), null, 2)}\n`, { mode: 0o600 });

    if (approvals.length > 0) mkdirSync(join(dir, BUNDLE.approvals), { recursive: true, mode: 0o700 });
    for (const row of approvals) {
      if (!REQUEST_ID.test(row.request_id)) throw new StateError('STATE_SESSION_INCOMPLETE', 'an approval in the state database has an id that is not a request id');
      writeFileAtomic(join(dir, BUNDLE.approvals, `${row.request_id}.json`), `${JSON.stringify(approvalRecord(row), null, 2)}\n`, { mode: 0o600 });
    }
    return { dir, sessions: sessions.length, receipts, wpcs: wpcs.length, approvals: approvals.length };
  });
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
