import { checkSchema } from '../state/postgres/migrations.js';
import { PostgresKillSwitch } from '../state/postgres/kill-switch.js';
import { openStateDb } from '../state/postgres/pool.js';
import { EXIT, UsageError, type CliIo } from './io.js';

/**
 * `claw-jira writes disable|enable|status` when CLAW_STATE_URL names the service's database: the switch is
 * the database row every `serve` replica reads at each write request, not a file under CLAW_HOME.
 */
export async function writesOnDatabase(url: string, action: string | undefined, reason: string | undefined, io: CliIo): Promise<number> {
  if (action !== undefined && !['disable', 'enable', 'status'].includes(action)) throw new UsageError(`unknown action '${action}': use disable, enable or status`);
  const db = openStateDb(url, { max: 1 });
  try {
    await checkSchema(db);
    const killSwitch = new PostgresKillSwitch(db);
    const by = io.env.USER ?? 'unknown';
    if (action === 'disable') {
      const state = { disabled_at: new Date().toISOString(), by, ...(reason ? { reason } : {}) };
      await killSwitch.disable(state);
      io.out(`writes disabled at ${state.disabled_at} in the state database: every serve replica refuses writes from its next call`);
    } else if (action === 'enable') {
      io.out((await killSwitch.enable(by)) ? 'writes enabled in the state database' : 'writes were not disabled in the state database');
    } else {
      const state = await killSwitch.read();
      io.out(state ? `writes DISABLED since ${state.disabled_at} by ${state.by}${state.reason ? `: ${state.reason}` : ''} (state database)` : 'writes enabled (state database)');
    }
    return EXIT.ok;
  } finally {
    await db.close();
  }
}
