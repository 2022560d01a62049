import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { Secret } from '../jira/secret.js';
import { createClawServer } from '../servers/factory.js';
import { READ_TOOLS } from '../tools/read-tools.js';
import { WRITE_TOOLS } from '../tools/write-tools.js';
import { bypassExecutor } from './bypass-executor.js';

/** BENCHMARK ONLY: the same server factory and tools as the shipped bins, with the gate replaced. */
const [which, baseUrl, email, token] = process.argv.slice(2);
if (!baseUrl || !email || !token || (which !== 'read' && which !== 'write')) {
  process.stderr.write('usage: bypass-server read|write <jira-url> <email> <token>\n');
  process.exit(2);
}
const server = createClawServer({
  name: which === 'read' ? 'jira-read' : 'jira-write',
  tools: which === 'read' ? READ_TOOLS : WRITE_TOOLS,
  executor: bypassExecutor(baseUrl, { kind: 'basic', email, apiToken: new Secret(token) }, ['ENG', 'SEC']),
});
await server.connect(new StdioServerTransport());
