import { BudgetExceeded, budgetsFor, type BudgetName, type BudgetUsage } from '../../gate/budgets.js';
import type { Operation } from '../../wpc/operations.js';
import type { Wpc } from '../../wpc/schema.js';
import type { BudgetStore } from '../ports.js';
import type { StateDb } from './pool.js';

/**
 * A job's budgets as rows shared by every replica. A unit is spent by a conditional UPDATE (`used < limit`),
 * so two replicas racing for the last unit cannot both get it: the row lock makes the second see the first's
 * count and match no row. All budgets of one call are spent in one transaction: all or none.
 */
export class PostgresBudgets implements BudgetStore {
  constructor(
    readonly db: StateDb,
    readonly job: string,
  ) {}

  async check(operation: Operation, wpc: Wpc): Promise<void> {
    const names = limited(operation, wpc);
    if (names.length === 0) return;
    const counts = await this.#counts(this.db.query, names);
    for (const name of names) {
      const limit = wpc.budgets?.[name] as number;
      const used = counts.get(name) ?? 0;
      if (used + 1 > limit) throw new BudgetExceeded(name, used, limit);
    }
  }

  async spend(operation: Operation, wpc: Wpc): Promise<BudgetUsage> {
    const names = limited(operation, wpc);
    return this.db.transaction(async (query) => {
      for (const name of names) {
        const limit = wpc.budgets?.[name] as number;
        await query('INSERT INTO claw_budgets (job, name, used) VALUES ($1, $2, 0) ON CONFLICT (job, name) DO NOTHING', [this.job, name]);
        const spent = await query<{ used: number }>(
          'UPDATE claw_budgets SET used = used + 1 WHERE job = $1 AND name = $2 AND used < $3 RETURNING used',
          [this.job, name, limit],
        );
        if (spent.length === 0) {
          const used = (await this.#counts(query, [name])).get(name) ?? limit;
          // Thrown inside the transaction: the units already spent for this call are rolled back.
          throw new BudgetExceeded(name, used, limit);
        }
      }
      const counts = await this.#counts(query, Object.keys(wpc.budgets ?? {}));
      const usage: BudgetUsage = {};
      for (const [name, limit] of Object.entries(wpc.budgets ?? {})) {
        if (typeof limit === 'number') usage[name] = { used: counts.get(name) ?? 0, limit };
      }
      return usage;
    });
  }

  async #counts(query: StateDb['query'], names: string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const name of names) {
      const rows = await query<{ used: number }>('SELECT used FROM claw_budgets WHERE job = $1 AND name = $2', [this.job, name]);
      if (rows[0]) counts.set(name, rows[0].used);
    }
    return counts;
  }
}

/** The budgets an operation spends that the WPC sets: with none, a write costs no database round trip. */
function limited(operation: Operation, wpc: Wpc): BudgetName[] {
  return budgetsFor(operation).filter((name) => typeof wpc.budgets?.[name] === 'number');
}
