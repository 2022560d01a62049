-- Two roles for claw-jira's state database: claw_migrate owns the schema (runs `claw-jira db migrate`, from
-- an operator's host or a deploy job), claw_runtime is what every `serve` replica connects as: it reads and
-- writes rows, and can neither change the schema nor drop a table. Run once as a superuser, connected to the
-- database (e.g. `createdb claw_jira && psql -d claw_jira -f deploy/postgres-roles.sql`), then give each role
-- its authentication (a password in a PGPASSFILE, or certificates) in pg_hba.conf.
-- Checked by tests/serve/deploy.test.ts on a real PostgreSQL.
CREATE ROLE claw_migrate LOGIN;
CREATE ROLE claw_runtime LOGIN;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CREATE, USAGE ON SCHEMA public TO claw_migrate;
GRANT USAGE ON SCHEMA public TO claw_runtime;
-- Every table and sequence a migration creates (now and in later versions) is open to the runtime role for rows only.
ALTER DEFAULT PRIVILEGES FOR ROLE claw_migrate IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO claw_runtime;
ALTER DEFAULT PRIVILEGES FOR ROLE claw_migrate IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO claw_runtime;
