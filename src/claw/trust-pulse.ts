import type { BundleContents } from '../bundle/contents.js';
import { sortKeysDeep } from './hash.js';

/**
 * Trust Pulse v1 (PROTOCOL.md §7): a self-reported, non-tier summary of the run: which tools were called how
 * often. claw-jira touches no files, so `files` is empty. Times are the first and last receipt of the run, and
 * `issued_at` the seal time, so the summary is as reproducible as the export it accompanies.
 */
export interface TrustPulse {
  trust_pulse_version: '1';
  trust_pulse_id: string;
  run_id: string;
  agent_did: string;
  issued_at: string;
  evidence_class: 'self_reported';
  tier_uplift: false;
  started_at?: string;
  ended_at?: string;
  duration_ms?: number;
  tools: { name: string; calls: number }[];
  files: { path: string; touches: number }[];
}

/** The schema allows at most 128 tools; claw-jira has far fewer, but a bundle could name more (unknown tools). */
const MAX_TOOLS = 128;

export function buildTrustPulse(contents: BundleContents, runId: string, agentDid: string): TrustPulse {
  const calls = new Map<string, number>();
  for (const { receipt } of contents.receipts) {
    if (receipt.kind !== 'decision' || typeof receipt.tool !== 'string' || receipt.tool === '') continue;
    const name = receipt.tool.slice(0, 128);
    calls.set(name, (calls.get(name) ?? 0) + 1);
  }
  const tools = [...calls.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, MAX_TOOLS)
    .map(([name, count]) => ({ name, calls: count }));
  const times = contents.receipts.map((r) => r.receipt.time).filter((t) => typeof t === 'string').sort();
  const started = times[0];
  const ended = times.at(-1);
  const duration = started && ended ? Date.parse(ended) - Date.parse(started) : undefined;
  return sortKeysDeep({
    trust_pulse_version: '1',
    trust_pulse_id: `tp_${runId}`,
    run_id: runId,
    agent_did: agentDid,
    issued_at: contents.manifest?.sealed_at ?? ended ?? new Date(0).toISOString(),
    evidence_class: 'self_reported',
    tier_uplift: false,
    ...(started ? { started_at: started } : {}),
    ...(ended ? { ended_at: ended } : {}),
    ...(duration !== undefined && Number.isFinite(duration) && duration >= 0 ? { duration_ms: duration } : {}),
    tools,
    files: [],
  });
}
