import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { runCli } from '../cli/main.js';
import { startSimulator, SIM_USERS } from '../sim/index.js';
import { round, spread, summarize, type Summary } from './stats.js';

const dist = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** A policy wide enough that every benchmarked call is allowed, with no budgets to run out. */
const BENCH_WPC = {
  wpc_version: 'v1',
  tool: 'jira',
  allow: {
    projects: ['ENG', 'SEC'],
    operations: ['issue.search', 'issue.get', 'project.read', 'issue.update', 'issue.comment.create'],
    fields_write_allowlist: ['summary', 'labels'],
  },
  runtime: { require_cst: true, cst_policy_hash_pin: true, max_ttl_seconds: 3600 },
};

export interface Connected {
  client: Client;
  pid: number | null;
}

/** Spawn a bin as an MCP client does: the file itself (shebang and all), or `node <file>` for plain scripts. */
export async function spawn(args: string[], env: Record<string, string>): Promise<Connected> {
  // BENCH_SERVER_NODE_OPTIONS lets one compare V8 settings (e.g. --max-semi-space-size) across runs.
  const nodeOptions = process.env.BENCH_SERVER_NODE_OPTIONS;
  const [file, ...rest] = args as [string, ...string[]];
  const executable = file.endsWith('.mjs');
  const transport = new StdioClientTransport({
    command: executable ? file : process.execPath,
    args: executable ? rest : args,
    env: nodeOptions ? { ...env, NODE_OPTIONS: nodeOptions } : env,
    stderr: 'ignore',
  });
  const client = new Client({ name: 'claw-bench', version: '1' });
  await client.connect(transport);
  return { client, pid: transport.pid };
}

async function timeCalls(connected: Connected, count: number, args: (i: number) => { name: string; arguments: Record<string, unknown> }): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    const result = await connected.client.callTool(args(i));
    samples.push(Number(process.hrtime.bigint() - started) / 1000);
    if (result.isError) throw new Error(`bench call failed: ${JSON.stringify(result.structuredContent)}`);
  }
  return samples;
}

/** The same figures for reads and writes: gated against bypass, and what the gate adds. */
function overhead(kind: string, calls: number, gated: Summary, bypass: Summary): Record<string, number> {
  return {
    [`${kind}_calls`]: calls,
    [`${kind}_gated_p50_us`]: gated.p50_us,
    [`${kind}_bypass_p50_us`]: bypass.p50_us,
    [`${kind}_gate_overhead_p50_us`]: round(gated.p50_us - bypass.p50_us),
    [`${kind}_gated_p99_us`]: gated.p99_us,
    [`${kind}_bypass_p99_us`]: bypass.p99_us,
    [`${kind}_ratio_p50`]: round(gated.p50_us / bypass.p50_us),
  };
}

/** VmRSS (now) or VmHWM (the peak resident set since start) of a process, in MB. */
export function memoryMb(pid: number | null, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  if (pid === null) return Number.NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 'NaN');
    return round(kb / 1024);
  } catch {
    return Number.NaN;
  }
}

