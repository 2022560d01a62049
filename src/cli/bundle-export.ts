import { resolve } from 'node:path';
import { JOB_ID } from '../config/server-config.js';
import { exportBundle } from '../state/postgres/export.js';
import { checkSchema } from '../state/postgres/migrations.js';
import { openStateDb } from '../state/postgres/pool.js';
import { ClawError } from '../util/errors.js';
import { parseCommandArgs, requirePositional } from './args.js';
import { EXIT, UsageError, type CommandSpec } from './io.js';

/**
 * `claw-jira bundle export <job> -o <dir>`: the job's proof bundle as `serve` on Postgres keeps it (every
 * replica's sessions), written as the folder the stdio servers write, for `bundle seal|verify|review|report`.
 */
export const bundleExportCommand: CommandSpec = {
  name: 'bundle export',
  summary: "write a job's proof-bundle folder from the state database (CLAW_STATE_URL): every replica's sessions, WPCs, keys, approvals",
  usage: 'claw-jira bundle export <job> -o <dir>   (CLAW_STATE_URL=postgres://…; <dir> must be new or empty)',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { out: { type: 'string', short: 'o' } });
    const job = requirePositional(positionals, 0, 'job');
    if (!JOB_ID.test(job)) throw new UsageError('<job> is not a valid job id');
    if (values.out === undefined) throw new UsageError('-o <dir> is required: the folder to write the bundle to');
    const url = io.env.CLAW_STATE_URL?.trim();
    if (!url) throw new ClawError('CONFIG_INVALID', 'CLAW_STATE_URL is not set: name the state database (postgres://…)');
    const db = openStateDb(url, { max: 1 });
    try {
      await checkSchema(db);
      const summary = await exportBundle(db, job, resolve(io.cwd, values.out));
      io.out(`exported job ${job} to ${summary.dir}: ${summary.receipts} receipts in ${summary.sessions} session(s), ${summary.wpcs} WPC(s), ${summary.approvals} approval(s)`);
      io.out(`next: claw-jira bundle seal ${summary.dir}, then bundle verify / review / report`);
      return EXIT.ok;
    } finally {
      await db.close();
    }
  },
};
