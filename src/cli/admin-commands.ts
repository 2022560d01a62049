import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { ClawError } from '../util/errors.js';
import { ApprovalStore, type ApprovalClaims, type ApprovalRequest } from '../approvals/approvals.js';
import type { SigningKey } from '../keys/ed25519.js';
import { PostgresApprovals } from '../state/postgres/approvals.js';
import { checkSchema } from '../state/postgres/migrations.js';
import { openStateDb } from '../state/postgres/pool.js';
import { visibleText } from '../gate/write-path.js';
import { verifyKillSwitch, writeKillSwitch } from '../gate/kill-switch.js';
import type { ClawHome } from '../config/home.js';
import { parseCommandArgs } from './args.js';
import { adminEvent, homeOf, signingKey, trustOf } from './common.js';
import { writesOnDatabase } from './db-writes.js';
import { EXIT, UsageError, type CliIo, type CommandSpec } from './io.js';

/** What `approve` needs of the requests: the files under CLAW_HOME, or the state database every replica files into. */
interface ApprovalDesk {
  pending(): ApprovalRequest[] | Promise<ApprovalRequest[]>;
  getRequest(id: string): ApprovalRequest | Promise<ApprovalRequest>;
  approve(id: string, key: SigningKey, options: { ttlSeconds: number; approver: string }): Promise<ApprovalClaims>;
}

export const approveCommand: CommandSpec = {
  name: 'approve',
  summary: 'show a pending approval request (the exact call) and sign a single-use, short-lived approval for it',
  usage: 'claw-jira approve <request-id> [--yes] [--ttl <s>] | claw-jira approve --list   (asks y/N at a terminal unless --yes; CLAW_STATE_URL: the service\'s requests)',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { yes: { type: 'boolean', short: 'y' }, ttl: { type: 'string' }, list: { type: 'boolean' } });
    const home = homeOf(io);
    const stateUrl = io.env.CLAW_STATE_URL?.trim();
    if (!stateUrl) return approveOn(new ApprovalStore(home.approvalsDir), values, positionals, io, home);
    const db = openStateDb(stateUrl, { max: 1 });
    try {
      await checkSchema(db);
      return await approveOn(new PostgresApprovals(db), values, positionals, io, home);
    } finally {
      await db.close();
    }
  },
};

async function approveOn(
  store: ApprovalDesk,
  values: { yes?: boolean | undefined; ttl?: string | undefined; list?: boolean | undefined },
  positionals: string[],
  io: CliIo,
  home: ClawHome,
): Promise<number> {
  if (values.list) {
    const pending = await store.pending();
    if (pending.length === 0) io.out('no pending approval requests');
    for (const request of pending) io.out(`${request.request_id}  ${request.requested_at}  job ${request.job}  ${request.tool} ${request.target.issue_keys.join(',')}`);
    return EXIT.ok;
  }
  const id = positionals[0];
  if (!id) throw new UsageError('missing <request-id> (see --list)');
  const request = await store.getRequest(id);
  io.out(`Approval request ${request.request_id}`);
  io.out(`  job        ${request.job}`);
  io.out(`  server     ${request.server}`);
  io.out(`  tool       ${request.tool} (${request.operation})`);
  io.out(`  target     ${request.target.project ?? '-'} ${request.target.issue_keys.join(', ')}`);
  io.out(`  policy     ${request.wpc_hash}`);
  io.out(`  args hash  ${request.args_hash}`);
  io.out(`  arguments  ${visibleText(JSON.stringify(request.args, null, 2)).replace(/\n/g, '\n             ')}`);
  // At a terminal the person confirms after reading the call; from a script, running the command with the
  // request id is the decision (the approver key, not this prompt, is what a model cannot reach).
  if (!values.yes && process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question('Approve exactly this call, once? [y/N] ');
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      io.out('not approved');
      return EXIT.failed;
    }
  }
  const ttlSeconds = values.ttl !== undefined ? Number(values.ttl) : 600;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 10 || ttlSeconds > 86_400) throw new UsageError('--ttl must be 10 to 86400 seconds');
  const key = await signingKey(home, 'approver');
  const claims = await store.approve(id, key, { ttlSeconds, approver: io.env.USER ?? 'approver' });
  await adminEvent(io, home, { type: 'approval.signed', request_id: id, args_hash: claims.args_hash, exp: claims.exp });
  io.out(`approved ${id}: valid once, until ${new Date(claims.exp * 1000).toISOString()}, for the identical call only`);
  return EXIT.ok;
}

export const writesCommand: CommandSpec = {
  name: 'writes',
  summary: 'kill switch: stop (or allow again) every write of every running write server, at its next call',
  usage: 'claw-jira writes disable [--reason <text>] | claw-jira writes enable | claw-jira writes status',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { reason: { type: 'string' } });
    const home = homeOf(io);
    const action = positionals[0];
    const stateUrl = io.env.CLAW_STATE_URL?.trim();
    if (stateUrl) return writesOnDatabase(stateUrl, action, values.reason, io);
    // A kill switch dropped into a folder no server reads would stop nothing: refuse a CLAW_HOME that was never initialised.
    if (!existsSync(home.trustFile)) {
      throw new ClawError('HOME_NOT_INITIALISED', `${home.root} is not an initialised CLAW_HOME (no trust.json): set CLAW_HOME to the servers' home`);
    }
    if (action === 'disable' || action === 'enable') {
      const state = action === 'disable' ? 'disabled' : 'enabled';
      const record = writeKillSwitch(home.killSwitchFile, await killSwitchKey(home), {
        state,
        by: io.env.USER ?? 'unknown',
        ...(values.reason ? { reason: values.reason } : {}),
      });
      await adminEvent(io, home, { type: `writes.${state}`, at: record.at, seq: record.seq, ...(record.reason ? { reason: record.reason } : {}) });
      io.out(
        state === 'disabled'
          ? `writes disabled at ${record.at}: every write server refuses writes from its next call`
          : `writes enabled at ${record.at} (signed record ${record.seq})`,
      );
      return EXIT.ok;
    }
    if (action === 'status' || action === undefined) {
      let text: string | undefined;
      try {
        text = readFileSync(home.killSwitchFile, 'utf8');
      } catch {
        text = undefined;
      }
      if (text === undefined) {
        io.out('no kill switch record: writes enabled, unless a server already saw writes disabled (then only claw-jira writes enable lifts it)');
        return EXIT.ok;
      }
      const record = verifyKillSwitch(text, await trustOf(io, home));
      if (!record) io.out('kill switch record INVALID (not signed by a trusted policy key): every write server refuses writes');
      else if (record.state === 'disabled') io.out(`writes DISABLED since ${record.at} by ${record.by}${record.reason ? `: ${record.reason}` : ''}`);
      else io.out(`writes enabled (since ${record.at} by ${record.by})`);
      return EXIT.ok;
    }
    throw new UsageError(`unknown action '${action}': use disable, enable or status`);
  },
};

/**
 * The key that signs kill-switch records: the policy (security admin) key. One function, so moving admin keys
 * out of CLAW_HOME changes one call site.
 */
function killSwitchKey(home: ClawHome) {
  return signingKey(home, 'policy');
}
