import { authorizationHeader, type JiraAuth } from '../jira/auth.js';
import { JiraClient } from '../jira/client.js';

export interface ClientBenchOptions {
  /** Measured calls per side (bounded: 1..20000). */
  readonly iterations?: number;
  readonly warmup?: number;
}

/**
 * Per-call cost of JiraClient (timeouts, capped body read, zod shape check) over a bare `fetch` +
 * `res.json()` of the same `GET /rest/api/3/issue/{key}` against the simulator. The two sides are
 * interleaved so drift in the simulator or the machine hits both equally.
 */
export async function benchClientOverhead(simUrl: string, auth: JiraAuth, options: ClientBenchOptions = {}): Promise<Record<string, number | string>> {
  const iterations = Math.min(20_000, Math.max(1, options.iterations ?? 2000));
  const warmup = Math.min(2000, Math.max(0, options.warmup ?? 200));
  const client = new JiraClient({ baseUrl: simUrl, auth });
  const key = await someIssueKey(client);
  const url = `${client.baseUrl}/rest/api/3/issue/${encodeURIComponent(key)}`;
  const headers = { authorization: authorizationHeader(auth), accept: 'application/json' };

  const viaClient = async (): Promise<void> => void (await client.getIssue(key));
  const viaFetch = async (): Promise<void> => {
    const response = await fetch(url, { headers });
    if (!response.ok) throw new Error(`raw fetch answered ${response.status}`);
    await response.json();
  };

  for (let i = 0; i < warmup; i++) {
    await viaClient();
    await viaFetch();
  }
  const clientUs: number[] = [];
  const rawUs: number[] = [];
  for (let i = 0; i < iterations; i++) {
    clientUs.push(await timeUs(viaClient));
    rawUs.push(await timeUs(viaFetch));
  }
  const c50 = percentile(clientUs, 50);
  const r50 = percentile(rawUs, 50);
  return {
    operation: 'GET /rest/api/3/issue/{key}',
    iterations,
    client_p50_us: c50,
    client_p99_us: percentile(clientUs, 99),
    raw_fetch_p50_us: r50,
    raw_fetch_p99_us: percentile(rawUs, 99),
    overhead_p50_us: Math.round((c50 - r50) * 10) / 10,
    ratio_p50: Math.round((c50 / r50) * 100) / 100,
  };
}

async function someIssueKey(client: JiraClient): Promise<string> {
  const projects = await client.listProjects({ maxResults: 1 });
  const project = projects.data.values[0];
  if (project === undefined) throw new Error('the simulator has no project to benchmark against');
  const page = await client.searchJql({ jql: `project = "${project.key}"`, fields: ['key'], maxResults: 1 });
  const issue = page.data.issues[0];
  if (issue === undefined) throw new Error(`project ${project.key} has no issue to benchmark against`);
  return issue.key ?? issue.id;
}

async function timeUs(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1000;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[index] ?? 0) * 10) / 10;
}
