/**
 * clawproxy receipts, natively: `bundle import-gateway` takes the envelopes exactly as clawproxy emits them
 * (JSONL, a JSON response carrying `_receipt_envelope`, an SSE stream's comment line), checks each against a
 * did:key allowlist, keeps its bytes, and `bundle review` names receipts that do not bind to the run. The real
 * receipt is the conformance fixture's (../shared/claw/schema, used by path). `bundle verify` checks gateway
 * receipts against the operator's own key set, never the bundle's copy (issue 8).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/bundle/contents.js';
import { reviewBundle, sealBundle, verifyBundle, loadGatewayKeys } from '../../src/bundle/index.js';
import { envelopeSigner, type EnvelopeSigner } from '../../src/claw/envelope.js';
import { sortKeysDeep, stringifyHashB64u } from '../../src/claw/hash.js';
import { clawproxyReceiptLine, exportBinding } from './binding.js';
import { bundleImportGatewayCommand, bundleReviewCommand, bundleVerifyCommand } from '../../src/cli/bundle.js';
import { generateSigningKey, signingKeyFromJwk } from '../../src/keys/ed25519.js';
import { readClawJson, CLAW_SCHEMA_DIR } from '../claw/schema-path.js';
import { buildBundle, copyBundle, makeEnv, type BuiltBundle, type Env } from '../bundle/fixture.js';
import { captureIo } from '../helpers/cli.js';

/** The real clawproxy-shaped receipt of the conformance vector, and the allowlist that vector verifies it with. */
const VECTOR = readClawJson<{ payload: { receipts: Array<Record<string, unknown>> } }>('fixtures/protocol-conformance/proof_bundle_pass.v1.json');
const REAL = VECTOR.payload.receipts[0] as Record<string, unknown>;
const ALLOWLIST = join(CLAW_SCHEMA_DIR, 'fixtures/protocol-conformance/allowlists.v1.json');
/** As clawproxy writes it: JSON.stringify of the envelope, keys in the order it built them. */
const REAL_LINE = JSON.stringify(REAL);

let env: Env;
let built: BuiltBundle;
let gateway: EnvelopeSigner;
let gatewayTrust: string;

function io() {
  return captureIo({ CLAW_HOME: env.home.root }, env.root);
}

function file(name: string, text: string): string {
  const path = join(env.root, name);
  writeFileSync(path, text);
  return path;
}

/** A receipt our own test gateway signs, as clawproxy would (payload keys in clawproxy's order). */
function receipt(id: string, binding?: Record<string, unknown>, signer: EnvelopeSigner = gateway): string {
  return clawproxyReceiptLine(signer, { id, timestamp: '2025-03-01T10:01:30.000Z', latency_ms: 812, ...(binding ? { binding } : {}) });
}

async function newSigner(): Promise<EnvelopeSigner> {
  return envelopeSigner(await signingKeyFromJwk((await generateSigningKey()).privateJwk));
}

beforeAll(async () => {
  env = await makeEnv();
  built = await buildBundle(env, 'job-claw-gw');
  gateway = await newSigner();
  gatewayTrust = file('gateway-trust.json', JSON.stringify({ config_version: '1', allowlists: { gateway_receipt_signer_dids: [gateway.did, ...readClawJson<{ gateway_receipt_signer_dids: string[] }>('fixtures/protocol-conformance/allowlists.v1.json').gateway_receipt_signer_dids] } }));
});
afterAll(() => env.cleanup());

