import pg from 'pg';
import { StateError } from './errors.js';

/** The one kind of value our SQL takes as a parameter: never interpolated into the statement text. */
export type SqlValue = string | number | boolean | null;

/** A connection pool on the state database. Every statement is parameterised (`$1`, `$2`, ...). */
export interface StateDb {
  query<Row extends object>(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** Run `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (query: StateDb['query']) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const URL_SCHEMES = new Set(['postgres:', 'postgresql:']);

/** The URL's own words are never repeated in errors: it may carry a password. */
export function checkStateUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StateError('STATE_URL_INVALID', 'CLAW_STATE_URL is not a URL');
  }
  if (!URL_SCHEMES.has(parsed.protocol)) throw new StateError('STATE_URL_INVALID', 'CLAW_STATE_URL must be a postgres:// URL');
}

function unavailable(): StateError {
  return new StateError('STATE_UNAVAILABLE', 'the state database cannot be reached or refused the statement');
}

/**
 * The URL with `synchronous_commit=on` added to its startup options (after any of the URL's own, so it wins).
 * A replay record or kill-switch change is acknowledged only once its WAL is written: on a server tuned with
 * `synchronous_commit=off`, a crash right after the reply would otherwise forget a claimed token id, and the
 * token could be used again by another job. Set in the URL because pg lets the URL's `options` replace ours.
 */
function durableUrl(url: string): string {
  const parsed = new URL(url);
  const own = parsed.searchParams.get('options');
  parsed.searchParams.set('options', [own, '-c synchronous_commit=on'].filter(Boolean).join(' '));
  return parsed.toString();
}

export function openStateDb(url: string, options: { max?: number; connectTimeoutMs?: number } = {}): StateDb {
  checkStateUrl(url);
  const pool = new pg.Pool({
    connectionString: durableUrl(url),
    max: options.max ?? 10,
    // An outage must refuse calls promptly, not hold them until the OS gives up on the connection.
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
  });
  // An idle connection the server drops (restart, outage) emits here; the next query reconnects or refuses.
  pool.on('error', () => undefined);
  const run =
    (client: pg.Pool | pg.PoolClient) =>
    async <Row extends object>(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> => {
      try {
        const result = await client.query<Row>(sql, [...params]);
        return result.rows;
      } catch (error) {
        if (error instanceof StateError) throw error;
        throw unavailable();
      }
    };
  return {
    query: run(pool),
    async transaction(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch {
        throw unavailable();
      }
      // A connection lost mid-transaction (outage, server restart) emits on the client it is checked out to:
      // without a listener that would crash the process. The statement in flight fails, and so does the call.
      const lost = (): void => undefined;
      client.on('error', lost);
      const query = run(client);
      let broken = false;
      try {
        await query('BEGIN');
        const result = await fn(query);
        await query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        client.off('error', lost);
        // A connection that could not even roll back is discarded, not handed to the next transaction.
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
