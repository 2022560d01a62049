import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { runCli } from '../cli/main.js';
import { SIM_FIXTURES } from '../sim/index.js';
import { postgresUnavailable, startPostgres } from '../state/postgres/dev-cluster.js';
import { openBenchWorld } from './servers.js';
import { percentile } from './stats.js';

/**
 * `claw-jira serve` on PostgreSQL against the stdio server: get-issue calls per second and per-call latency
 * through one and through two replicas (one private cluster, the shared replay store and kill switch read),
 * at 8 and 32 calls in flight, each with its ratio to the stdio read server (file state) at the same level.
 * Replicas are separate processes on separate ports; the agents' calls are spread evenly over them.
 */
const LEVELS = [8, 32] as const;
const CLI = fileURLToPath(new URL('../bin/claw-jira.mjs', import.meta.url));
const CALL = { name: 'jira_get_issue', arguments: { issue_key: SIM_FIXTURES.issues.withSubtasks } };
/** The service's own rate limits would cap the figures: set far above what the machine can do. */
const UNLIMITED = '9999999/min';

interface Measured {
  calls_per_s: number;
  p50_ms: number;
  p99_ms: number;
}

interface Caller {
  callTool: Client['callTool'];
}

const ms = (value: number) => Math.round(value * 100) / 100;

/** `total` calls, `concurrency` in flight, worker i on caller i mod n: what the agents of n replicas do. */
async function measure(callers: readonly Caller[], total: number, concurrency: number): Promise<Measured> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (index: number): Promise<void> => {
    const caller = callers[index % callers.length] as Caller;
    while (next < total) {
      next += 1;
      const started = performance.now();
      const result = await caller.callTool(CALL);
      latencies.push(performance.now() - started);
      if (result.isError) throw new Error(`bench call failed: ${JSON.stringify(result.structuredContent)}`);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, index) => worker(index)));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { calls_per_s: Math.round(total / seconds), p50_ms: ms(percentile(latencies, 50)), p99_ms: ms(percentile(latencies, 99)) };
}

/** One `serve` replica; resolves with its base URL once it listens. */
function startReplica(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const match = /listening on (\S+) /.exec(stderr);
      if (match) resolve({ url: match[1] as string, child });
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr.slice(-500)}`)));
  });
}

export async function benchServe(options: { calls?: number } = {}): Promise<Record<string, number | string>> {
  const unavailable = postgresUnavailable();
  if (unavailable) return { skipped: unavailable };
  const total = options.calls ?? 400;
  const world = await openBenchWorld();
  const db = await startPostgres();
  const replicas: ChildProcess[] = [];
  const clients: Client[] = [];
  try {
    const stateUrl = await db.createDatabase('bench');
    const cli = async (argv: string[], env: Record<string, string>) => {
      let out = '';
      const code = await runCli(argv, { out: (text) => (out += `${text}\n`), err: () => undefined, env, cwd: world.dir });
      if (code !== 0) throw new Error(`claw-jira ${argv.join(' ')} failed`);
      return out;
    };
    await cli(['db', 'migrate'], { ...world.env, CLAW_STATE_URL: stateUrl });
    // The service's settings: the stdio servers' without the job, WPC and token, which come from each token.
    const { CLAW_WPC: wpc = '', CLAW_JOB_ID: job = 'bench', CLAW_CST_FILE: _tokenFile, ...service } = world.serverEnv;
    const serviceEnv = { ...service, CLAW_STATE_URL: stateUrl, CLAW_SERVE_TOKEN_RATE: UNLIMITED, CLAW_SERVE_JOB_RATE: UNLIMITED };
    const connect = async (base: string): Promise<Client> => {
      const endpoint = `${base}/mcp/read`;
      const tokenFile = join(world.dir, `bench-${clients.length}.cst`);
      await cli(['cst', 'issue', '--wpc', wpc, '--job', job, '--ttl', '3600', '--aud', endpoint, '--out', tokenFile], world.env);
      const token = readFileSync(tokenFile, 'utf8').trim();
      const client = new Client({ name: 'claw-bench-serve', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(endpoint), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
      clients.push(client);
      return client;
    };
    const started = await Promise.all([startReplica(serviceEnv), startReplica(serviceEnv)]);
    replicas.push(...started.map((replica) => replica.child));
    const [first, second] = await Promise.all(started.map((replica) => connect(replica.url)));
    const stdio = (await world.gated('read')).client;
    const sides: Record<string, Caller[]> = { stdio: [stdio], serve_1_replica: [first as Client], serve_2_replicas: [first as Client, second as Client] };

    // Warm every path (JIT, token caches, pools), then measure each level with the sides interleaved.
    for (const callers of Object.values(sides)) await measure(callers, 60, 8);
    const out: Record<string, number | string> = { calls_per_level: total, call: 'jira_get_issue', state: 'serve: PostgreSQL (private cluster, fsync off); stdio: files' };
    for (const level of LEVELS) {
      const results: Record<string, Measured> = {};
      for (const [side, callers] of Object.entries(sides)) results[side] = await measure(callers, total, level);
      const base = results.stdio as Measured;
      for (const [side, result] of Object.entries(results)) {
        const at = `c${level}_${side}`;
        out[`${at}_calls_per_s`] = result.calls_per_s;
        out[`${at}_p50_ms`] = result.p50_ms;
        out[`${at}_p99_ms`] = result.p99_ms;
        if (side === 'stdio') continue;
        out[`${at}_throughput_vs_stdio`] = ms(result.calls_per_s / base.calls_per_s);
        out[`${at}_p50_vs_stdio`] = ms(result.p50_ms / base.p50_ms);
        out[`${at}_p99_vs_stdio`] = ms(result.p99_ms / base.p99_ms);
      }
    }
    return out;
  } finally {
    for (const client of clients) await client.close().catch(() => undefined);
    for (const replica of replicas) replica.kill('SIGTERM');
    await Promise.all(replicas.map((replica) => (replica.exitCode === null ? new Promise((resolve) => replica.once('exit', resolve)) : undefined)));
    await world.close();
    db.destroy();
  }
}
