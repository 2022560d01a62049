import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleContents } from '../bundle/contents.js';
import { html, type Html } from '../bundle/html.js';
import { BUNDLE } from '../bundle/layout.js';
import { didKeyFromJwkX } from './did-key.js';
import { addressToB64u, runIdOf } from './export.js';
import { listClawPartFiles, TRUST_PULSE_FILE } from './layout.js';

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The receipt keys the bundle's keys/trust.json lists, as kid and did:key (informative, like that file). */
function receiptKeys(dir: string): { kid: string; did: string }[] {
  const trust = readJson(join(dir, BUNDLE.trustFile));
  const keys = Array.isArray(trust?.keys) ? (trust.keys as { role?: unknown; kid?: unknown; jwk?: { x?: unknown } }[]) : [];
  return keys.flatMap((k) => {
    if (k.role !== 'receipt' || typeof k.kid !== 'string' || typeof k.jwk?.x !== 'string') return [];
    try {
      return [{ kid: k.kid, did: didKeyFromJwkX(k.jwk.x) }];
    } catch {
      return [];
    }
  });
}

/**
 * The report's "Claw identifiers" section: each claw-jira identifier beside the form Claw's tools use for
 * the same thing (did:key for the receipt key, the run_id, policy_hash_b64u for the WPC, the token hash in
 * base64url), and the export and Trust Pulse when `bundle export-claw` has written them. A view only: the
 * `claw` step of the verdict above is what checks the export.
 */
export function clawSection(contents: BundleContents): Html {
  let runId: string;
  try {
    runId = contents.receipts.length > 0 ? runIdOf(contents) : 'none';
  } catch {
    runId = 'conflicting run ids (see bundle verify)';
  }
  const parts = listClawPartFiles(contents.dir);
  const first = parts[0] ? readJson(join(contents.dir, parts[0])) : undefined;
  const pulse = readJson(join(contents.dir, TRUST_PULSE_FILE));
  const tools = Array.isArray(pulse?.tools) ? (pulse.tools as { name?: unknown; calls?: unknown }[]) : [];
  const rows: [string, Html | string, Html | string][] = [
    ['receipt key', html`${receiptKeys(contents.dir).map((k) => html`<code>${k.kid}</code> `)}`, html`${receiptKeys(contents.dir).map((k) => html`<code class="did">${k.did}</code> `)}`],
    ['job / run', html`<code>${contents.job ?? '?'}</code>`, html`<code class="run-id">${runId}</code>`],
    ...(contents.manifest?.wpcs ?? []).map((w): [string, Html, Html] => ['WPC', html`<code>${w.hash}</code>`, html`policy_hash_b64u <code class="policy-hash">${addressToB64u(w.hash)}</code>`]),
    ...(contents.manifest?.tokens ?? []).map((t): [string, Html, Html] => ['CST', html`jti <code>${t.jti}</code> <code>${t.token_hash}</code>`, html`token hash <code>${addressToB64u(t.token_hash)}</code>`]),
    ['export', parts.length > 0 ? html`${parts.map((p) => html`<code>${p}</code> `)}` : 'not exported', first ? html`signer <code>${String(first.signer_did)}</code> payload <code>${String(first.payload_hash_b64u)}</code>` : html`run <code>claw-jira bundle export-claw</code>`],
    ['Trust Pulse', pulse ? html`<code>${TRUST_PULSE_FILE}</code>` : 'none', html`${tools.map((t) => html`<code>${String(t.name)}</code> ×${String(t.calls)} `)}`],
  ];
  return html`<section id="claw"><h2>Claw identifiers</h2>
<table class="kv"><thead><tr><th></th><th>claw-jira</th><th>Claw (Clawsig protocol)</th></tr></thead><tbody>
${rows.map(([k, ours, theirs]) => html`<tr><th>${k}</th><td>${ours}</td><td>${theirs}</td></tr>`)}
</tbody></table></section>`;
}
