import { buildChain, runIdOf } from '../claw/export.js';
import type { BundleContents } from './contents.js';
import type { ReviewException } from './review-types.js';

/**
 * Does each imported clawproxy receipt bind to this run? clawproxy copies `X-Run-Id` into `binding.run_id` and
 * `X-Event-Hash` into `binding.event_hash_b64u`; the Claw verifier counts a gateway receipt only when the run id
 * is the bundle's and the event hash is one of its chain's events (PROTOCOL.md §4), and fails the bundle otherwise.
 * A receipt without them was a model call nobody tied to this run; one naming another run or an unknown event
 * belongs elsewhere (or was edited).
 */
export function gatewayBindingExceptions(contents: BundleContents): ReviewException[] {
  const envelopes = contents.gateway.flatMap((g) => g.entries.filter((e) => e.receipt_id !== undefined).map((entry) => ({ file: g.path, entry })));
  if (envelopes.length === 0) return [];
  let runId: string;
  let events: Set<string>;
  try {
    runId = runIdOf(contents);
    events = new Set(buildChain(contents, runId).map((c) => c.event.event_hash_b64u));
  } catch {
    // Conflicting run ids: the export and verify name that; there is no one run to bind to.
    return [];
  }
  const out: ReviewException[] = [];
  for (const { file, entry } of envelopes) {
    const where = { file, line: entry.line };
    const id = (entry.receipt_id ?? '').slice(0, 80);
    const binding = entry.binding;
    if (binding?.run_id === undefined || binding.event_hash_b64u === undefined) {
      out.push({ severity: 'medium', code: 'GATEWAY_UNBOUND', message: `gateway receipt ${id} names no ${binding?.run_id === undefined ? 'run (X-Run-Id)' : 'event (X-Event-Hash)'}: nothing ties this model call to the run`, ...where });
    } else if (binding.run_id !== runId) {
      out.push({ severity: 'high', code: 'GATEWAY_BOUND_ELSEWHERE', message: `gateway receipt ${id} is bound to run ${binding.run_id.slice(0, 80)}, not this run (${runId})`, ...where });
    } else if (!events.has(binding.event_hash_b64u)) {
      out.push({ severity: 'high', code: 'GATEWAY_BOUND_ELSEWHERE', message: `gateway receipt ${id} names event ${binding.event_hash_b64u.slice(0, 64)}, which is not in this run's event chain`, ...where });
    }
  }
  return out;
}
