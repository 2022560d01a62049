import type { KillSwitchState } from '../../gate/kill-switch.js';
import type { StateDb } from './pool.js';

/**
 * The kill switch as one database row, so `claw-jira writes disable` against the database stops every
 * replica at its next write request. Read failures throw StateError (STATE_UNAVAILABLE): the caller refuses.
 */
export class PostgresKillSwitch {
  constructor(readonly db: StateDb) {}

  async read(): Promise<KillSwitchState | undefined> {
    const rows = await this.db.query<{ disabled: boolean; changed_at: Date; changed_by: string; reason: string | null }>(
      'SELECT disabled, changed_at, changed_by, reason FROM claw_kill_switch WHERE id',
    );
    const row = rows[0];
    if (!row || !row.disabled) return undefined;
    return { disabled_at: row.changed_at.toISOString(), by: row.changed_by, ...(row.reason !== null ? { reason: row.reason } : {}) };
  }

  async disable(state: KillSwitchState): Promise<void> {
    await this.db.query(
      `INSERT INTO claw_kill_switch (id, disabled, changed_at, changed_by, reason) VALUES (true, true, $1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET disabled = true, changed_at = EXCLUDED.changed_at, changed_by = EXCLUDED.changed_by, reason = EXCLUDED.reason`,
      [state.disabled_at, state.by, state.reason ?? null],
    );
  }

  /** Returns whether writes were disabled. */
  async enable(by: string): Promise<boolean> {
    const rows = await this.db.query<{ disabled: boolean }>(
      'UPDATE claw_kill_switch SET disabled = false, changed_at = now(), changed_by = $1, reason = NULL WHERE id AND disabled RETURNING disabled',
      [by],
    );
    return rows.length > 0;
  }
}
