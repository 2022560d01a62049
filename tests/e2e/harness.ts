/**
 * End-to-end world for tests: a simulator on loopback, a fresh CLAW_HOME made by the real CLI, a signed WPC,
 * a CST, and the built servers spawned over stdio with the SDK's client, as an MCP runtime would.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { startSimulator, SIM_USERS, type RunningSimulator } from '../../src/sim/index.js';
import type { Receipt } from '../../src/receipts/types.js';
import { receiptOf } from '../../src/servers/output.js';
import { STATUS_TOOL_NAME } from '../../src/tools/status-tool.js';
import { waitForExit } from '../helpers/wait.js';
import { runCliCaptured, type CliResult } from '../helpers/cli.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
/** The bins exactly as users run them (`npm run build` bundles each into one file). */
export const SERVER_BIN = {
  read: join(ROOT, 'dist', 'bin', 'claw-jira-read.mjs'),
  write: join(ROOT, 'dist', 'bin', 'claw-jira-write.mjs'),
} as const;
export const CLI_BIN = join(ROOT, 'dist', 'bin', 'claw-jira.mjs');

export interface WorldOptions {
  /** A WPC object or a path under wpc-examples/. */
  wpc: object | string;
  job?: string;
  /** Extra `cst issue` flags, e.g. ['--ops', 'issue.get'] */
  cstArgs?: string[];
  sim?: RunningSimulator;
}

export interface Connected {
  client: Client;
  stderr: () => string;
  pid: number | null;
  close(): Promise<void>;
}

export class World {
  readonly dir: string;
  readonly home: string;
  readonly tokenFile: string;
  readonly bundleDir: string;
  job: string;
  wpcHash = '';
  sim!: RunningSimulator;
  #ownSim = false;
  readonly #clients: Connected[] = [];