describe('import-gateway: clawproxy envelopes', () => {
  it('refuses a tampered copy of the real receipt with a code, and imports nothing', async () => {
    const dir = copyBundle(env, built.dir, 'tampered');
    const payload = { ...(REAL.payload as Record<string, unknown>), model: 'gpt-cheap' };
    const changed = file('changed.jsonl', `${JSON.stringify({ ...REAL, payload })}\n`);
    const a = io();
    expect(await bundleImportGatewayCommand.run([dir, changed, '--trust', ALLOWLIST], a)).toBe(1);
    expect(a.stderr.join('\n')).toMatch(/GATEWAY_INVALID: changed\.jsonl:1: GATEWAY_HASH_MISMATCH: HASH_MISMATCH/);
    // The hash recomputed to match the change: now the signature fails.
    const rehashed = file('rehashed.jsonl', `${JSON.stringify({ ...REAL, payload, payload_hash_b64u: stringifyHashB64u(payload) })}\n`);
    const b = io();
    expect(await bundleImportGatewayCommand.run([dir, rehashed, '--trust', ALLOWLIST], b)).toBe(1);
    expect(b.stderr.join('\n')).toMatch(/rehashed\.jsonl:1: GATEWAY_BAD_SIGNATURE: SIGNATURE_INVALID/);
    // Re-sorted keys (same content, other JSON.stringify): the hash the verifier recomputes breaks.
    const sorted = file('sorted.jsonl', `${JSON.stringify(sortKeysDeep(REAL))}\n`);
    const c = io();
    expect(await bundleImportGatewayCommand.run([dir, sorted, '--trust', ALLOWLIST], c)).toBe(1);
    expect(c.stderr.join('\n')).toMatch(/GATEWAY_HASH_MISMATCH/);
    // A signer the allowlist does not name.
    const d = io();
    expect(await bundleImportGatewayCommand.run([dir, file('stranger.jsonl', `${REAL_LINE}\n`), '--signer-did', gateway.did], d)).toBe(1);
    expect(d.stderr.join('\n')).toMatch(/GATEWAY_UNKNOWN_KEY: signed by did:key:z6MkfF4y/);
    expect(existsSync(join(dir, 'gateway', 'claw-receipts.jsonl'))).toBe(false);
  });

  it('imports the real receipt byte for byte (JSONL), then a JSON response and an SSE stream; a replayed receipt is refused', async () => {
    const dir = copyBundle(env, built.dir, 'formats');
    const a = io();
    expect(await bundleImportGatewayCommand.run([dir, file('real.jsonl', `${REAL_LINE}\n`), '--trust', ALLOWLIST], a)).toBe(0);
    expect(a.text()).toBe('imported 1 gateway receipt(s) into gateway/claw-receipts.jsonl (keys: gateway/claw-receipts.jwks.json)');
    expect(readFileSync(join(dir, 'gateway', 'claw-receipts.jsonl'), 'utf8')).toBe(`${REAL_LINE}\n`);

    const second = receipt('rcpt_json_1');
    const response = `{"id":"msg_1","type":"message","content":[{"type":"text","text":"hi"}],"_receipt":{"version":"1.0"},"_receipt_envelope":${second}}`;
    expect(await bundleImportGatewayCommand.run([dir, file('response.json', response), '--trust', gatewayTrust], io())).toBe(0);
    const third = receipt('rcpt_sse_1');
    const sse = `event: message_start\ndata: {"type":"message_start"}\n\n:clawproxy_receipt_envelope_b64u=${Buffer.from(third).toString('base64url')}\n:clawproxy_receipt_b64u=${Buffer.from('{"version":"1.0"}').toString('base64url')}\n\n`;
    expect(await bundleImportGatewayCommand.run([dir, file('stream.sse', sse), '--trust', gatewayTrust], io())).toBe(0);
    expect(readFileSync(join(dir, 'gateway', 'claw-receipts.jsonl'), 'utf8')).toBe(`${REAL_LINE}\n${second}\n${third}\n`);

    const again = io();
    expect(await bundleImportGatewayCommand.run([dir, file('again.jsonl', `${second}\n`), '--trust', gatewayTrust], again)).toBe(1);
    expect(again.stderr.join('\n')).toMatch(/GATEWAY_DUPLICATE/);

    // On the timeline: the bundle's contents (report, review) read each receipt.
    const entries = loadBundle(dir).gateway.find((g) => g.path === 'gateway/claw-receipts.jsonl')?.entries ?? [];
    expect(entries.map((e) => [e.receipt_id, e.kid, e.time, e.model])).toEqual([
      ['rcpt_conformance_001', REAL.signer_did, '2026-02-12T00:00:00.000Z', 'claude-test'],
      ['rcpt_json_1', gateway.did, '2025-03-01T10:01:30.000Z', 'claude-sonnet-4'],
      ['rcpt_sse_1', gateway.did, '2025-03-01T10:01:30.000Z', 'claude-sonnet-4'],
    ]);
  });
});

