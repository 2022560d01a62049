import { eventHash, type ClawEvent } from './event-chain.js';
import { stringifyHashB64u } from './hash.js';
import { runStartedAt } from './run-id.js';

/**
 * The first event of every Claw event chain claw-jira exports: `run_start`, computed from the job and the run
 * id alone (its time is the one the run id carries). Because nothing before it goes into its hash, a harness
 * knows its `event_hash_b64u` while the job runs (`claw-jira run-id <job>`) and sends it to clawproxy as
 * `X-Event-Hash`, with the run id as `X-Run-Id`: the gateway receipts then bind to this run's chain, which is
 * what the verifier checks (`binding.run_id` = the run, `binding.event_hash_b64u` in the chain).
 */
export function runAnchorEvent(job: string, runId: string, fallbackTime: string): ClawEvent {
  const header = {
    event_id: 'evt_run_start',
    run_id: runId,
    event_type: 'run_start',
    timestamp: runStartedAt(runId) ?? fallbackTime,
    payload_hash_b64u: stringifyHashB64u({ job, run_id: runId }),
    prev_hash_b64u: null,
  };
  return { ...header, event_hash_b64u: eventHash(header) };
}
