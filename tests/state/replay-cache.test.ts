import { describe, expect, it } from 'vitest';
import { PostgresReplayStore } from '../../src/state/postgres/replay-store.js';
import type { StateDb } from '../../src/state/postgres/pool.js';

/**
 * A stand-in database holding claw_replay in a Map, counting statements, that can be taken down: enough to
 * show what the store answers from its own memory and what it must ask the database.
 */
function fakeDb(): { db: StateDb; statements: () => number; down: (value: boolean) => void } {
  const rows = new Map<string, string>();
  let count = 0;
  let isDown = false;
  const query = async <Row extends object>(sql: string, params: readonly unknown[] = []): Promise<Row[]> => {
    count += 1;
    if (isDown) throw new Error('connection refused');
    const [key, job] = params as [string, string];
    if (sql.startsWith('INSERT')) {
      if (rows.has(key)) return [];
      rows.set(key, job);
      return [{ job } as Row];
    }
    const found = rows.get(key);
    return found === undefined ? [] : [{ job: found } as Row];
  };
  return {
    db: { query, transaction: async (fn) => fn(query), close: async () => undefined },
    statements: () => count,
    down: (value) => {
      isDown = value;
    },
  };
}

describe('PostgresReplayStore: committed bindings answered from memory', () => {
  it('asks the database once per token, then answers the same job (and refuses another) without a round trip', async () => {
    const { db, statements, down } = fakeDb();
    const store = new PostgresReplayStore(db);
    await store.claim('jti-1', 'job-a', 2_000_000_000);
    expect(statements()).toBe(1);
    down(true);
    // The binding never changes once committed: the same job passes, another is a replay, database or not.
    await store.claim('jti-1', 'job-a', 2_000_000_000);
    await expect(store.claim('jti-1', 'job-b', 2_000_000_000)).rejects.toMatchObject({ code: 'CST_REPLAYED' });
    expect(statements()).toBe(1);
    // A token this process never saw still needs the database: refused while it is down (fail closed).
    await expect(store.claim('jti-2', 'job-a', 2_000_000_000)).rejects.toMatchObject({ code: 'CST_REPLAY_STORE_UNAVAILABLE' });
  });

  it('learns a binding another replica made, and keeps at most maxKnown', async () => {
    const { db, statements } = fakeDb();
    const other = new PostgresReplayStore(db);
    await other.claim('jti-x', 'job-a', 2_000_000_000);
    const store = new PostgresReplayStore(db, 2);
    await expect(store.claim('jti-x', 'job-b', 2_000_000_000)).rejects.toMatchObject({ code: 'CST_REPLAYED' });
    const before = statements();
    await expect(store.claim('jti-x', 'job-b', 2_000_000_000)).rejects.toMatchObject({ code: 'CST_REPLAYED' });
    expect(statements()).toBe(before);
    await store.claim('jti-y', 'job-a', 2_000_000_000);
    await store.claim('jti-z', 'job-a', 2_000_000_000);
    // jti-x was the oldest of three: forgotten, so the next claim asks the database again (and still refuses).
    await expect(store.claim('jti-x', 'job-b', 2_000_000_000)).rejects.toMatchObject({ code: 'CST_REPLAYED' });
    expect(statements()).toBe(before + 1 + 1 + 2);
  });
});
