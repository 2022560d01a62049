import { SIM_FIXTURES } from '../sim/index.js';
import { memoryMb, openBenchWorld, type Connected } from './servers.js';
import { median, percentile, spread } from './stats.js';

/**
 * Throughput under concurrency over one MCP connection, as an agent that issues parallel tool calls uses a
 * server: get-issue and a 20-issue JQL search at 1, 8 and 32 calls in flight, through the gated server and
 * through the bench-only bypass (same factory, same tools, no gate). Also the bytes of each result (content
 * plus structuredContent, what the client receives for the model) and each server's peak RSS (VmHWM).
 */
const LEVELS = [1, 8, 32] as const;

interface Call {
  name: string;
  arguments: Record<string, unknown>;
}

const CALLS: Record<'get_issue' | 'search', Call> = {
  get_issue: { name: 'jira_get_issue', arguments: { issue_key: SIM_FIXTURES.issues.withSubtasks } },
  search: { name: 'jira_search_issues', arguments: { jql: 'project = ENG ORDER BY key ASC', max_results: 20 } },
};

/** Issue 13's baseline: ENG-1 with the default fields was 1,884 bytes for the model (text 1,068 + structured 816). */
const ISSUE_13_GET_ISSUE_BYTES = 1884;
const BASELINE_CALL: Call = { name: 'jira_get_issue', arguments: { issue_key: 'ENG-1' } };

async function modelBytes(connected: Connected, call: Call): Promise<{ text: number; structured: number; total: number; meta: number }> {
  const result = await connected.client.callTool(call);
  if (result.isError) throw new Error(`bench call ${call.name} failed: ${JSON.stringify(result.structuredContent)}`);
  const content = result.content as Array<{ type: string; text?: string }>;
  const text = content.reduce((sum, part) => sum + (part.type === 'text' ? Buffer.byteLength(part.text ?? '') : 0), 0);
  const structured = Buffer.byteLength(JSON.stringify(result.structuredContent ?? {}));
  const meta = result._meta === undefined ? 0 : Buffer.byteLength(JSON.stringify(result._meta));
  return { text, structured, total: text + structured, meta };
}

interface Run {
  calls_per_s: number;
  p50_ms: number;
  p99_ms: number;
  bytes: number;
}

const ms = (value: number) => Math.round(value * 100) / 100;

async function run(connected: Connected, call: Call, total: number, concurrency: number): Promise<Run> {
  const latencies: number[] = [];
  let next = 0;
  let bytes = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      next += 1;
      const started = performance.now();
      const result = await connected.client.callTool(call);
      latencies.push(performance.now() - started);
      if (result.isError) throw new Error(`bench call ${call.name} failed: ${JSON.stringify(result.structuredContent)}`);
      bytes = Buffer.byteLength(JSON.stringify({ content: result.content, structuredContent: result.structuredContent }));
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { calls_per_s: Math.round(total / seconds), p50_ms: ms(percentile(latencies, 50)), p99_ms: ms(percentile(latencies, 99)), bytes };
}

/**
 * Each level is measured in `blocks` rounds, gated then bypass in every round, so drift on a shared machine
 * hits both; figures are the median over the rounds with their range, and ratios are of the medians.
 */
export async function benchConcurrency(options: { calls?: number; blocks?: number } = {}): Promise<Record<string, number | string>> {
  const total = options.calls ?? 300;
  const blocks = options.blocks ?? 5;
  const world = await openBenchWorld();
  try {
    const gated = await world.gated('read');
    const bypass = await world.bypass('read');
    const out: Record<string, number | string> = { calls_per_round: total, rounds_per_level: blocks, figures: 'median [min-max] over the rounds' };
    for (const [kind, call] of Object.entries(CALLS)) {
      // Warm both (JIT, token cache, field catalog), then measure each level in interleaved rounds.
      await run(gated, call, 50, 8);
      await run(bypass, call, 50, 8);
      for (const level of LEVELS) {
        const g: Run[] = [];
        const b: Run[] = [];
        for (let round = 0; round < blocks; round++) {
          g.push(await run(gated, call, total, level));
          b.push(await run(bypass, call, total, level));
        }
        const at = `${kind}_c${level}`;
        const pick = (runs: Run[], figure: keyof Run) => runs.map((one) => one[figure]);
        out[`${at}_gated_calls_per_s`] = spread(pick(g, 'calls_per_s'));
        out[`${at}_bypass_calls_per_s`] = spread(pick(b, 'calls_per_s'));
        out[`${at}_throughput_ratio`] = ms(median(pick(g, 'calls_per_s')) / median(pick(b, 'calls_per_s')));
        out[`${at}_gated_p50_ms`] = spread(pick(g, 'p50_ms'), ms);
        out[`${at}_bypass_p50_ms`] = spread(pick(b, 'p50_ms'), ms);
        out[`${at}_gate_overhead_p50_ms`] = ms(median(pick(g, 'p50_ms')) - median(pick(b, 'p50_ms')));
        out[`${at}_gated_p99_ms`] = spread(pick(g, 'p99_ms'), ms);
        out[`${at}_bypass_p99_ms`] = spread(pick(b, 'p99_ms'), ms);
        out[`${at}_p50_ratio`] = ms(median(pick(g, 'p50_ms')) / median(pick(b, 'p50_ms')));
        out[`${at}_p99_ratio`] = ms(median(pick(g, 'p99_ms')) / median(pick(b, 'p99_ms')));
      }
      const g = await run(gated, call, 1, 1);
      const b = await run(bypass, call, 1, 1);
      out[`${kind}_gated_bytes_per_result`] = g.bytes;
      out[`${kind}_bypass_bytes_per_result`] = b.bytes;
      out[`${kind}_bytes_ratio`] = ms(g.bytes / b.bytes);
      // What a model is handed, counted as issue 13 counted it: the text plus the structuredContent JSON.
      const gm = await modelBytes(gated, kind === 'get_issue' ? BASELINE_CALL : call);
      const bm = await modelBytes(bypass, kind === 'get_issue' ? BASELINE_CALL : call);
      const at = kind === 'get_issue' ? 'get_issue_eng1' : kind;
      out[`${at}_model_bytes_gated`] = `${gm.total} (text ${gm.text} + structured ${gm.structured}; receipt in _meta, ${gm.meta} bytes)`;
      out[`${at}_model_bytes_bypass`] = bm.total;
      out[`${at}_model_bytes_ratio_vs_bypass`] = ms(gm.total / bm.total);
      if (kind === 'get_issue') out.get_issue_eng1_model_bytes_ratio_vs_issue_13 = `${ms(gm.total / ISSUE_13_GET_ISSUE_BYTES)} (of ${ISSUE_13_GET_ISSUE_BYTES})`;
    }
    out.peak_rss_vmhwm_gated_read_mb = memoryMb(gated.pid, 'VmHWM');
    out.peak_rss_vmhwm_bypass_read_mb = memoryMb(bypass.pid, 'VmHWM');
    out.targets = `get_issue_c8 gated >= 700 calls/s; get-issue model bytes <= 0.6 x ${ISSUE_13_GET_ISSUE_BYTES}; peak RSS (VmHWM) <= 100 MB`;
    return out;
  } finally {
    await world.close();
  }
}
