import { ClawError } from '../util/errors.js';

/**
 * What a CLI command may touch, passed in rather than reached for, so every command runs the same in a test
 * (captured output, a temporary CLAW_HOME) as in a terminal.
 */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Documented exit codes, the same for every subcommand. */
export const EXIT = {
  ok: 0,
  /** A check ran and failed: verify found tampering, lint found problems, review found exceptions. */
  failed: 1,
  /** The command line was wrong. */
  usage: 2,
  /** The command could not run: missing keys, unreadable files, unreachable Jira. */
  error: 3,
} as const;

export type CommandHandler = (argv: string[], io: CliIo) => Promise<number>;

export interface CommandSpec {
  /** e.g. 'wpc lint' */
  name: string;
  summary: string;
  usage: string;
  run: CommandHandler;
}

export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    env: process.env,
    cwd: process.cwd(),
  };
}

/**
 * A value on the command line that is well-formed as an option but not acceptable (`--job ../evil`, a TTL
 * above the WPC's limit): one line with a stable code, exit 2 like any other wrong command line.
 */
export class InputError extends ClawError {
  constructor(message: string) {
    super('INPUT_INVALID', message);
    this.name = 'InputError';
  }
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
