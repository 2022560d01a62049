import { Agent, request } from 'node:http';
import { authorizationHeader, type JiraAuth } from '../jira/auth.js';
import { JiraClient } from '../jira/client.js';

export interface ClientBenchOptions {
  /** Measured calls per side (bounded: 1..20000). */
  readonly iterations?: number;
  readonly warmup?: number;
}

/**
 * Per-call cost of JiraClient (timeouts, capped body read, zod shape check) against two bare clients of the
 * same `GET /rest/api/3/issue/{key}` on the simulator: node:http with a keep-alive agent + JSON.parse (what
 * the client is built on, the floor) and `fetch` + `res.json()` (what it used before). The three sides are
 * interleaved so drift in the simulator or the machine hits all equally.
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
  const agent = new Agent({ keepAlive: true });
  const viaHttp = (): Promise<void> =>
    new Promise((resolve, reject) => {
      request(url, { headers, agent }, (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        response.on('end', () => {
          JSON.parse(Buffer.concat(parts).toString('utf8'));
          resolve();
        });
        response.on('error', reject);
      })
        .on('error', reject)
        .end();
    });

  try {
    for (let i = 0; i < warmup; i++) {
      await viaClient();
      await viaHttp();
      await viaFetch();
    }
    const clientUs: number[] = [];
    const httpUs: number[] = [];
    const fetchUs: number[] = [];
    for (let i = 0; i < iterations; i++) {
      clientUs.push(await timeUs(viaClient));
      httpUs.push(await timeUs(viaHttp));
      fetchUs.push(await timeUs(viaFetch));
    }
    const c50 = percentile(clientUs, 50);
    const h50 = percentile(httpUs, 50);
    const f50 = percentile(fetchUs, 50);
    return {
      operation: 'GET /rest/api/3/issue/{key}',
      iterations,
      client_p50_us: c50,
      client_p99_us: percentile(clientUs, 99),
      raw_node_http_p50_us: h50,
      raw_node_http_p99_us: percentile(httpUs, 99),
      raw_fetch_p50_us: f50,
      raw_fetch_p99_us: percentile(fetchUs, 99),
      overhead_vs_node_http_p50_us: Math.round((c50 - h50) * 10) / 10,
      ratio_vs_node_http_p50: Math.round((c50 / h50) * 100) / 100,
      ratio_vs_fetch_p50: Math.round((c50 / f50) * 100) / 100,
    };
  } finally {
    agent.destroy();
  }
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