/** What a bundled bin's shebang (`#!/usr/bin/env -S NAME=VALUE... node <flags>`) gives node: environment and flags. */
export function shebangOf(file: string): { env: Record<string, string>; flags: string[] } {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
  const words = first.replace(/^#!\/usr\/bin\/env -S /, '').split(' ').filter((word) => word !== '');
  const node = words.indexOf('node');
  const env = Object.fromEntries(words.slice(0, Math.max(node, 0)).map((word) => word.split('=', 2) as [string, string]));
  return { env, flags: words.slice(node + 1) };
}

/** A CLAW_HOME with keys, a signed bench WPC and a CST, a simulator, and how to start each server against them. */
export interface BenchWorld {
  dir: string;
  sim: Awaited<ReturnType<typeof startSimulator>>;
  env: Record<string, string>;
  serverEnv: Record<string, string>;
  gated(which: 'read' | 'write'): Promise<Connected>;
  bypass(which: 'read' | 'write'): Promise<Connected>;
  close(): Promise<void>;
}

export async function openBenchWorld(): Promise<BenchWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'claw-bench-servers-'));
  const sim = await startSimulator({ port: 0, seed: 42 });
  const connections: Connected[] = [];
  const env = { PATH: process.env.PATH ?? '', HOME: dir, CLAW_HOME: join(dir, 'home') };
  const cli = async (argv: string[]) => {
    let out = '';
    const code = await runCli(argv, { out: (t) => (out += `${t}\n`), err: () => undefined, env, cwd: dir });
    if (code !== 0) throw new Error(`claw-jira ${argv.join(' ')} failed`);
    return out.trim();
  };
  await cli(['init']);
  writeFileSync(join(dir, 'bench.json'), JSON.stringify(BENCH_WPC));
  const wpc = await cli(['wpc', 'sign', join(dir, 'bench.json')]);
  await cli(['cst', 'issue', '--wpc', wpc, '--job', 'bench', '--ttl', '3600', '--out', join(dir, 'bench.cst')]);
  const serverEnv = {
    ...env,
    CLAW_WPC: wpc,
    CLAW_JOB_ID: 'bench',
    CLAW_CST_FILE: join(dir, 'bench.cst'),
    JIRA_BASE_URL: sim.url,
    JIRA_EMAIL: SIM_USERS.agent.email,
    JIRA_API_TOKEN: SIM_USERS.agent.apiToken,
  };
  // The bypass runs with the same V8 flags as the shipped servers' shebang, so only the gate differs.
  const shebang = (which: string) => shebangOf(dist(`../bin/claw-jira-${which}.mjs`));
  const bypassArgs = (which: string) => [...shebang(which).flags, dist('../bin/bench-bypass-server.mjs'), which, sim.url, SIM_USERS.agent.email, SIM_USERS.agent.apiToken];
  const track = (connected: Connected) => {
    connections.push(connected);
    return connected;
  };
  return {
    dir,
    sim,
    env,
    serverEnv,
    gated: async (which) => track(await spawn([dist(`../bin/claw-jira-${which}.mjs`)], serverEnv)),
    bypass: async (which) => track(await spawn(bypassArgs(which), { ...env, ...shebang(which).env })),
    close: async () => {
      for (const connection of connections) await connection.client.close().catch(() => undefined);
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ROUNDS = 5;

/**
 * The gate's cost at the MCP level: the same tools, the same factory, the same simulator, once through the
 * gate (CST check, target resolution, decision, fsynced receipts) and once through the bench-only bypass.
 * Also cold start to the first tools/list, and resident memory after the workload.
 */
export async function benchServers(options: { reads?: number; writes?: number } = {}): Promise<Record<string, number | string>> {
  const reads = options.reads ?? 500;
  const writes = options.writes ?? 250;
  const world = await openBenchWorld();
  try {
    const gatedRead = await world.gated('read');
    const bypassRead = await world.bypass('read');
    const gatedWrite = await world.gated('write');
    const bypassWrite = await world.bypass('write');

    const readCall = () => ({ name: 'jira_get_issue', arguments: { issue_key: 'ENG-1', fields: ['summary', 'status'] } });
    const writeCall = (i: number) => ({ name: 'jira_update_issue', arguments: { issue_key: 'ENG-2', summary: `bench summary ${i}` } });
    // Warm up both paths (JIT, field catalog, token cache), then measure them interleaved in blocks.
    await timeCalls(gatedRead, 30, readCall);
    await timeCalls(bypassRead, 30, readCall);
    await timeCalls(gatedWrite, 10, (i) => writeCall(i + 1_000_000));
    await timeCalls(bypassWrite, 10, (i) => writeCall(i + 2_000_000));
    const gatedReads: number[] = [];
    const bypassReads: number[] = [];
    const gatedWrites: number[] = [];
    const bypassWrites: number[] = [];
    // What the gate adds in each round (gated p50 minus bypass p50 of that round): its range shows the drift.
    const readRounds: number[] = [];
    const writeRounds: number[] = [];
    for (let block = 0; block < ROUNDS; block++) {
      const gr = await timeCalls(gatedRead, reads / ROUNDS, readCall);
      const br = await timeCalls(bypassRead, reads / ROUNDS, readCall);
      const gw = await timeCalls(gatedWrite, writes / ROUNDS, (i) => writeCall(block * 10_000 + i));
      const bw = await timeCalls(bypassWrite, writes / ROUNDS, (i) => writeCall(block * 10_000 + i + 5_000));
      readRounds.push(summarize(gr).p50_us - summarize(br).p50_us);
      writeRounds.push(summarize(gw).p50_us - summarize(bw).p50_us);
      gatedReads.push(...gr);
      bypassReads.push(...br);
      gatedWrites.push(...gw);
      bypassWrites.push(...bw);
    }
    const gr = summarize(gatedReads);
    const br = summarize(bypassReads);
    const gw = summarize(gatedWrites);
    const bw = summarize(bypassWrites);

    const coldStarts: number[] = [];
    for (let i = 0; i < 8; i++) {
      const started = process.hrtime.bigint();
      const fresh = await spawn([dist('../bin/claw-jira-read.mjs')], world.serverEnv);
      await fresh.client.listTools();
      coldStarts.push(Number(process.hrtime.bigint() - started) / 1000);
      await fresh.client.close();
    }
    const cold = summarize(coldStarts);

    const range = (values: number[]) => `${spread(values)} over ${ROUNDS} rounds`;
    return {
      ...overhead('read', reads, gr, br),
      read_gate_overhead_p50_us_per_round: range(readRounds),
      ...overhead('write', writes, gw, bw),
      write_gate_overhead_p50_us_per_round: range(writeRounds),
      cold_start_to_tools_list_p50_ms: round(cold.p50_us / 1000),
      cold_start_to_tools_list_max_ms: round(Math.max(...coldStarts) / 1000),
      rss_read_server_mb: memoryMb(gatedRead.pid),
      rss_write_server_mb: memoryMb(gatedWrite.pid),
      peak_rss_vmhwm_read_server_mb: memoryMb(gatedRead.pid, 'VmHWM'),
      peak_rss_vmhwm_write_server_mb: memoryMb(gatedWrite.pid, 'VmHWM'),
      peak_rss_vmhwm_bypass_read_mb: memoryMb(bypassRead.pid, 'VmHWM'),
      peak_rss_vmhwm_bypass_write_mb: memoryMb(bypassWrite.pid, 'VmHWM'),
      targets: 'overhead p50 <= 500 us (reads), <= 1000 us (writes); cold start <= 300 ms; peak RSS (VmHWM) <= 100 MB',
    };
  } finally {
    await world.close();
  }
}
