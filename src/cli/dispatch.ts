import { ZodError } from 'zod';
import { isClawError } from '../util/errors.js';
import { VERSION } from '../version.js';
import { liftAdminHome } from './common.js';
import { EXIT, InputError, UsageError, type CliIo, type CommandSpec } from './io.js';

/**
 * Running one command line against a list of commands: the help, the version, finding the command, and the
 * one-line failure every command prints. It knows no command itself, so `main` (the full list) and the demo
 * (which drives the CLI's own commands) both call it without importing each other.
 */
export async function dispatch(commands: readonly CommandSpec[], argv: string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(helpText(commands));
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  if (argv[0] === '--version') {
    io.out(`claw-jira ${VERSION}`);
    return EXIT.ok;
  }
  const found = findCommand(commands, argv);
  if (!found) {
    const group = commands.filter((command) => command.name.startsWith(`${argv[0]} `));
    io.err(group.length > 0 ? `claw-jira ${argv[0]}: choose one of: ${group.map((c) => c.name).join(', ')}` : `claw-jira: unknown command '${argv[0]}' (see claw-jira --help)`);
    return EXIT.usage;
  }
  const { command } = found;
  // The only place a command's --help is answered: commands never see it.
  if (found.rest.includes('--help') || found.rest.includes('-h')) {
    io.out(`${command.summary}\n\nusage: ${command.usage}`);
    return EXIT.ok;
  }
  try {
    const lifted = liftAdminHome(found.rest, io);
    return await command.run(lifted.argv, lifted.io);
  } catch (error) {
    if (error instanceof UsageError) {
      // One line like every other failure: the stable code, what is wrong, then the usage to fix it.
      io.err(`claw-jira ${command.name}: USAGE_INVALID: ${firstLine(error.message)}; usage: ${command.usage}`);
      return EXIT.usage;
    }
    // One line, a stable code, never a stack trace or a schema dump.
    const { code, message } = cliFailure(error);
    io.err(`claw-jira ${command.name}: ${code}: ${message}`);
    return error instanceof InputError || error instanceof ZodError ? EXIT.usage : EXIT.error;
  }
}

function helpText(commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    'claw-jira: policy-gated Jira for agents (admin CLI)',
    '',
    'usage: claw-jira <command> [options]   (claw-jira <command> --help for its options)',
    '',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'exit codes: 0 ok, 1 a check failed (verify, lint, review, doctor), 2 usage error, 3 could not run',
    'environment: CLAW_HOME (default ./.claw), CLAW_ADMIN_HOME (default <CLAW_HOME>-admin; or --admin-home DIR), CLAW_WPC, CLAW_JOB_ID, CLAW_CST_FILE, JIRA_* (see README)',
  ].join('\n');
}

/** The command a word list names: the longest registered name that prefixes it ('wpc lint' before 'wpc'). */
function findCommand(commands: readonly CommandSpec[], argv: string[]): { command: CommandSpec; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const command = commands.find((candidate) => candidate.name === name);
    if (command) return { command, rest: argv.slice(words) };
  }
  return undefined;
}

/** What a failed command prints: a ClawError's code, a schema's first complaint, else the first line only. */
function cliFailure(error: unknown): { code: string; message: string } {
  if (isClawError(error)) return { code: error.code, message: firstLine(error.message) };
  if (error instanceof ZodError) {
    const issue = error.issues[0];
    return { code: 'INPUT_INVALID', message: `${issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${firstLine(issue?.message ?? 'rejected')}` };
  }
  return { code: 'FAILED', message: firstLine(error instanceof Error ? error.message : String(error)) };
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').slice(0, 500);
}
