import { availableParallelism, cpus } from 'node:os';
import { Secret } from '../jira/secret.js';
import { startSimulator, SIM_USERS } from '../sim/index.js';
import { benchAdf } from './adf.js';
import { benchBundleVerify } from './bundle.js';
import { benchClientOverhead } from './client.js';
import { benchConcurrency } from './concurrency.js';
import { benchCore } from './core.js';
import { benchServe } from './serve.js';
import { benchServers } from './servers.js';
import { benchSimulator } from './sim.js';

/**
 * `npm run bench`: figures and ratios, printed, never asserted. Each part is bounded in count and time and
 * talks only to loopback. Run it on a quiet machine: the numbers are as good as the machine is idle.
 */
function print(title: string, figures: Record<string, number | string>): void {
  process.stdout.write(`\n## ${title}\n`);
  const width = Math.max(...Object.keys(figures).map((key) => key.length));
  for (const [key, value] of Object.entries(figures)) process.stdout.write(`  ${key.padEnd(width)}  ${value}\n`);
}

async function main(): Promise<void> {
  const only = new Set(process.argv.slice(2));
  const wants = (part: string) => only.size === 0 || only.has(part);
  process.stdout.write(`claw-jira bench on Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown cpu'})\n`);

  if (wants('core')) {
    process.stdout.write('\n## trust core (p50 / p99 in microseconds)\n');
    for (const result of await benchCore()) {
      const { name, ...rest } = result;
      process.stdout.write(`  ${name.padEnd(34)} ${Object.entries(rest).map(([key, value]) => `${key}=${String(value)}`).join('  ')}\n`);
    }
  }
  if (wants('servers')) print('MCP servers: gate overhead, cold start, memory', await benchServers());
  if (wants('concurrency')) print('MCP servers under concurrency (one connection): gated vs bypass', await benchConcurrency());
  if (wants('sim')) print('Jira simulator', await benchSimulator());
  if (wants('client')) {
    const sim = await startSimulator({ port: 0, seed: 42 });
    try {
      print(
        'Jira client overhead vs raw fetch (GET issue)',
        await benchClientOverhead(sim.url, { kind: 'basic', email: SIM_USERS.agent.email, apiToken: new Secret(SIM_USERS.agent.apiToken) }),
      );
    } finally {
      await sim.close();
    }
  }
  if (wants('adf')) print('ADF to Markdown on hostile whitespace', benchAdf());
  if (wants('bundle')) print('proof bundle verify (synthetic 100k receipts)', await benchBundleVerify());
  if (wants('serve')) print('claw-jira serve on PostgreSQL, 1 and 2 replicas, vs the stdio server', await benchServe());
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
