/**
 * `claw-jira sim`: runs the simulator until SIGINT/SIGTERM. Prints one line to stdout
 * (`claw-jira sim listening on <url>`) and the simulator-only credentials to stderr.
 */
import { parseArgs } from 'node:util';
import { describeError } from '../util/errors.js';
import { startSimulator } from './server.js';
import { SIM_USERS } from './users.js';

export interface SimCliIo {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  /** Stops the simulator when aborted (tests); signals stop it in normal use. */
  readonly signal?: AbortSignal;
}

const USAGE = `usage: claw-jira sim [--port N] [--host H] [--seed S] [--latency-ms MS] [--verbose]

Runs an in-memory Jira Cloud REST v3 simulator until interrupted.
  --port N        port to listen on (default 0: a free port, printed on stdout)
  --host H        interface to bind (default 127.0.0.1); admin endpoints answer loopback callers only
  --seed S        data seed (default 42); the same seed always gives the same site
  --latency-ms MS latency added to every Jira request (default 0)
  --verbose       log every request to stderr
`;

function integer(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new Error(`--${name} must be an integer from ${min} to ${max}`);
  return Number(value);
}

export async function runSimulatorCli(argv: readonly string[], io: SimCliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let values: { port?: string; host?: string; seed?: string; 'latency-ms'?: string; verbose?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        seed: { type: 'string' },
        'latency-ms': { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr.write(`claw-jira sim: ${describeError(error)}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  let port: number;
  let seed: number;
  let latencyMs: number;
  try {
    port = integer(values.port, 'port', 0, 65_535, 0);
    seed = integer(values.seed, 'seed', 0, 2 ** 32 - 1, 42);
    latencyMs = integer(values['latency-ms'], 'latency-ms', 0, 120_000, 0);
  } catch (error) {
    io.stderr.write(`claw-jira sim: ${describeError(error)}\n${USAGE}`);
    return 2;
  }

  let sim;
  try {
    sim = await startSimulator({
      port,
      seed,
      latencyMs,
      host: values.host ?? '127.0.0.1',
      ...(values.verbose ? { log: (line: string) => void io.stderr.write(`${line}\n`) } : {}),
    });
  } catch (error) {
    io.stderr.write(`claw-jira sim: cannot start: ${describeError(error)}\n`);
    return 1;
  }
  io.stdout.write(`claw-jira sim listening on ${sim.url}\n`);
  io.stderr.write(
    [
      'Simulator-only credentials (they open nothing but this in-memory site):',
      ...Object.entries(SIM_USERS).map(([name, u]) => `  ${name.padEnd(8)} email=${u.email} apiToken=${u.apiToken} bearer=${u.bearer}`),
      `Admin (loopback only): ${sim.url}/__sim/state-hash, /__sim/faults, /__sim/reset, /__sim/requests`,
      '',
    ].join('\n'),
  );

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', stop, { once: true });
  });
  await sim.close();
  io.stderr.write('claw-jira sim stopped\n');
  return 0;
}
