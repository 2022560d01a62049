#!/usr/bin/env node
import { READ_TOOLS } from '../tools/read-tools.js';
import { runStdioServer } from './factory.js';

runStdioServer('jira-read', READ_TOOLS).catch((error: unknown) => {
  process.stderr.write(`claw-jira-read: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