describe('review: receipts that do not bind to the run', () => {
  it('names a receipt of another run, one without binding, and accepts one bound as `run-id` says', async () => {
    const dir = copyBundle(env, built.dir, 'binding');
    const binding = exportBinding(dir);
    const bound = receipt('rcpt_bound', { run_id: binding.run_id, event_hash_b64u: binding.event_hash_b64u, nonce: 'n1' });
    const unbound = receipt('rcpt_unbound');
    const wrongEvent = receipt('rcpt_wrong_event', { run_id: binding.run_id, event_hash_b64u: 'mo72_ab1UHvxY2DERZG2Tn12KNl2e_NSUrVDEQ5-Jds' });
    const source = file('mixed.jsonl', `${REAL_LINE}\n${bound}\n${unbound}\n${wrongEvent}\n`);
    expect(await bundleImportGatewayCommand.run([dir, source, '--trust', gatewayTrust], io())).toBe(0);
    const review = reviewBundle(dir);
    const gatewayFindings = review.exceptions.filter((e) => e.code.startsWith('GATEWAY_')).map((e) => [e.code, e.line]);
    expect(gatewayFindings).toEqual([
      ['GATEWAY_BOUND_ELSEWHERE', 1],
      ['GATEWAY_BOUND_ELSEWHERE', 4],
      ['GATEWAY_UNBOUND', 3],
    ]);
    const r = io();
    expect(await bundleReviewCommand.run([dir], r)).toBe(1);
    expect(r.text()).toMatch(/GATEWAY_BOUND_ELSEWHERE: gateway receipt rcpt_conformance_001 is bound to run run_conformance_001/);
  });
});

describe('verify: the operator\'s own gateway key set, never the bundle\'s copy (issue 8)', () => {
  it('a forged receipt whose signer was added to the bundle\'s key copy before the seal is named; the real ones verify', async () => {
    const dir = copyBundle(env, built.dir, 'forged');
    expect(await bundleImportGatewayCommand.run([dir, file('ok.jsonl', `${REAL_LINE}\n${receipt('rcpt_ok')}\n`), '--trust', gatewayTrust], io())).toBe(0);
    // Someone with write access to the unsealed bundle appends a receipt of his own gateway and lists its key.
    const forger = await newSigner();
    const receiptsFile = join(dir, 'gateway', 'claw-receipts.jsonl');
    writeFileSync(receiptsFile, `${readFileSync(receiptsFile, 'utf8')}${receipt('rcpt_forged', undefined, forger)}\n`);
    const copy = join(dir, 'gateway', 'claw-receipts.jwks.json');
    const jwks = JSON.parse(readFileSync(copy, 'utf8')) as { keys: unknown[] };
    const forgerKeys = await loadGatewayKeys(undefined, [forger.did]);
    writeFileSync(copy, JSON.stringify({ keys: [...jwks.keys, ...forgerKeys.jwks.keys] }));
    await sealBundle(dir, { key: env.keys.receipt });

    const own = await loadGatewayKeys(gatewayTrust);
    const result = await verifyBundle(dir, { trust: env.trust, gatewayTrust: own });
    expect(result.problems).toEqual([expect.objectContaining({ step: 'gateway', code: 'GATEWAY_UNKNOWN_KEY', file: 'gateway/claw-receipts.jsonl', line: 3 })]);
    expect(result.warnings.some((w) => w.includes(forger.did) && w.includes('informative only'))).toBe(true);
    // No key set of the verifier's own: no verdict on gateway receipts at all.
    const none = await verifyBundle(dir, { trust: env.trust });
    expect(none.problems.map((p) => p.code)).toEqual(['GATEWAY_TRUST_MISSING']);
  });

  it('the CLI defaults to $CLAW_HOME/gateway-trust.json, and --gateway-trust takes an allowlist', async () => {
    const dir = copyBundle(env, built.dir, 'default-trust');
    expect(await bundleImportGatewayCommand.run([dir, file('one.jsonl', `${REAL_LINE}\n`), '--trust', ALLOWLIST], io())).toBe(0);
    await sealBundle(dir, { key: env.keys.receipt });
    const without = io();
    expect(await bundleVerifyCommand.run([dir, '--trust', env.trustPath], without)).toBe(1);
    expect(without.text()).toMatch(/GATEWAY_TRUST_MISSING/);
    const flagged = io();
    expect(await bundleVerifyCommand.run([dir, '--trust', env.trustPath, '--gateway-trust', ALLOWLIST], flagged)).toBe(0);
    writeFileSync(join(env.home.root, 'gateway-trust.json'), readFileSync(ALLOWLIST));
    const byDefault = io();
    expect(await bundleVerifyCommand.run([dir, '--trust', env.trustPath], byDefault)).toBe(0);
    expect(byDefault.text()).toMatch(/^VERIFIED/m);
  });
});
