import { stringifyHashB64u } from './hash.js';

/** One event of a Claw event chain (proof_bundle.v1 `event_chain` items), members in sorted order. */
export interface ClawEvent {
  event_hash_b64u: string;
  event_id: string;
  event_type: string;
  payload_hash_b64u: string;
  prev_hash_b64u: string | null;
  run_id: string;
  timestamp: string;
}

/** The event chain header hash, in the fixed key order the verifier recomputes it in (PROTOCOL.md §6.2). */
export function eventHash(event: Omit<ClawEvent, 'event_hash_b64u'>): string {
  return stringifyHashB64u({
    event_id: event.event_id,
    run_id: event.run_id,
    event_type: event.event_type,
    timestamp: event.timestamp,
    payload_hash_b64u: event.payload_hash_b64u,
    prev_hash_b64u: event.prev_hash_b64u,
  });
}

