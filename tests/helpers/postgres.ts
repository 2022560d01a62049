/**
 * A real PostgreSQL server for tests: the private cluster of src/state/postgres/dev-cluster.ts (shared with
 * `npm run bench serve`), made with Debian's initdb/pg_ctl in a temp folder on a free loopback port, run as
 * a non-root system user under root. When no PostgreSQL is installed the tests that need it skip, saying why
 * (`.ci/run` installs the `postgresql` package).
 */
import pg from 'pg';

export { postgresUnavailable, startPostgres, type DevPostgres as TestPostgres } from '../../src/state/postgres/dev-cluster.js';

/** One statement on the database at `url` over its own connection, as an operator's psql would run it. */
export async function sql<Row extends object>(url: string, text: string, params: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(text, params)).rows;
  } finally {
    await client.end();
  }
}
