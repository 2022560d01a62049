import { rollback, type RevocationAnchor } from '../../cst/revocation.js';
import type { StateDb } from './pool.js';

/**
 * The newest revocation list any replica accepted, as one row: a replica (or a restarted one) offered an older
 * list, or a different list of the same age, refuses it (REVOCATION_ROLLBACK), whatever list it saw itself.
 * One statement raises the mark only upwards, so two replicas accepting lists at once keep the newer.
 */
export class PostgresRevocationAnchor implements RevocationAnchor {
  constructor(readonly db: StateDb) {}

  async accept(list: { iat: number; hash: string }): Promise<void> {
    const raised = await this.db.query<{ iat: string }>(
      `INSERT INTO claw_revocation (id, iat, hash) VALUES (true, $1, $2)
       ON CONFLICT (id) DO UPDATE SET iat = EXCLUDED.iat, hash = EXCLUDED.hash WHERE claw_revocation.iat < EXCLUDED.iat
       RETURNING iat`,
      [list.iat, list.hash],
    );
    if (raised.length === 1) return;
    const newest = (await this.db.query<{ iat: string; hash: string }>('SELECT iat, hash FROM claw_revocation WHERE id'))[0];
    if (!newest) throw rollback();
    const iat = Number(newest.iat);
    if (list.iat < iat || (list.iat === iat && list.hash !== newest.hash)) throw rollback();
  }
}