  private constructor(readonly options: WorldOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'claw-e2e-'));
    this.home = join(this.dir, 'home');
    this.tokenFile = join(this.dir, 'agent.cst');
    this.job = options.job ?? 'job-e2e';
    this.bundleDir = join(this.home, 'bundles', this.job);
  }

  static async create(options: WorldOptions): Promise<World> {
    const world = new World(options);
    if (options.sim) world.sim = options.sim;
    else {
      world.sim = await startSimulator({ port: 0, seed: 42 });
      world.#ownSim = true;
    }
    await world.cliOk(['init']);
    world.wpcHash = await world.signWpc(options.wpc);
    await world.issueToken(options.cstArgs ?? []);
    return world;
  }

  baseEnv(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? this.dir,
      CLAW_HOME: this.home,
    };
  }

  /** The environment a runtime would give the servers. */
  serverEnv(overrides: Record<string, string | undefined> = {}): Record<string, string> {
    const env: Record<string, string | undefined> = {
      ...this.baseEnv(),
      CLAW_WPC: this.wpcHash,
      CLAW_JOB_ID: this.job,
      CLAW_CST_FILE: this.tokenFile,
      JIRA_BASE_URL: this.sim.url,
      JIRA_EMAIL: SIM_USERS.agent.email,
      JIRA_API_TOKEN: SIM_USERS.agent.apiToken,
      ...overrides,
    };
    return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  }

  async cli(argv: string[], env: Record<string, string> = this.baseEnv()): Promise<CliResult> {
    return runCliCaptured(argv, env, this.dir);
  }

  async cliOk(argv: string[], env?: Record<string, string>): Promise<CliResult> {
    const result = await this.cli(argv, env);
    if (result.code !== 0) throw new Error(`claw-jira ${argv.join(' ')} exited ${result.code}: ${result.err}${result.out}`);
    return result;
  }

  async signWpc(wpc: object | string): Promise<string> {
    const file = typeof wpc === 'string' ? join(ROOT, 'wpc-examples', wpc) : join(this.dir, `wpc-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
    if (typeof wpc !== 'string') writeFileSync(file, JSON.stringify(wpc));
    return (await this.cliOk(['wpc', 'sign', file])).out.trim();
  }

  async issueToken(extra: string[] = [], file = this.tokenFile, job = this.job, wpcHash = this.wpcHash): Promise<string> {
    await this.cliOk(['cst', 'issue', '--wpc', wpcHash, '--job', job, '--sub', 'agent-e2e', '--out', file, ...extra]);
    return readFileSync(file, 'utf8').trim();
  }

  async connect(
    server: 'read' | 'write',
    overrides: Record<string, string | undefined> = {},
    capabilities: ClientCapabilities = {},
    /** Run the bin through a launcher (e.g. `setpriv --reuid claw … -- node`), as a separate-user deployment does. */
    launcher?: string[],
  ): Promise<Connected> {
    // The bin itself, as an MCP client runs an installed server (its shebang carries the V8 flags), or through a launcher.
    const command = launcher?.[0] ?? SERVER_BIN[server];
    const args = launcher ? [...launcher.slice(1), SERVER_BIN[server]] : [];
    return this.connectCommand(command, args, this.serverEnv(overrides), capabilities);
  }

  /** Spawn a server exactly as a client entry names it (command, args, the whole environment). */
  async connectCommand(command: string, args: string[], env: Record<string, string>, capabilities: ClientCapabilities = {}): Promise<Connected> {
    const transport = new StdioClientTransport({ command, args, env, stderr: 'pipe', cwd: this.dir });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const client = new Client({ name: 'claw-e2e', version: '1.0.0' }, { capabilities });
    await client.connect(transport);
    const connected: Connected = {
      client,
      stderr: () => stderr,
      pid: transport.pid,
      close: async () => {
        await client.close().catch(() => undefined);
      },
    };
    this.#clients.push(connected);
    return connected;
  }

  /** Every receipt of the job's bundle, in file then line order. */
  receipts(bundleDir = this.bundleDir): Receipt[] {
    const dir = join(bundleDir, 'receipts');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((name) => name.endsWith('.jsonl'))
      .sort()
      .flatMap((name) =>
        readFileSync(join(dir, name), 'utf8')
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as Receipt),
      );
  }

  denials(code?: string): Receipt[] {
    return this.receipts().filter(
      (receipt) =>
        receipt.kind === 'decision' &&
        receipt.decision?.effect === 'deny' &&
        (code === undefined || receipt.decision.reasons.some((reason) => reason.code === code)),
    );
  }

  async close(): Promise<void> {
    for (const connected of this.#clients) await connected.close();
    if (this.#ownSim) await this.sim.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ToolCallResult {
  isError: boolean;
  structured: Record<string, unknown>;
  text: string;
  /** The receipt the result names in its `_meta` (receiptOf). */
  receipt: string | undefined;
}

export async function callTool(connected: Connected, name: string, args: Record<string, unknown>): Promise<ToolCallResult> {
  const result = await connected.client.callTool({ name, arguments: args });
  const content = (result.content ?? []) as Array<{ type: string; text?: string }>;
  return {
    isError: result.isError === true,
    structured: (result.structuredContent ?? {}) as Record<string, unknown>,
    text: content.map((item) => item.text ?? '').join('\n'),
    receipt: receiptOf(result),
  };
}


/**
 * The Jira tools a server lists, sorted. The status tool (always listed, on both servers, whatever the policy
 * says) is left out here so that lists compare with what the WPC and token permit; tests/clients checks it.
 */
export async function toolNames(connected: Connected): Promise<string[]> {
  return (await connected.client.listTools()).tools.map((tool) => tool.name).filter((name) => name !== STATUS_TOOL_NAME).sort();
}

/** Close a server's stdio and wait for its process to end, so its receipt log is final (before a seal). */
export async function stopServer(connected: Connected): Promise<void> {
  await connected.close();
  await waitForExit(connected.pid, { timeoutMs: 5_000 });
}
