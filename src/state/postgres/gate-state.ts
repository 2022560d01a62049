import { newRunId } from '../../claw/run-id.js';
import type { GateOptions } from '../../gate/gate.js';
import type { SigningKey } from '../../keys/ed25519.js';
import type { TrustStore } from '../../keys/trust.js';
import type { VerifiedWpc } from '../../wpc/registry.js';
import { PostgresApprovals } from './approvals.js';
import { PostgresBudgets } from './budgets.js';
import type { StateDb } from './pool.js';
import { PostgresReceiptSink } from './receipts.js';
import { PostgresRevocationAnchor } from './revocation-anchor.js';

export type GateState = NonNullable<GateOptions['state']>;

/**
 * The state `serve` gives each gate when CLAW_STATE_URL is set: budgets, approvals, the revocation
 * high-water mark and the receipt sessions, all in the one database every replica shares. Per job it also
 * records what `bundle export` needs besides the receipts: the run id (one per job, whichever replica opened
 * it first), the trust file and each WPC in force.
 */
export class PostgresGateState {
  readonly #approvals: PostgresApprovals;
  readonly #revocation: PostgresRevocationAnchor;

  constructor(
    readonly db: StateDb,
    readonly options: { receiptKey: SigningKey; trust: TrustStore; maxPendingApprovals?: number | undefined },
  ) {
    this.#approvals = new PostgresApprovals(db, { maxPending: options.maxPendingApprovals });
    this.#revocation = new PostgresRevocationAnchor(db);
  }

  /** The state of one job's gate. Throws StateError (STATE_UNAVAILABLE) when the database cannot answer. */
  async forJob(job: string): Promise<GateState> {
    const runId = await this.#registerJob(job);
    const key = this.options.receiptKey;
    return {
      budgets: new PostgresBudgets(this.db, job),
      approvals: this.#approvals,
      revocation: this.#revocation,
      receipts: (session) => new PostgresReceiptSink(this.db, { job: session.job, server: session.server, key, runId }),
    };
  }

  /** The WPC a gate of this job verified, stored once per job and hash (the bundle's wpc/ folder). */
  async recordWpc(job: string, wpc: VerifiedWpc): Promise<void> {
    await this.db.query(
      'INSERT INTO claw_job_wpcs (job, wpc_hash, bytes, signature) VALUES ($1, $2, $3, $4) ON CONFLICT (job, wpc_hash) DO NOTHING',
      [job, wpc.hash, Buffer.from(wpc.bytes).toString('base64'), wpc.signature],
    );
  }

  /** The job's row: created by the first replica that opens it, with its run id; the trust file kept current. */
  async #registerJob(job: string): Promise<string> {
    const rows = await this.db.query<{ run_id: string }>(
      `INSERT INTO claw_jobs (job, run_id, trust, created_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (job) DO UPDATE SET trust = EXCLUDED.trust RETURNING run_id`,
      [job, newRunId(new Date()), JSON.stringify(this.options.trust.toFile())],
    );
    return (rows[0] as { run_id: string }).run_id;
  }
}
