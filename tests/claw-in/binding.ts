import { loadBundle } from '../../src/bundle/contents.js';
import { buildChain, runIdOf } from '../../src/claw/export.js';

/**
 * The run id and anchor event hash the export chains this bundle with. In a real run `claw-jira run-id <job>`
 * prints exactly these (the servers stamp that run id on every receipt); the fixture's receipts carry none, so
 * the export's derived run id applies.
 */
export function exportBinding(dir: string): { run_id: string; event_hash_b64u: string } {
  const contents = loadBundle(dir);
  const runId = runIdOf(contents);
  return { run_id: runId, event_hash_b64u: (buildChain(contents, runId)[0] as { event: { event_hash_b64u: string } }).event.event_hash_b64u };
}
