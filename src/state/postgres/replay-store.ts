import { sha256Hex } from '../../util/canonical.js';
import { CstError } from '../../cst/errors.js';
import type { ReplayClaims } from '../../cst/replay-store.js';
import type { StateDb } from './pool.js';

/**
 * The replay store shared by every replica: the first job to claim a `jti` wins, decided by the primary key
 * (INSERT … ON CONFLICT DO NOTHING), so two replicas racing on one token agree on who saw it first. A
 * database that cannot answer refuses the token (fail closed). Token ids are stored hashed, as on disk.
 */
export class PostgresReplayStore implements ReplayClaims {
  /**
   * Bindings this process has seen committed (jti hash -> first job). A binding never changes once made, so a
   * token's later requests are answered here without a round trip; bounded, oldest dropped first.
   */
  readonly #known = new Map<string, string>();

  constructor(
    readonly db: StateDb,
    readonly maxKnown = 10_000,
  ) {}

  async claim(jti: string, job: string, expiresAt: number, now: Date = new Date()): Promise<void> {
    const key = sha256Hex(jti);
    const known = this.#known.get(key);
    if (known !== undefined) {
      if (known !== job) throw new CstError('CST_REPLAYED', 'this token was already used in another job', { first_job: known });
      return;
    }
    let firstJob: string | undefined;
    try {
      const inserted = await this.db.query<{ job: string }>(
        'INSERT INTO claw_replay (jti_hash, job, first_seen, exp) VALUES ($1, $2, $3, $4) ON CONFLICT (jti_hash) DO NOTHING RETURNING job',
        [key, job, now.toISOString(), expiresAt],
      );
      if (inserted.length === 1) {
        this.#remember(key, job);
        return;
      }
      // A separate statement: its fresh snapshot sees the row the conflicting claimant committed.
      const existing = await this.db.query<{ job: string }>('SELECT job FROM claw_replay WHERE jti_hash = $1', [key]);
      firstJob = existing[0]?.job;
    } catch {
      throw new CstError('CST_REPLAY_STORE_UNAVAILABLE', 'cannot record the token in the replay store (state database)');
    }
    if (firstJob !== undefined) this.#remember(key, firstJob);
    if (firstJob !== job) throw new CstError('CST_REPLAYED', 'this token was already used in another job', { first_job: firstJob });
  }

  #remember(key: string, job: string): void {
    this.#known.set(key, job);
    if (this.#known.size > this.maxKnown) this.#known.delete(this.#known.keys().next().value as string);
  }
}
