import {
  ApprovalError,
  ApprovalRequestSchema,
  DEFAULT_MAX_PENDING_APPROVALS,
  approvalFits,
  newApprovalRequest,
  signApproval,
  verifyApproval,
  type ApprovalClaims,
  type ApprovalRequest,
  type ApprovedCall,
} from '../../approvals/approvals.js';
import type { SigningKey } from '../../keys/ed25519.js';
import type { TrustStore } from '../../keys/trust.js';
import type { ApprovalPort } from '../ports.js';
import type { StateDb } from './pool.js';

/** Any fixed number: with the job's hash, it serialises the pending-request cap of one job across replicas. */
const REQUEST_LOCK = 0x6170_7276;

export interface ApprovalRow {
  request_id: string;
  request: string;
  approval: string | null;
  used_at: Date | null;
  used_via: 'signed' | 'elicitation' | null;
}

/**
 * Approvals in the database every replica and `claw-jira approve` share: requests filed as rows, the signed
 * approval stored on its row, and its use recorded by a conditional UPDATE (`used_at IS NULL`), so of two
 * replicas racing on one approval exactly one gets a row back and runs the call.
 */
export class PostgresApprovals implements ApprovalPort {
  readonly #maxPending: number;

  constructor(
    readonly db: StateDb,
    options: { maxPending?: number | undefined } = {},
  ) {
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING_APPROVALS;
  }

  async fileRequest(input: Omit<ApprovalRequest, 'request_id' | 'requested_at'>, now: Date): Promise<ApprovalRequest> {
    return this.db.transaction(async (query) => {
      await query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [REQUEST_LOCK, input.job]);
      const open = await query<{ request: string }>(
        'SELECT request FROM claw_approvals WHERE job = $1 AND tool = $2 AND args_hash = $3 AND used_at IS NULL ORDER BY requested_at LIMIT 1',
        [input.job, input.tool, input.args_hash],
      );
      if (open[0]) return parseRequest(open[0].request);
      const pending = Number((await query<{ n: string }>('SELECT count(*) AS n FROM claw_approvals WHERE job = $1 AND used_at IS NULL', [input.job]))[0]?.n ?? 0);
      if (pending >= this.#maxPending) {
        throw new ApprovalError(
          'APPROVAL_REQUESTS_CAPPED',
          `job ${input.job} already has ${pending} approval requests waiting for a human (the cap is ${this.#maxPending}): approve or clear them first`,
        );
      }
      const request = newApprovalRequest(input, now);
      await query(
        'INSERT INTO claw_approvals (request_id, job, tool, args_hash, request, requested_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [request.request_id, request.job, request.tool, request.args_hash, JSON.stringify(request), request.requested_at],
      );
      return request;
    });
  }

  async consume(call: { job: string; tool: string; args_hash: string; wpc_hash: string }, trust: TrustStore, now: Date): Promise<ApprovedCall | undefined> {
    const rows = await this.db.query<{ request_id: string; request: string; approval: string }>(
      `SELECT request_id, request, approval FROM claw_approvals
       WHERE job = $1 AND tool = $2 AND args_hash = $3 AND approval IS NOT NULL AND used_at IS NULL ORDER BY requested_at`,
      [call.job, call.tool, call.args_hash],
    );
    for (const row of rows) {
      const claims = await verifyApproval(row.approval, trust);
      const request = parseRequest(row.request);
      if (!approvalFits(claims, request, call, now)) continue;
      const usedAt = now.toISOString();
      // The use is decided here, by the row: the first replica to set used_at wins, the others get no row.
      const won = await this.db.query<{ request_id: string }>(
        "UPDATE claw_approvals SET used_at = $2, used_via = 'signed' WHERE request_id = $1 AND used_at IS NULL RETURNING request_id",
        [row.request_id, usedAt],
      );
      if (won.length === 1) return { request, claims, approvalJws: row.approval, usedAt };
    }
    return undefined;
  }

  async markUsed(requestId: string, job: string, now: Date): Promise<void> {
    await this.db.query(
      "UPDATE claw_approvals SET used_at = $3, used_via = 'elicitation' WHERE request_id = $1 AND job = $2 AND used_at IS NULL",
      [requestId, job, now.toISOString()],
    );
  }

  /** Requests filed and not used, oldest first (`claw-jira approve --list`). */
  async pending(): Promise<ApprovalRequest[]> {
    const rows = await this.db.query<{ request: string }>('SELECT request FROM claw_approvals WHERE used_at IS NULL ORDER BY requested_at');
    return rows.map((row) => parseRequest(row.request));
  }

  async getRequest(requestId: string): Promise<ApprovalRequest> {
    const rows = await this.db.query<{ request: string }>('SELECT request FROM claw_approvals WHERE request_id = $1', [requestId]);
    if (!rows[0]) throw new ApprovalError('APPROVAL_NOT_FOUND', `no approval request ${requestId.slice(0, 40)}`);
    return parseRequest(rows[0].request);
  }

  /** Sign an approval of a filed request and store it on its row (`claw-jira approve` with CLAW_STATE_URL). */
  async approve(requestId: string, key: SigningKey, options: { ttlSeconds: number; approver: string; now?: Date }): Promise<ApprovalClaims> {
    const { claims, jws } = await signApproval(await this.getRequest(requestId), key, options);
    const stored = await this.db.query<{ request_id: string }>(
      'UPDATE claw_approvals SET approval = $2 WHERE request_id = $1 AND used_at IS NULL RETURNING request_id',
      [requestId, jws],
    );
    if (stored.length === 0) throw new ApprovalError('APPROVAL_USED', `request ${requestId} was already approved and used`);
    return claims;
  }
}

/** A row written by this code; one that no longer parses is refused, not trusted. */
function parseRequest(text: string): ApprovalRequest {
  try {
    return ApprovalRequestSchema.parse(JSON.parse(text));
  } catch {
    throw new ApprovalError('APPROVAL_INVALID', 'an approval request in the state database is unreadable');
  }
}
