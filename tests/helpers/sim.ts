import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/sim/index.js';

/**
 * One Jira simulator for a test file (loopback, a free port unless `port` says otherwise): started before the
 * file's tests, handed to `started` (keep it, build clients from its URL), closed after them. `reset` restores
 * the seeded state before each test; `clearFaults` drops injected faults after each.
 */
export function useSimulator(
  options: SimulatorOptions & { reset?: boolean; clearFaults?: boolean },
  started: (sim: RunningSimulator) => void | Promise<void>,
): void {
  const { reset, clearFaults, ...simOptions } = options;
  let sim: RunningSimulator | undefined;
  beforeAll(async () => {
    sim = await startSimulator(simOptions);
    await started(sim);
  });
  if (reset) beforeEach(() => sim?.reset());
  if (clearFaults) afterEach(() => sim?.faults.clear());
  afterAll(async () => sim?.close());
}
