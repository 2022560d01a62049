import type { StateDb } from './pool.js';
import { StateError } from './errors.js';

/**
 * The schema, as an append-only list: a released migration is never edited, a change is a new version.
 * `claw-jira db migrate` applies the missing ones in order; the service refuses any other version.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'replay store',
    sql: `
      CREATE TABLE claw_replay (
        jti_hash   text PRIMARY KEY,
        job        text NOT NULL,
        first_seen timestamptz NOT NULL,
        exp        bigint NOT NULL
      );
      CREATE INDEX claw_replay_exp ON claw_replay (exp);`,
  },
  {
    version: 2,
    name: 'kill switch',
    // One row at most (the key can only be true): the switch every replica reads at each write request.
    sql: `
      CREATE TABLE claw_kill_switch (
        id         boolean PRIMARY KEY DEFAULT true CHECK (id),
        disabled   boolean NOT NULL,
        changed_at timestamptz NOT NULL,
        changed_by text NOT NULL,
        reason     text
      );`,
  },
  {
    version: 3,
    name: 'gate state: budgets, approvals, revocation high-water mark, jobs, sessions, receipts',
    // Receipts are rows of their session's chain, exactly the lines a session file would hold; a session row
    // is its index entry and durable head (seq, head), updated in the transaction that inserts its receipts.
    sql: `
      CREATE TABLE claw_budgets (
        job  text NOT NULL,
        name text NOT NULL,
        used integer NOT NULL CHECK (used >= 0),
        PRIMARY KEY (job, name)
      );
      CREATE TABLE claw_approvals (
        request_id   text PRIMARY KEY,
        job          text NOT NULL,
        tool         text NOT NULL,
        args_hash    text NOT NULL,
        request      text NOT NULL,
        requested_at timestamptz NOT NULL,
        approval     text,
        used_at      timestamptz,
        used_via     text CHECK (used_via IN ('signed', 'elicitation'))
      );
      CREATE INDEX claw_approvals_call ON claw_approvals (job, tool, args_hash);
      CREATE TABLE claw_revocation (
        id   boolean PRIMARY KEY DEFAULT true CHECK (id),
        iat  bigint NOT NULL,
        hash text NOT NULL
      );
      CREATE TABLE claw_jobs (
        job        text PRIMARY KEY,
        run_id     text NOT NULL,
        trust      text NOT NULL,
        created_at timestamptz NOT NULL
      );
      CREATE TABLE claw_job_wpcs (
        job       text NOT NULL REFERENCES claw_jobs (job),
        wpc_hash  text NOT NULL,
        bytes     text NOT NULL,
        signature text NOT NULL,
        PRIMARY KEY (job, wpc_hash)
      );
      CREATE TABLE claw_sessions (
        job       text NOT NULL REFERENCES claw_jobs (job),
        server    text NOT NULL,
        session   text NOT NULL,
        opened_at timestamptz NOT NULL,
        seq       integer NOT NULL,
        head      text,
        closed    boolean NOT NULL DEFAULT false,
        PRIMARY KEY (job, server, session)
      );
      CREATE TABLE claw_receipts (
        job     text NOT NULL,
        server  text NOT NULL,
        session text NOT NULL,
        seq     integer NOT NULL CHECK (seq >= 1),
        hash    text NOT NULL,
        line    text NOT NULL,
        PRIMARY KEY (job, server, session, seq),
        FOREIGN KEY (job, server, session) REFERENCES claw_sessions (job, server, session)
      );`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.reduce((max, migration) => Math.max(max, migration.version), 0);

/** Any fixed number: it serialises concurrent `db migrate` runs on one database. */
const MIGRATE_LOCK = 0x636c_6177;

const VERSION_TABLE = `
  CREATE TABLE IF NOT EXISTS claw_schema (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`;

/** Apply every migration the database lacks, in one transaction (all or none). Returns the versions applied. */
export async function migrate(db: StateDb): Promise<number[]> {
  return db.transaction(async (query) => {
    await query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK]);
    await query(VERSION_TABLE);
    const current = await currentVersion(query);
    if (current > SCHEMA_VERSION) {
      throw new StateError('STATE_SCHEMA_UNKNOWN', `the database is at schema version ${current}; this claw-jira knows up to ${SCHEMA_VERSION}`);
    }
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      await query(migration.sql);
      await query('INSERT INTO claw_schema (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      applied.push(migration.version);
    }
    return applied;
  });
}

async function currentVersion(query: StateDb['query']): Promise<number> {
  const rows = await query<{ version: number | null }>('SELECT max(version) AS version FROM claw_schema');
  return rows[0]?.version ?? 0;
}

/**
 * The service runs only on the schema it was built for: an older one lacks tables it needs, a newer one may
 * hold state it would misread. Both refuse to start, with the fix named.
 */
export async function checkSchema(db: StateDb): Promise<void> {
  const exists = await db.query<{ present: boolean }>("SELECT to_regclass('claw_schema') IS NOT NULL AS present");
  const current = exists[0]?.present ? await currentVersion(db.query) : 0;
  if (current > SCHEMA_VERSION) {
    throw new StateError('STATE_SCHEMA_UNKNOWN', `the database is at schema version ${current}; this claw-jira knows up to ${SCHEMA_VERSION}: upgrade claw-jira`);
  }
  if (current < SCHEMA_VERSION) {
    throw new StateError('STATE_SCHEMA_OUTDATED', `the database is at schema version ${current}, this claw-jira needs ${SCHEMA_VERSION}: run claw-jira db migrate`);
  }
}
