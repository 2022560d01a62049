import { loadServeOptions, SERVE_FLAG_SPEC } from '../serve/options.js';
import { startService } from '../serve/service.js';
import { parseCommandArgs } from './args.js';
import { EXIT, type CommandSpec } from './io.js';

export const serveCommand: CommandSpec = {
  name: 'serve',
  summary: 'run the gate as an MCP Streamable HTTP service (/mcp/read, /mcp/write), the CST as bearer token',
  usage:
    'claw-jira serve [--host <addr>] [--port <n>] [--tls-key <file> --tls-cert <file> | --behind-tls-proxy] [--public-url <url>]   ' +
    '(CLAW_SERVE_* twins, CLAW_STATE_URL; see README "Service: claw-jira serve")',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, SERVE_FLAG_SPEC);
    const options = loadServeOptions(values, io.env);
    const service = await startService(options, io.env);
    io.err(`claw-jira serve: listening on ${service.url} (read: ${service.url}/mcp/read, write: ${service.url}/mcp/write; state: ${options.stateUrl ? 'postgres' : 'files'})`);
    // Runs until SIGINT/SIGTERM; in-flight calls finish and every gate closes its receipt session first.
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void service.close().finally(resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    io.err('claw-jira serve: stopped');
    return EXIT.ok;
  },
};
