#!/usr/bin/env node
import { WRITE_TOOLS } from '../tools/write-tools.js';
import { runStdioServer } from './factory.js';

runStdioServer('jira-write', WRITE_TOOLS).catch((error: unknown) => {
  process.stderr.write(`claw-jira-write: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
