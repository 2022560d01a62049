import { startSimulator, SIM_USERS } from '../sim/index.js';
import { parseCommandArgs } from './args.js';
import { EXIT, UsageError, type CommandSpec } from './io.js';

export const simCommand: CommandSpec = {
  name: 'sim',
  summary: 'run the Jira Cloud REST v3 simulator (in memory, deterministic) until interrupted',
  usage: 'claw-jira sim [--port <n>] [--host 127.0.0.1] [--seed <n>] [--latency-ms <n>]',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, {
      port: { type: 'string' },
      host: { type: 'string' },
      seed: { type: 'string' },
      'latency-ms': { type: 'string' },
    });
    const number = (name: string, raw: string | undefined, fallback: number, max: number): number => {
      if (raw === undefined) return fallback;
      const value = Number(raw);
      if (!Number.isInteger(value) || value < 0 || value > max) throw new UsageError(`--${name} must be a whole number from 0 to ${max}`);
      return value;
    };
    const sim = await startSimulator({
      host: values.host ?? '127.0.0.1',
      port: number('port', values.port, 0, 65_535),
      seed: number('seed', values.seed, 42, 2 ** 31),
      latencyMs: number('latency-ms', values['latency-ms'], 0, 60_000),
    });
    io.out(`claw-jira sim listening on ${sim.url}`);
    io.err(`JIRA_BASE_URL=${sim.url} JIRA_EMAIL=${SIM_USERS.agent.email} JIRA_API_TOKEN=${SIM_USERS.agent.apiToken} (simulator fixtures, not secrets); fault switches at ${sim.url}/__sim/`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await sim.close();
    return EXIT.ok;
  },
};
