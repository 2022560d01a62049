import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { hashAddress } from '../util/canonical.js';
import { ClawError, codeOf, describeError } from '../util/errors.js';
import { JOB_ID } from '../config/server-config.js';
import { writeFileAtomic } from '../util/files.js';
import { issueCst, wpcScope, type IssuedCst } from '../cst/issue.js';
import { revokeInFile } from '../cst/revocation.js';
import { ScopeSchema, type Scope } from '../cst/scope.js';
import { WpcRegistry, isWpcAddress, registryBackend } from '../wpc/registry.js';
import { InputError, UsageError, EXIT, type CliIo, type CommandSpec } from './io.js';
import { parseCommandArgs, requirePositional } from './args.js';
import { adminEvent, cliPath, homeOf, registryLocation, signingKey, splitList, trustOf } from './common.js';

const ISSUE_OPTIONS = {
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
} as const;
const ISSUE_FLAGS =
  '--wpc <sha256:hex> --job <id> [--sub <agent>] [--ttl <s>] [--aud <aud>] [--ops a,b] [--projects A,B] [--fields f,g] [--issue-types T,U]';

type IssueFlags = { [K in keyof typeof ISSUE_OPTIONS]?: (typeof ISSUE_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

function positiveSeconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(seconds) || seconds <= 0) throw new InputError(`${flag} must be a positive whole number of seconds`);
  return seconds;
}

/** Everything `cst issue` and `cst renew` share: the flags checked first (one line each), then one signed token. */
async function issueFromFlags(values: IssueFlags, io: CliIo): Promise<{ issued: IssuedCst; job: string }> {
  const wpcHash = values.wpc ?? io.env.CLAW_WPC;
  const job = values.job ?? io.env.CLAW_JOB_ID;
  if (!wpcHash) throw new UsageError('--wpc <address> is required (or CLAW_WPC)');
  if (!job) throw new UsageError('--job <id> is required (or CLAW_JOB_ID)');
  if (!JOB_ID.test(job)) throw new InputError('--job must be 1-128 letters, digits, dot, dash or underscore, starting with a letter or digit');
  if (!isWpcAddress(wpcHash)) throw new InputError('--wpc must be a WPC address: sha256:<64 hex> or the same digest in base64url');
  if (values.sub !== undefined && (values.sub.trim() === '' || values.sub.length > 255)) throw new InputError('--sub must be 1-255 characters');
  const ttlSeconds = positiveSeconds(values.ttl, '--ttl');
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
  if (!parsedScope.success) throw new InputError(`invalid scope: ${parsedScope.error.issues[0]?.path.join('.')}: ${parsedScope.error.issues[0]?.message}`);
  const scope: Scope = parsedScope.data;
  const key = await signingKey(home, 'issuer');
  const issued = await issueCst(key, {
    wpc,
    job,
    subject: values.sub ?? 'agent',
    scope,
    ...(values.aud ? { audience: values.aud } : {}),
    ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
  });
  return { issued, job };
}

/** The token is a bearer secret: only its owner may read the file, and a reader never sees half of it. */
function writeToken(io: CliIo, out: string, issued: IssuedCst, job: string) {
  const file = cliPath(io, '--out', out) as string;
  writeFileAtomic(file, `${issued.token}\n`, { mode: 0o600 });
  return { jti: issued.claims.jti, job, exp: new Date(issued.claims.exp * 1000).toISOString(), token_hash: hashAddress(issued.token), file };
}

export const cstIssueCommand: CommandSpec = {
  name: 'cst issue',
  summary: 'issue a capability scoped token for one job, pinned to a WPC (scope defaults to the whole WPC)',
  usage: `claw-jira cst issue ${ISSUE_FLAGS} [--out <file>] [--json]`,
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, ISSUE_OPTIONS);
    const { issued, job } = await issueFromFlags(values, io);
    if (values.out) {
      const summary = writeToken(io, values.out, issued, job);
      io.out(values.json ? JSON.stringify(summary) : `token ${summary.jti} for job ${job}, expires ${summary.exp}, written to ${summary.file}`);
    } else {
      io.out(issued.token);
    }
    return EXIT.ok;
  },
};

/** The token in `file`, if it is one for this job and WPC: its seconds left and its whole lifetime. */
function currentToken(file: string, job: string, wpcHash: string, now: number): { left: number; lifetime: number } | undefined {
  try {
    const claims = decodeJwt(readFileSync(file, 'utf8').trim());
    if (claims.job !== job || claims.wpc_hash !== wpcHash || typeof claims.exp !== 'number' || typeof claims.iat !== 'number') return undefined;
    return { left: claims.exp - now, lifetime: claims.exp - claims.iat };
  } catch {
    return undefined;
  }
}

/** The default margin: a fifth of the lifetime, at least a second. */
const marginFor = (renewBefore: number | undefined, lifetime: number) => renewBefore ?? Math.max(1, Math.floor(lifetime / 5));

