/**
 * A running `claw-jira serve` for tests: the built CLI bundle spawned as a process (as a service manager runs
 * it), on a free loopback port, over a World (simulator, CLAW_HOME, signed WPCs) from the e2e harness, with
 * the SDK's own Streamable HTTP client.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Receipt } from '../../src/receipts/types.js';
import { CLI_BIN, type World } from '../e2e/harness.js';

export interface RunningServe {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/** The service's environment: the World's server env without the per-job settings it takes from tokens. */
export function serveEnv(world: World, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = { ...world.serverEnv({ CLAW_WPC: undefined, CLAW_JOB_ID: undefined, CLAW_CST_FILE: undefined }), ...extra };
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** Spawn `claw-jira serve`; resolves once it prints its URL, rejects with its stderr if it exits first. */
export function startServe(world: World, extra: Record<string, string | undefined> = {}, args: string[] = []): Promise<RunningServe> {
  const child = spawn(process.execPath, [CLI_BIN, 'serve', '--port', '0', ...args], { env: serveEnv(world, extra), cwd: world.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const match = /listening on (\S+) /.exec(stderr);
      if (match) {
        resolve({
          url: match[1] as string,
          child,
          stderr: () => stderr,
          exited,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    void exited.then((code) => reject(Object.assign(new Error(`serve exited ${code}: ${stderr}${stdout}`), { code, stderr })));
  });
}

/** Run `claw-jira serve` expecting it to refuse to start: its exit code and stderr. */
export async function serveRefuses(world: World, extra: Record<string, string | undefined> = {}, args: string[] = []): Promise<{ code: number | null; stderr: string }> {
  try {
    const running = await startServe(world, extra, args);
    await running.stop();
    throw new Error('serve started');
  } catch (error) {
    const { code, stderr } = error as { code?: number | null; stderr?: string };
    if (stderr === undefined) throw error;
    return { code: code ?? null, stderr };
  }
}

/** A CST for one endpoint of the service: its audience is the endpoint URL (the RFC 9728 resource). */
export async function endpointToken(world: World, endpoint: string, options: { job?: string; wpcHash?: string; extra?: string[] } = {}): Promise<string> {
  const file = join(world.dir, `cst-${Math.random().toString(36).slice(2)}.jwt`);
  return world.issueToken(['--aud', endpoint, ...(options.extra ?? [])], file, options.job ?? world.job, options.wpcHash ?? world.wpcHash);
}

export async function httpClient(endpoint: string, token: string | undefined): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
    requestInit: token ? { headers: { Authorization: `Bearer ${token}` } } : {},
  });
  const client = new Client({ name: 'claw-serve-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

/** A raw JSON-RPC POST, as a client that misbehaves sends it. */
export async function post(endpoint: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body,
  });
}

export const LIST_TOOLS = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });

/** The service's own refusal receipts (before any job), by code. */
export function serviceRefusals(world: World, code: string): Receipt[] {
  return world.receipts(join(world.home, 'bundles', '_serve')).filter(
    (receipt) => receipt.kind === 'decision' && receipt.decision?.reasons.some((reason) => reason.code === code),
  );
}

/** The built CLI as an operator runs it (its own process, only the environment given), e.g. against the state database. */
export function cliBin(args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI_BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } }, (error, out, err) => {
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out, err });
    });
  });
}
