import { isClawError } from '../util/errors.js';
import { approveCommand, writesCommand } from './admin-commands.js';
import { bundleCommands } from './bundle.js';
import {
  initCommand,
  keysListCommand,
  wpcDiffCommand,
  wpcHashCommand,
  wpcLintCommand,
  wpcSignCommand,
  wpcVerifyCommand,
} from './core-commands.js';
import { cstInspectCommand, cstIssueCommand, cstRevokeCommand } from './cst-commands.js';
import { dbMigrateCommand } from './db-commands.js';
import { demoCommand } from './demo.js';
import { doctorCommand } from './doctor.js';
import { EXIT, UsageError, processIo, type CliIo, type CommandSpec } from './io.js';
import { serveCommand } from './serve-command.js';
import { simCommand } from './sim.js';

export const COMMANDS: readonly CommandSpec[] = [
  initCommand,
  keysListCommand,
  wpcLintCommand,
  wpcHashCommand,
  wpcSignCommand,
  wpcVerifyCommand,
  wpcDiffCommand,
  cstIssueCommand,
  cstInspectCommand,
  cstRevokeCommand,
  approveCommand,
  writesCommand,
  ...bundleCommands,
  doctorCommand,
  simCommand,
  demoCommand,
  serveCommand,
  dbMigrateCommand,
];

function helpText(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    'claw-jira: policy-gated Jira for agents (admin CLI)',
    '',
    'usage: claw-jira <command> [options]   (claw-jira <command> --help for its options)',
    '',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'exit codes: 0 ok, 1 a check failed (verify, lint, review, doctor), 2 usage error, 3 could not run',
    'environment: CLAW_HOME (default ./.claw), CLAW_WPC, CLAW_JOB_ID, CLAW_CST_FILE, JIRA_* (see README)',
  ].join('\n');
}

/** The command a word list names: the longest registered name that prefixes it ('wpc lint' before 'wpc'). */
function findCommand(argv: string[]): { command: CommandSpec; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const command = COMMANDS.find((candidate) => candidate.name === name);
    if (command) return { command, rest: argv.slice(words) };
  }
  return undefined;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(helpText());
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  if (argv[0] === '--version') {
    io.out('claw-jira 0.1.0');
    return EXIT.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    const group = COMMANDS.filter((command) => command.name.startsWith(`${argv[0]} `));
    io.err(group.length > 0 ? `claw-jira ${argv[0]}: choose one of: ${group.map((c) => c.name).join(', ')}` : `claw-jira: unknown command '${argv[0]}' (see claw-jira --help)`);
    return EXIT.usage;
  }
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`${command.summary}\n\nusage: ${command.usage}`);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`claw-jira ${command.name}: ${error.message}\nusage: ${command.usage}`);
      return EXIT.usage;
    }
    // One line, a stable code, never a stack trace.
    if (isClawError(error)) io.err(`claw-jira ${command.name}: ${error.code}: ${error.message}`);
    else io.err(`claw-jira ${command.name}: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.error;
  }
}