export const cstRenewCommand: CommandSpec = {
  name: 'cst renew',
  summary: 'keep a token file fresh: issue a new token when the one in --out has less than --renew-before seconds left (--watch: keep doing it)',
  usage: `claw-jira cst renew ${ISSUE_FLAGS} --out <file> [--renew-before <s>] [--watch] [--json]   (default --renew-before: a fifth of the lifetime)`,
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, { ...ISSUE_OPTIONS, 'renew-before': { type: 'string' }, watch: { type: 'boolean' } });
    if (!values.out) throw new UsageError('--out <file> is required: the token file the servers read (CLAW_CST_FILE)');
    const out = cliPath(io, '--out', values.out) as string;
    const renewBefore = positiveSeconds(values['renew-before'], '--renew-before');
    const job = values.job ?? io.env.CLAW_JOB_ID ?? '';
    const wpcHash = values.wpc ?? io.env.CLAW_WPC ?? '';
    /** Renew if due; returns the seconds until the next renewal is due. */
    const once = async (): Promise<number> => {
      const current = currentToken(out, job, wpcHash, Math.floor(Date.now() / 1000));
      if (current && current.left > marginFor(renewBefore, current.lifetime)) {
        return current.left - marginFor(renewBefore, current.lifetime);
      }
      const { issued } = await issueFromFlags(values, io);
      const ttl = issued.claims.exp - issued.claims.iat;
      const margin = marginFor(renewBefore, ttl);
      if (margin >= ttl) throw new InputError(`--renew-before (${margin}s) must be below the token's lifetime (${ttl}s: --ttl, else the WPC's max_ttl_seconds)`);
      const summary = writeToken(io, out, issued, job);
      io.out(values.json ? JSON.stringify({ renewed: true, ...summary }) : `renewed: token ${summary.jti} for job ${job}, expires ${summary.exp}, written to ${summary.file}`);
      return ttl - margin;
    };
    const wait = await once();
    if (values.watch) await watchLoop(once, wait);
    else io.err(`next renewal due in ${wait}s (run again then, or use --watch)`);
    return EXIT.ok;
  },
};

/** --watch: renew at each due time until SIGINT/SIGTERM; a failed renewal is retried soon, the old token stays. */
async function watchLoop(once: () => Promise<number>, first: number): Promise<void> {
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const onSignal = () => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let wait = first;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const due = new Promise<'due'>((resolve) => {
        timer = setTimeout(() => resolve('due'), Math.max(1, wait) * 1000);
      });
      const which = await Promise.race([due, stopped.then(() => 'stop' as const)]);
      clearTimeout(timer);
      if (which === 'stop') return;
      try {
        wait = await once();
      } catch (error) {
        process.stderr.write(`claw-jira cst renew: ${codeOf(error, 'FAILED')}: ${describeError(error).split('\n')[0]}; retrying in 5s\n`);
        wait = 5;
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * A jti is base64url, so 1 in 64 starts with '-', which node's parseArgs takes for an option even after
 * `--jti`. The value after `--jti` is always its value: glue it on (`--jti=<jti>`) before parsing.
 */
function glueJtiValue(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') return [...out, ...argv.slice(i)];
    if (arg === '--jti' && i + 1 < argv.length) {
      out.push(`--jti=${argv[i + 1]}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/**
 * A token file or a token is decoded for its jti; a bare argument must look like a jti, so a mistyped
 * path is an error instead of a revocation that revokes nothing.
 */
function jtiOf(io: CliIo, arg: string): string {
  if (existsSync(resolve(io.cwd, arg)) || COMPACT_JWT.test(arg)) {
    try {
      const claims = decodeJwt(readTokenArg(io, arg));
      if (typeof claims.jti !== 'string') throw new Error('no jti');
      return claims.jti;
    } catch {
      throw new UsageError('the argument is neither a jti nor a readable token');
    }
  }
  if (!JTI.test(arg)) throw new UsageError(`'${arg.slice(0, 80)}' is not a token file, a token, or a jti`);
  return arg;
}

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
  usage: "claw-jira cst revoke <jti|token-file> [--reason <text>]   (a jti starting with '-': cst revoke --jti <jti>, or cst revoke -- <jti>)",
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(glueJtiValue(argv), { reason: { type: 'string' }, jti: { type: 'string' } });
    if (values.jti !== undefined && positionals.length > 0) throw new UsageError('give the jti once: --jti <jti> or a positional <jti|token-file>');
    let jti: string;
    if (values.jti !== undefined) {
      // --jti is always a jti, never a file: nothing to guess.
      if (!JTI.test(values.jti)) throw new InputError(`--jti '${values.jti.slice(0, 80)}' is not a jti (16-128 base64url characters)`);
      jti = values.jti;
    } else jti = jtiOf(io, requirePositional(positionals, 0, 'jti'));
    const home = homeOf(io);
    const trust = await trustOf(io, home);
    const key = await signingKey(home, 'issuer');
    const file = cliPath(io, 'CLAW_REVOCATION_FILE') ?? home.revocationFile;
    const list = await revokeInFile(file, trust, key, jti, values.reason);
    await adminEvent(io, home, { type: 'cst.revoked', jti, ...(values.reason ? { reason: values.reason } : {}) });
    io.out(`revoked ${jti} (${list.revoked.length} revoked in ${file})`);
    return EXIT.ok;
  },
};
