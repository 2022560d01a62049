import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { hashAddress } from '../util/canonical.js';
import { ClawError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { issueCst, wpcScope } from '../cst/issue.js';
import { revokeInFile } from '../cst/revocation.js';
import { ScopeSchema, type Scope } from '../cst/scope.js';
import { WpcRegistry, registryBackend } from '../wpc/registry.js';
import { UsageError, EXIT, type CommandSpec } from './io.js';
import { parseCommandArgs, requirePositional } from './args.js';
import { adminEvent, homeOf, registryLocation, signingKey, splitList, trustOf } from './common.js';

export const cstIssueCommand: CommandSpec = {
  name: 'cst issue',
  summary: 'issue a capability scoped token for one job, pinned to a WPC (scope defaults to the whole WPC)',
  usage:
    'claw-jira cst issue --wpc <sha256:hex> --job <id> [--sub <agent>] [--ttl <s>] [--aud <aud>] [--ops a,b] [--projects A,B] ' +
    '[--fields f,g] [--issue-types T,U] [--out <file>] [--json]',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, {
      wpc: { type: 'string' },
      job: { type: 'string' },
      sub: { type: 'string' },
      ttl: { type: 'string' },
      aud: { type: 'string' },
      ops: { type: 'string' },
      projects: { type: 'string' },
      fields: { type: 'string' },
      'issue-types': { type: 'string' },
      out: { type: 'string' },
      registry: { type: 'string' },
      json: { type: 'boolean' },
    });
    const wpcHash = values.wpc ?? io.env.CLAW_WPC;
    const job = values.job ?? io.env.CLAW_JOB_ID;
    if (!wpcHash) throw new UsageError('--wpc <sha256:hex> is required (or CLAW_WPC)');
    if (!job) throw new UsageError('--job <id> is required (or CLAW_JOB_ID)');
    const home = homeOf(io);
    const trust = await trustOf(io, home);
    const wpc = await new WpcRegistry(registryBackend(registryLocation(io, home, values.registry)), trust).get(wpcHash);
    const base = wpcScope(wpc);
    const scopeInput = {
      operations: splitList(values.ops) ?? base.operations,
      projects: splitList(values.projects) ?? base.projects,
      ...(values.fields !== undefined ? { fields_write: splitList(values.fields) } : base.fields_write ? { fields_write: base.fields_write } : {}),
      ...(values['issue-types'] !== undefined ? { issue_types: splitList(values['issue-types']) } : {}),
    };
    const parsedScope = ScopeSchema.safeParse(scopeInput);
    if (!parsedScope.success) throw new UsageError(`invalid scope: ${parsedScope.error.issues[0]?.path.join('.')}: ${parsedScope.error.issues[0]?.message}`);
    const scope: Scope = parsedScope.data;
    let ttlSeconds: number | undefined;
    if (values.ttl !== undefined) {
      ttlSeconds = Number(values.ttl);
      if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new UsageError('--ttl must be a positive whole number of seconds');
    }
    const key = await signingKey(home, 'issuer');
    const issued = await issueCst(key, {
      wpc,
      job,
      subject: values.sub ?? 'agent',
      scope,
      ...(values.aud ? { audience: values.aud } : {}),
      ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
    });
    if (values.out) {
      // The token is a bearer secret: only its owner may read the file.
      writeFileAtomic(resolve(io.cwd, values.out), `${issued.token}\n`, { mode: 0o600 });
      const summary = { jti: issued.claims.jti, job, exp: new Date(issued.claims.exp * 1000).toISOString(), token_hash: hashAddress(issued.token), file: resolve(io.cwd, values.out) };
      io.out(values.json ? JSON.stringify(summary) : `token ${summary.jti} for job ${job}, expires ${summary.exp}, written to ${summary.file}`);
    } else {
      io.out(issued.token);
    }
    return EXIT.ok;
  },
};

const COMPACT_JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const JTI = /^[A-Za-z0-9_-]{16,128}$/;

/** A token given as a file (read) or inline; a path that does not exist is an error, never a token. */
function readTokenArg(io: Parameters<CommandSpec['run']>[1], arg: string): string {
  const path = resolve(io.cwd, arg);
  if (existsSync(path)) {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      throw new UsageError(`cannot read the token file ${arg}`);
    }
  }
  if (COMPACT_JWT.test(arg.trim())) return arg.trim();
  throw new UsageError(`no such token file: ${arg}`);
}

export const cstInspectCommand: CommandSpec = {
  name: 'cst inspect',
  summary: 'show the header and claims of a token (or token file) and its remaining lifetime; never prints the token',
  usage: 'claw-jira cst inspect <token-file|token> [--json]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
    const token = readTokenArg(io, requirePositional(positionals, 0, 'token-file'));
    let header;
    let claims;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      throw new ClawError('CST_MALFORMED', 'not a compact JWT');
    }
    const now = Math.floor(Date.now() / 1000);
    const remaining = typeof claims.exp === 'number' ? claims.exp - now : undefined;
    const report = { header, claims, token_hash: hashAddress(token), remaining_seconds: remaining, note: 'decoded only: run the server or doctor to verify' };
    if (values.json) io.out(JSON.stringify(report));
    else {
      io.out(`token_hash ${report.token_hash}`);
      io.out(`header     ${JSON.stringify(header)}`);
      for (const [name, value] of Object.entries(claims)) io.out(`${name.padEnd(10)} ${JSON.stringify(value)}`);
      io.out(remaining === undefined ? 'no expiry' : remaining > 0 ? `valid for ${remaining}s more (signature not checked here)` : `expired ${-remaining}s ago`);
    }
    return EXIT.ok;
  },
};

export const cstRevokeCommand: CommandSpec = {
  name: 'cst revoke',
  summary: 'revoke a token by jti (signed revocation list); running servers refuse it at their next call',
  usage: 'claw-jira cst revoke <jti|token-file> [--reason <text>]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { reason: { type: 'string' } });
    const arg = requirePositional(positionals, 0, 'jti');
    let jti = arg;
    // A token file or a token is decoded for its jti; a bare argument must look like a jti, so a mistyped
    // path is an error instead of a revocation that revokes nothing.
    if (existsSync(resolve(io.cwd, arg)) || COMPACT_JWT.test(arg)) {
      try {
        const claims = decodeJwt(readTokenArg(io, arg));
        if (typeof claims.jti !== 'string') throw new Error('no jti');
        jti = claims.jti;
      } catch {
        throw new UsageError('the argument is neither a jti nor a readable token');
      }
    } else if (!JTI.test(arg)) {
      throw new UsageError(`'${arg.slice(0, 80)}' is not a token file, a token, or a jti`);
    }
    const home = homeOf(io);
    const trust = await trustOf(io, home);
    const key = await signingKey(home, 'issuer');
    const file = io.env.CLAW_REVOCATION_FILE ? resolve(io.cwd, io.env.CLAW_REVOCATION_FILE) : home.revocationFile;
    const list = await revokeInFile(file, trust, key, jti, values.reason);
    await adminEvent(io, home, { type: 'cst.revoked', jti, ...(values.reason ? { reason: values.reason } : {}) });
    io.out(`revoked ${jti} (${list.revoked.length} revoked in ${file})`);
    return EXIT.ok;
  },
};
