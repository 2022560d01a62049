import { loadBundle } from '../../src/bundle/contents.js';
import { createEnvelope, type EnvelopeSigner } from '../../src/claw/envelope.js';
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

/** A gateway receipt envelope as clawproxy emits it (payload keys in clawproxy's order), one JSONL line, signed by `signer`. */
export function clawproxyReceiptLine(
  signer: EnvelopeSigner,
  receipt: { id: string; timestamp: string; latency_ms: number; binding?: Record<string, unknown> },
): string {
  const payload = {
    receipt_version: '1',
    receipt_id: receipt.id,
    gateway_id: 'did:web:clawproxy.com',
    provider: 'anthropic',
    model: 'claude-sonnet-4',
    request_hash_b64u: 'znFMvVUosicygIr9uAwLugv-vYW--WPViQLpMQ6daXI',
    response_hash_b64u: 'I-UgWdP2Vh8iGQumBflRpGs7RqcR0pDjlOXPSk4ylBY',
    tokens_input: 0,
    tokens_output: 0,
    latency_ms: receipt.latency_ms,
    timestamp: receipt.timestamp,
    ...(receipt.binding ? { binding: receipt.binding } : {}),
  };
  return JSON.stringify(createEnvelope('gateway_receipt', payload, signer, { issuedAt: receipt.timestamp }));
}
