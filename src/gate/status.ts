import type { ServerConfig } from '../config/server-config.js';
import type { Operation } from '../wpc/operations.js';
import type { KillSwitchState } from './kill-switch.js';

/** One reason a server cannot serve calls, with what a person runs or sets to fix it. */
export interface StatusProblem {
  code: string;
  message: string;
  fix: string;
}

/**
 * What the status tool, the `initialize` instructions and the start-up stderr line report: the same facts
 * in all three places, so a broken setup says so wherever the user looks. No Jira call is needed for any of it.
 */
export interface ServerStatus {
  server: string;
  ready: boolean;
  problems: StatusProblem[];
  job: string | null;
  wpc_hash: string | null;
  token: {
    source: string;
    sub?: string;
    jti?: string;
    expires_at?: string;
    /** Seconds left; negative once expired. Read from the token even when it does not verify (display only). */
    remaining_seconds?: number;
    valid: boolean;
  };
  writes: 'enabled' | 'disabled';
  kill_switch?: { disabled_at: string; by: string; reason?: string };
  /** Operations the WPC and the token permit now: the server lists exactly their tools (and this one). */
  operations: Operation[];
}

export interface StatusInputs {
  server: string;
  config: ServerConfig;
  /** Problems found at start (configuration, trust, WPC, keys, bundle): the server refuses every call. */
  startup: Array<{ code: string; message: string }>;
  /** Why the WPC or the token in force refuses calls now (WPC file changed, token missing or expired...). */
  live?: { code: string; message: string };
  wpcHash: string | undefined;
  /** The token as read from its source, verified or not. */
  token: string | undefined;
  verified?: { sub: string; jti: string; exp: number };
  killSwitch: KillSwitchState | undefined;
  operations: Operation[];
  now: Date;
}

export function buildStatus(inputs: StatusInputs): ServerStatus {
  const { config } = inputs;
  const problems = [...inputs.startup, ...(inputs.live ? [inputs.live] : [])].map((problem) => ({
    ...problem,
    message: withTokenDetails(problem, inputs),
    fix: fixFor(problem.code, problem.message, config),
  }));
  // Who the token names is shown only once it verifies (a forged token's text never reaches the model);
  // its expiry, a number, is shown either way, so an expired token says when it expired.
  const exp = unverifiedClaims(inputs.token)?.exp;
  const claims: { sub?: string; jti?: string; exp?: number } | undefined = inputs.verified ?? (exp !== undefined ? { exp } : undefined);
  const now = Math.floor(inputs.now.getTime() / 1000);
  return {
    server: inputs.server,
    ready: problems.length === 0,
    problems,
    job: config.job === '' ? null : config.job,
    wpc_hash: inputs.wpcHash ?? (config.wpcHash === '' ? null : config.wpcHash),
    token: {
      source: tokenSourceName(config),
      ...(claims?.sub !== undefined ? { sub: claims.sub } : {}),
      ...(claims?.jti !== undefined ? { jti: claims.jti } : {}),
      ...(claims?.exp !== undefined ? { expires_at: new Date(claims.exp * 1000).toISOString(), remaining_seconds: claims.exp - now } : {}),
      valid: inputs.verified !== undefined,
    },
    writes: inputs.killSwitch ? 'disabled' : 'enabled',
    ...(inputs.killSwitch ? { kill_switch: inputs.killSwitch } : {}),
    operations: inputs.operations,
  };
}

/** The one line a server writes to stderr per problem at start, and what `initialize` instructions say. */
export function statusLines(status: ServerStatus): string[] {
  return status.problems.map((problem) => `NOT READY: ${problemText(problem)}`);
}

export function statusInstructions(status: ServerStatus, base: string): string {
  if (status.ready) return base;
  return [
    `NOT READY: this server refuses every call until this is fixed: ${status.problems.map(problemText).join(' | ')}.`,
    `Call jira_get_server_status for the current state (it needs no Jira access).`,
    base,
  ].join(' ');
}

function problemText(problem: StatusProblem): string {
  return `${problem.code}: ${problem.message}. Fix: ${problem.fix}`;
}

function tokenSourceName(config: ServerConfig): string {
  const source = config.token;
  if (source.kind === 'file') return `CLAW_CST_FILE=${source.path}`;
  if (source.kind === 'env') return 'CLAW_CST';
  return 'none';
}

/** Token problems name where the token came from and, for an expiry, when: the two things a user needs. */
function withTokenDetails(problem: { code: string; message: string }, inputs: StatusInputs): string {
  if (!problem.code.startsWith('CST_')) return problem.message;
  const source = inputs.config.token;
  const where = source.kind === 'file' ? ` (token file ${source.path})` : source.kind === 'env' ? ' (token from CLAW_CST)' : '';
  if (problem.code === 'CST_EXPIRED') {
    const exp = unverifiedClaims(inputs.token)?.exp;
    if (exp !== undefined) return `${problem.message}: it expired at ${new Date(exp * 1000).toISOString()}${where}`;
  }
  return `${problem.message}${where}`;
}

/** What to run or set, per code. The commands are the project's own CLI, with this server's job and WPC. */
function fixFor(code: string, message: string, config: ServerConfig): string {
  const out = config.token.kind === 'file' ? config.token.path : '<token file>';
  const issue = `claw-jira cst issue --wpc ${config.wpcHash || '<sha256:hex>'} --job ${config.job || '<job>'} --out ${out}`;
  if (code === 'CST_MISSING' && config.token.kind === 'none') return `set CLAW_CST_FILE in this server's entry to a token file, then run: ${issue}`;
  if (code.startsWith('CST_')) return `issue a fresh token for this job and WPC: ${issue} (the server re-reads the file; no restart needed)`;
  if (code === 'CONFIG_INVALID') {
    const variable = /^[A-Z][A-Z0-9_]+/.exec(message)?.[0];
    return `${variable ? `set ${variable}` : 'fix the setting named above'} in the MCP client's entry for this server, then restart it (claw-jira doctor checks the same settings)`;
  }
  if (code === 'TRUST_PIN_MISMATCH') return `compare the trust file with the pin: sha256sum ${config.trustFile}; set CLAW_TRUST_SHA256 only to a value you trust, then restart`;
  if (code.startsWith('TRUST_')) return `check the trust file ${config.trustFile} (run claw-jira init for a new home, or chmod 644 it), then restart`;
  if (code === 'WPC_CHANGED') return 'restart the server on a WPC named by its hash (claw-jira wpc sign prints it)';
  if (code.startsWith('WPC_')) return 'sign the WPC with claw-jira wpc sign <file> and set CLAW_WPC to the address it prints, then restart';
  if (code.startsWith('KEY_')) return `run claw-jira init with CLAW_HOME=${config.home.root}, then restart`;
  return 'run claw-jira doctor with the same environment as this server, fix what it names, then restart';
}

/** The last second a JavaScript Date can represent (8.64e15 ms). */
const MAX_DATE_SECONDS = 8_640_000_000_000;

/** The claims of a token without verifying it: display only, never a decision. */
function unverifiedClaims(token: string | undefined): { sub?: string; jti?: string; exp?: number } | undefined {
  const payload = token?.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    return {
      ...(typeof claims.sub === 'string' ? { sub: claims.sub } : {}),
      ...(typeof claims.jti === 'string' ? { jti: claims.jti } : {}),
      // Only an expiry a Date can show: anything else in a garbled token must not break the report.
      ...(Number.isSafeInteger(claims.exp) && (claims.exp as number) >= 0 && (claims.exp as number) <= MAX_DATE_SECONDS ? { exp: claims.exp as number } : {}),
    };
  } catch {
    return undefined;
  }
}
