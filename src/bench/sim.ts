/**
 * Simulator throughput: requests per second for GET issue and a JQL search, over keep-alive
 * connections (global fetch) with fixed concurrency and a bounded number of requests.
 */
import { SIM_FIXTURES, SIM_USERS, startSimulator } from '../sim/index.js';
import { percentile, round } from './stats.js';

export interface SimBenchOptions {
  /** Requests per scenario; default 2000. */
  readonly requests?: number;
  /** Requests in flight at once; default 8. */
  readonly concurrency?: number;
}

interface Scenario {
  readonly name: string;
  readonly path: string;
}

async function run(baseUrl: string, auth: string, scenario: Scenario, requests: number, concurrency: number): Promise<Record<string, number>> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const worker = async (): Promise<void> => {
    while (next < requests) {
      next += 1;
      const started = performance.now();
      const response = await fetch(`${baseUrl}${scenario.path}`, { headers: { Authorization: auth, Accept: 'application/json' } });
      await response.arrayBuffer();
      if (response.status !== 200) failures += 1;
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    [`sim.${scenario.name}.rps`]: Math.round(requests / seconds),
    [`sim.${scenario.name}.p50_ms`]: round(percentile(latencies, 50)),
    [`sim.${scenario.name}.p99_ms`]: round(percentile(latencies, 99)),
    [`sim.${scenario.name}.failures`]: failures,
  };
}

export async function benchSimulator(options: SimBenchOptions = {}): Promise<Record<string, number | string>> {
  const requests = options.requests ?? 2000;
  const concurrency = options.concurrency ?? 8;
  const startup = performance.now();
  const sim = await startSimulator();
  const startupMs = performance.now() - startup;
  const auth = `Basic ${Buffer.from(`${SIM_USERS.agent.email}:${SIM_USERS.agent.apiToken}`).toString('base64')}`;
  const jql = encodeURIComponent('project in (ENG, OPS) AND status != Done ORDER BY updated DESC');
  const scenarios: Scenario[] = [
    { name: 'getIssue', path: `/rest/api/3/issue/${SIM_FIXTURES.issues.withSubtasks}` },
    { name: 'searchJql', path: `/rest/api/3/search/jql?jql=${jql}&fields=summary,status,assignee&maxResults=50` },
  ];
  try {
    const results: Record<string, number | string> = {
      'sim.requests_per_scenario': requests,
      'sim.concurrency': concurrency,
      'sim.startup_ms': round(startupMs),
    };
    for (const scenario of scenarios) {
      await run(sim.url, auth, scenario, Math.min(100, requests), concurrency);
      Object.assign(results, await run(sim.url, auth, scenario, requests, concurrency));
    }
    const hashStarted = performance.now();
    sim.stateHash();
    results['sim.stateHash_ms'] = round(performance.now() - hashStarted);
    return results;
  } finally {
    await sim.close();
  }
}
