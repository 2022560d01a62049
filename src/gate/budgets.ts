import { readFileSync } from 'node:fs';
import { fileStamp } from '../util/file-stamp.js';
import { join } from 'node:path';
import { ClawError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import type { StateJournal } from '../state/journal.js';
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
 * Per-job counters. The truth is the signed state journal (every unit spent is a journal entry, fdatasync'ed
 * before the Jira call; a call that then fails still counts: an in-doubt write may have happened), so a
 * restarted or second server of the same job cannot start from zero. `state/budgets/<job>.json` is a mirror
 * for people and scripts: one that disagrees with the journal (rewritten, deleted, not numbers) was edited
 * behind the servers' back, and every budgeted write is refused with BUDGET_LEDGER_TAMPERED.
 */
export class BudgetLedger {
  readonly #file: string;
  readonly #job: string;
  readonly #journal: StateJournal;
  /** The mirror as this server last wrote or checked it: a `stat` per call when nobody touched it. */
  #checkedStamp = '';

  constructor(dir: string, job: string, journal: StateJournal) {
    this.#file = join(dir, `${job}.json`);
    this.#job = job;
    this.#journal = journal;
  }

  usage(wpc: Wpc): BudgetUsage {
    const counts = this.#counts();
    const usage: BudgetUsage = {};
    for (const [name, limit] of Object.entries(wpc.budgets ?? {})) {
      if (typeof limit === 'number') usage[name] = { used: counts[name] ?? 0, limit };
    }
    return usage;
  }

  /** Throw BudgetExceeded if the operation would overspend a budget now; spends nothing. */
  async check(operation: Operation, wpc: Wpc): Promise<void> {
    if (this.#names(operation, wpc).length === 0) return;
    this.#journal.refresh();
    try {
      this.#checkMirror();
    } catch {
      // Another server of this job may be between its journal append and its mirror write: look again
      // under the journal lock, where no server is halfway.
      await this.#journal.transact(() => {
        this.#checkMirror();
        return { entries: [], result: undefined };
      });
    }
    this.#within(operation, wpc, this.#counts());
  }

  /** Spend one unit of every budget the operation uses, or throw BudgetExceeded and spend nothing. */
  async spend(operation: Operation, wpc: Wpc): Promise<BudgetUsage> {
    // Only budgets the WPC sets are counted: with none, a write costs no journal entry (and no disk sync).
    const names = this.#names(operation, wpc);
    if (names.length === 0) return this.usage(wpc);
    await this.#journal.transact(() => {
      this.#checkMirror();
      this.#within(operation, wpc, this.#counts());
      return { entries: [{ type: 'budget.spend', job: this.#job, budgets: names }], result: undefined };
    }, {
      // Still under the lock, so no other server reads the mirror between the journal append and this write.
      afterAppend: () => {
        try {
          writeFileAtomic(this.#file, JSON.stringify(this.#counts()), { mode: 0o600 });
          this.#checkedStamp = fileStamp(this.#file);
        } catch {
          // The journal holds the spend; a mirror that could not be written is reported at the next check.
        }
      },
    });
    return this.usage(wpc);
  }

  #names(operation: Operation, wpc: Wpc): BudgetName[] {
    return budgetsFor(operation).filter((name) => wpc.budgets?.[name] !== undefined);
  }

  #counts(): Record<string, number> {
    return { ...(this.#journal.state.budgets.get(this.#job) ?? {}) };
  }

  #within(operation: Operation, wpc: Wpc, counts: Record<string, number>): void {
    for (const name of budgetsFor(operation)) {
      const limit = wpc.budgets?.[name];
      const used = counts[name] ?? 0;
      if (limit !== undefined && used + 1 > limit) throw new BudgetExceeded(name, used, limit);
    }
  }

  /** The mirror must say what the journal says (missing is fine only while nothing was spent). */
  #checkMirror(): void {
    const stamp = fileStamp(this.#file);
    if (stamp !== 'missing' && stamp === this.#checkedStamp) return;
    const journal = this.#counts();
    let mirror: unknown;
    if (stamp === 'missing') {
      mirror = {};
    } else {
      try {
        mirror = JSON.parse(readFileSync(this.#file, 'utf8'));
      } catch {
        throw tampered('is not JSON');
      }
    }
    if (typeof mirror !== 'object' || mirror === null || Array.isArray(mirror)) throw tampered('is not an object of counters');
    const entries = Object.entries(mirror);
    if (entries.some(([, value]) => typeof value !== 'number' || !Number.isInteger(value))) throw tampered('holds a value that is not a whole number');
    const names = new Set([...Object.keys(journal), ...entries.map(([name]) => name)]);
    for (const name of names) {
      if (((mirror as Record<string, number>)[name] ?? 0) !== (journal[name] ?? 0)) {
        throw tampered(stamp === 'missing' ? 'was deleted' : `says ${name} ${(mirror as Record<string, number>)[name] ?? 0}, the journal ${journal[name] ?? 0}`);
      }
    }
    this.#checkedStamp = stamp;
  }
}

function tampered(what: string): ClawError {
  return new ClawError('BUDGET_LEDGER_TAMPERED', `the budget file ${what}: it was changed outside claw-jira; the signed state journal is the record (restore the file from it, or ask an operator)`);
}
