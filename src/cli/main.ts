import { approveCommand, writesCommand } from './admin-commands.js';
import { bundleCommands } from './bundle.js';
import { bundleExportCommand } from './bundle-export.js';
import { clawExportCommands } from './claw-commands.js';
import {
  initCommand,
  keysListCommand,
  wpcDiffCommand,
  wpcHashCommand,
  wpcLintCommand,
  wpcSignCommand,
  wpcVerifyCommand,
} from './core-commands.js';
import { cstInspectCommand, cstIssueCommand, cstRenewCommand, cstRevokeCommand } from './cst-commands.js';
import { demoCommand } from './demo.js';
import { dbMigrateCommand } from './db-commands.js';
import { doctorCommand } from './doctor.js';
import { dispatch } from './dispatch.js';
import type { CliIo, CommandSpec } from './io.js';
import { serveCommand } from './serve-command.js';
import { simCommand } from './sim.js';

const COMMANDS: readonly CommandSpec[] = [
  initCommand,
  keysListCommand,
  wpcLintCommand,
  wpcHashCommand,
  wpcSignCommand,
  wpcVerifyCommand,
  wpcDiffCommand,
  cstIssueCommand,
  cstRenewCommand,
  cstInspectCommand,
  cstRevokeCommand,
  approveCommand,
  writesCommand,
  ...bundleCommands,
  bundleExportCommand,
  ...clawExportCommands,
  doctorCommand,
  simCommand,
  demoCommand,
  serveCommand,
  dbMigrateCommand,
];

/** The admin CLI: every command, run by the shared dispatcher. */
export function runCli(argv: string[], io: CliIo): Promise<number> {
  return dispatch(COMMANDS, argv, io);
}
