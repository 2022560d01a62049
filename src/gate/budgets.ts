import { closeSync, constants, mkdirSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClawError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import type { Operation } from '../wpc/operations.js';
import { isWriteOperation } from '../wpc/operations.js';
import type { Wpc } from '../wpc/schema.js';

export type BudgetName = 'max_creates' | 'max_writes' | 'max_comments';
export type BudgetUsage = Record<string, { used: number; limit: number }>;

/** Which budgets an operation spends: every write spends max_writes; creates and comments also their own. */
export function budgetsFor(operation: Operation): BudgetName[] {
  if (!isWriteOperation(operation)) return [];
  const names: BudgetName[] = ['max_writes'];
  if (operation === 'issue.create') names.push('max_creates');
  if (operation === 'issue.comment.create') names.push('max_comments');
  return names;
}

export class BudgetExceeded extends ClawError {
  constructor(readonly budget: BudgetName, used: number, limit: number) {
    super('BUDGET_EXCEEDED', `the job's ${budget} budget is spent (${used} of ${limit})`, { budget, used, limit });
  }
}

/**
 * Per-job counters, durable under CLAW_HOME so a restarted or second server of the same job cannot start
 * from zero. A unit is spent before the Jira call (a call that then fails still counts: an in-doubt write
 * may have happened). Read-modify-write happens under an O_EXCL lock file shared by all servers.
 */
export class BudgetLedger {
  readonly #file: string;
  readonly #lock: string;

  constructor(dir: string, job: string) {
    mkdirSync(dir, { recursive: true });
    this.#file = join(dir, `${job}.json`);
    this.#lock = join(dir, `${job}.lock`);
  }

  usage(wpc: Wpc): BudgetUsage {
    const counts = this.#read();
    const usage: BudgetUsage = {};
    for (const [name, limit] of Object.entries(wpc.budgets ?? {})) {
      if (typeof limit === 'number') usage[name] = { used: counts[name] ?? 0, limit };
    }
    return usage;
  }

  /** Throw BudgetExceeded if the operation would overspend a budget now; spends nothing. */
  check(operation: Operation, wpc: Wpc): void {
    const counts = this.#read();
    for (const name of budgetsFor(operation)) {
      const limit = wpc.budgets?.[name];
      const used = counts[name] ?? 0;
      if (limit !== undefined && used + 1 > limit) throw new BudgetExceeded(name, used, limit);
    }
  }

  /** Spend one unit of every budget the operation uses, or throw BudgetExceeded and spend nothing. */
  async spend(operation: Operation, wpc: Wpc): Promise<BudgetUsage> {
    // Only budgets the WPC sets are counted: with none, a write costs no ledger update (and no disk sync).
    const names = budgetsFor(operation).filter((name) => wpc.budgets?.[name] !== undefined);
    if (names.length === 0) return this.usage(wpc);
    return this.#locked(() => {
      this.check(operation, wpc);
      const counts = this.#read();
      for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
      writeFileAtomic(this.#file, JSON.stringify(counts));
      return this.usage(wpc);
    });
  }

  #read(): Record<string, number> {
    try {
      return JSON.parse(readFileSync(this.#file, 'utf8')) as Record<string, number>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new ClawError('BUDGET_UNAVAILABLE', 'the budget ledger cannot be read');
    }
  }

  /** A holder keeps the lock for microseconds; one older than 10 s belongs to a process that died holding it. */
  #breakStaleLock(): void {
    try {
      if (Date.now() - statSync(this.#lock).mtimeMs > 10_000) rmSync(this.#lock, { force: true });
    } catch {
      // Gone already: the next attempt takes it.
    }
  }

  async #locked<T>(fn: () => T): Promise<T> {
    for (let attempt = 0; attempt < 200; attempt++) {
      let fd: number;
      try {
        fd = openSync(this.#lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new ClawError('BUDGET_UNAVAILABLE', 'the budget ledger cannot be locked');
        this.#breakStaleLock();
        await sleep(5);
        continue;
      }
      try {
        return fn();
      } finally {
        closeSync(fd);
        rmSync(this.#lock, { force: true });
      }
    }
    throw new ClawError('BUDGET_UNAVAILABLE', 'the budget ledger stayed locked for 1 s');
  }
}
