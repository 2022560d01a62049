import { ClawError } from '../util/errors.js';
import { migrate, SCHEMA_VERSION } from '../state/postgres/migrations.js';
import { openStateDb } from '../state/postgres/pool.js';
import { parseCommandArgs } from './args.js';
import { EXIT, type CommandSpec } from './io.js';

export const dbMigrateCommand: CommandSpec = {
  name: 'db migrate',
  summary: 'create or upgrade the claw-jira schema in the Postgres database named by CLAW_STATE_URL',
  usage: 'claw-jira db migrate   (CLAW_STATE_URL=postgres://user@host:port/db)',
  async run(argv, io) {
    parseCommandArgs(argv, {});
    const url = io.env.CLAW_STATE_URL?.trim();
    if (!url) throw new ClawError('CONFIG_INVALID', 'CLAW_STATE_URL is not set: name the state database (postgres://…)');
    const db = openStateDb(url, { max: 1 });
    try {
      const applied = await migrate(db);
      io.out(applied.length === 0 ? `schema already at version ${SCHEMA_VERSION}` : `applied migration${applied.length > 1 ? 's' : ''} ${applied.join(', ')}: schema at version ${SCHEMA_VERSION}`);
      return EXIT.ok;
    } finally {
      await db.close();
    }
  },
};
