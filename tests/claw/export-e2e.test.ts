/**
 * The Claw export of a real run: the built read and write servers over stdio (tests/e2e harness), the Jira
 * simulator on loopback, real tool calls with a human approval; then seal, export-claw, validate against the
 * protocol's schemas with ajv, re-derive every hash and signature independently, verify with claw-jira's
 * implementation of the verifier's rules, and tamper. Needs `npm run build` (dist/bin).
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/bundle/contents.js';
import { verifyBundle } from '../../src/bundle/verify.js';
import { publicKeyFromDidKey } from '../../src/claw/did-key.js';
import { createEnvelope, envelopeSigner } from '../../src/claw/envelope.js';
import { buildClawPayloads, type GatewayEnvelope, type JsonObject } from '../../src/claw/export.js';
import { exportClawBundle } from '../../src/claw/export-files.js';
import { manifestAddress } from '../../src/claw/layout.js';
import { readRunId } from '../../src/claw/run-id.js';
import { verifyClawBundle } from '../../src/claw/verify-bundle.js';
import { clawHome } from '../../src/config/home.js';
import { loadSigningKey } from '../../src/keys/store.js';
import { TrustStore } from '../../src/keys/trust.js';
import { SIM_FIXTURES, startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { SERVER_BIN, World, callTool, stopServer } from '../e2e/harness.js';
import { PROOF_BUNDLE_ENVELOPE_SCHEMA, TRUST_PULSE_SCHEMA, protocolAjv } from './protocol-ajv.js';

const built = existsSync(SERVER_BIN.write) && existsSync(SERVER_BIN.read);
const JOB = 'job-claw';

type Envelope = JsonObject & { payload: JsonObject & { event_chain: JsonObject[]; tool_receipts: JsonObject[] } };

const sha256 = (text: string | Buffer): Buffer => createHash('sha256').update(text).digest();

describe.skipIf(!built)('Claw export of a real server run', () => {
  let sim: RunningSimulator;
  let world: World;
  let trust: TrustStore;
  let exported: string;
  let envelope: Envelope;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, seed: 42 });
    world = await World.create({ wpc: 'demo.json', sim, job: JOB });
    const read = await world.connect('read');
    const write = await world.connect('write');
    expect((await callTool(read, 'jira_get_issue', { issue_key: SIM_FIXTURES.issues.todo })).isError).toBe(false);
    const args = { project_key: 'ENG', issue_type: 'Task', summary: 'Claw export e2e' };
    const first = await callTool(write, 'jira_create_issue', args);
    expect(first.isError).toBe(true);
    const requestId = String((first.structured as { approval_request_id?: unknown }).approval_request_id);
    await world.cliOk(['approve', requestId, '--yes']);
    expect((await callTool(write, 'jira_create_issue', args)).isError).toBe(false);
    expect((await callTool(write, 'jira_transition_issue', { issue_key: SIM_FIXTURES.issues.todo, transition: 'Done' })).isError).toBe(true);
    await stopServer(read);
    await stopServer(write);
    trust = await TrustStore.load(join(world.home, 'trust.json'));
    // Before the seal: refused with a code, nothing written.
    const early = await world.cli(['bundle', 'export-claw', world.bundleDir]);
    expect(early.code).toBe(3);
    expect(early.err).toContain('CLAW_EXPORT_UNSEALED');
    expect(existsSync(join(world.bundleDir, 'claw'))).toBe(false);
    await world.cliOk(['bundle', 'seal', world.bundleDir]);
    exported = join(world.dir, 'bundle.json');
    await world.cliOk(['bundle', 'export-claw', world.bundleDir, '-o', exported]);
    envelope = JSON.parse(readFileSync(exported, 'utf8')) as Envelope;
  }, 120_000);
  afterAll(async () => {
    await world?.close();
    await sim?.close();
  });

  it('validates against the protocol schemas (proof bundle envelope v1, tool receipt v1, trust pulse v1)', () => {
    const ajv = protocolAjv();
    const bundleSchema = ajv.getSchema(PROOF_BUNDLE_ENVELOPE_SCHEMA);
    expect(bundleSchema?.(envelope), JSON.stringify(bundleSchema?.errors)).toBe(true);
    const toolSchema = ajv.getSchema('https://schemas.clawbureau.com/poh/tool_receipt.v1.json');
    for (const receipt of envelope.payload.tool_receipts) expect(toolSchema?.(receipt), JSON.stringify(toolSchema?.errors)).toBe(true);
    const pulse = JSON.parse(readFileSync(join(world.bundleDir, 'claw', 'trust-pulse.json'), 'utf8')) as { tools: { name: string; calls: number }[] };
    const pulseSchema = ajv.getSchema(TRUST_PULSE_SCHEMA);
    expect(pulseSchema?.(pulse), JSON.stringify(pulseSchema?.errors)).toBe(true);
    expect(pulse.tools).toEqual([
      { name: 'jira_create_issue', calls: 2 },
      { name: 'jira_get_issue', calls: 1 },
      { name: 'jira_transition_issue', calls: 1 },
    ]);
  });

  it('re-derives every hash and the signature independently, from the bundle files and the trust file', () => {
    // Signer: the receipt key of the trust file, as did:key.
    const receiptKey = trust.list('receipt')[0];
    expect(envelope.signer_did).toBe(receiptKey?.did);
    expect(Buffer.from(publicKeyFromDidKey(String(envelope.signer_did))).toString('base64url')).toBe(receiptKey?.publicJwk.x);
    // Payload hash: SHA-256 of JSON.stringify(payload); signature: Ed25519 over that hash string.
    const payloadHash = sha256(JSON.stringify(envelope.payload)).toString('base64url');
    expect(envelope.payload_hash_b64u).toBe(payloadHash);
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: receiptKey?.publicJwk.x ?? '' }, format: 'jwk' });
    expect(verify(null, Buffer.from(payloadHash), key, Buffer.from(String(envelope.signature_b64u), 'base64url'))).toBe(true);
    // Events: each receipt line's hash is an event payload hash; each event hash is over the fixed header.
    const lines = loadBundle(world.bundleDir).receipts.map((r) => Buffer.from(r.hash.slice(7), 'hex').toString('base64url'));
    const payloadHashes = envelope.payload.event_chain.map((e) => e.payload_hash_b64u);
    for (const line of lines) expect(payloadHashes).toContain(line);
    let prev: unknown = null;
    for (const e of envelope.payload.event_chain) {
      expect(e.prev_hash_b64u).toBe(prev);
      const header = JSON.stringify({ event_id: e.event_id, run_id: e.run_id, event_type: e.event_type, timestamp: e.timestamp, payload_hash_b64u: e.payload_hash_b64u, prev_hash_b64u: e.prev_hash_b64u });
      expect(e.event_hash_b64u).toBe(sha256(header).toString('base64url'));
      prev = e.event_hash_b64u;
    }
    // The run's anchor first (computable from job and run id alone), then one event per receipt.
    expect(envelope.payload.event_chain[0]).toMatchObject({ event_id: 'evt_run_start', event_type: 'run_start', prev_hash_b64u: null });
    expect(envelope.payload.event_chain).toHaveLength(lines.length + 2);
    // One approval event (the approval file's hash), one tool receipt per decision, args hash = the receipt's.
    expect(envelope.payload.event_chain.filter((e) => e.event_type === 'human_approval')).toHaveLength(1);
    const decisions = world.receipts().filter((r) => r.kind === 'decision');
    expect(envelope.payload.tool_receipts).toHaveLength(decisions.length);
    expect(envelope.payload.tool_receipts.map((t) => t.args_hash_b64u).sort()).toEqual(decisions.map((d) => Buffer.from(String(d.args_hash).slice(7), 'hex').toString('base64url')).sort());
  });

  it('records one run_id for the whole job, on every receipt from the first, in the export', () => {
    const runId = readRunId(clawHome(world.home), JOB);
    // Server receipts (the seal's own receipt is the bundle's, not the run's).
    const receipts = world.receipts().filter((r) => r.server !== 'seal');
    expect(receipts.length).toBeGreaterThan(5);
    expect(receipts[0]?.event?.type).toBe('server.start');
    expect(new Set(receipts.map((r) => r.run_id))).toEqual(new Set([runId]));
    expect(envelope.payload.event_chain.every((e) => e.run_id === runId)).toBe(true);
    expect((envelope.payload.metadata as { claw_jira: { run_id: string } }).claw_jira.run_id).toBe(runId);
  });

  it('passes claw-jira verify-claw and bundle verify (the claw step rebuilds the export from the sealed receipts)', async () => {
    const checked = await world.cli(['bundle', 'verify-claw', exported]);
    expect(checked.code, checked.out).toBe(0);
    expect(checked.out).toContain('PASS OK proof_tier=self');
    const verified = await world.cli(['bundle', 'verify', world.bundleDir, '--trust', join(world.home, 'trust.json')]);
    expect(verified.code, verified.out).toBe(0);
    expect(verified.out).toMatch(/✓ claw {2}1 Claw part\(s\), run run_/);
  });

  it('shows the Claw identifiers beside claw-jira\'s in the HTML report (did, run_id, policy_hash_b64u)', async () => {
    const out = join(world.dir, 'report.html');
    await world.cliOk(['bundle', 'report', world.bundleDir, '-o', out]);
    const page = readFileSync(out, 'utf8');
    const section = page.slice(page.indexOf('<section id="claw">'), page.indexOf('</section>', page.indexOf('<section id="claw">')));
    const runId = String(envelope.payload.event_chain[0]?.run_id);
    const wpc = world.wpcHash;
    expect(section).toContain(`<code class="did">${String(envelope.signer_did)}</code>`);
    expect(section).toContain(`<code class="run-id">${runId}</code>`);
    expect(section).toContain(`<code class="policy-hash">${Buffer.from(wpc.slice(7), 'hex').toString('base64url')}</code>`);
    expect(section).toContain(`<code>${wpc}</code>`);
    expect(section).toContain('<code>jira_create_issue</code> ×2');
  });

  it('names the reason code for one tampered byte: payload → HASH_MISMATCH, signature → SIGNATURE_INVALID', async () => {
    const text = readFileSync(exported, 'utf8');
    const reason = async (tampered: string): Promise<string> => {
      const file = join(world.dir, `tampered-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, tampered);
      const result = await world.cli(['bundle', 'verify-claw', file, '--json']);
      expect(result.code).toBe(1);
      return (JSON.parse(result.out) as { reason_code: string }).reason_code;
    };
    // One byte of a tool name inside the payload.
    expect(await reason(text.replace('"tool_name":"jira_get_issue"', '"tool_name":"jira_get_issuf"'))).toBe('HASH_MISMATCH');
    // One byte of the signature (first character; stays base64url).
    const sig = String(envelope.signature_b64u);
    expect(await reason(text.replace(sig, `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`))).toBe('SIGNATURE_INVALID');
    // An event hash changed and the envelope re-signed by the receipt key: the chain recompute names it.
    const key = await loadSigningKey(clawHome(world.home), 'receipt');
    const events = envelope.payload.event_chain.map((e, i) => (i === 1 ? { ...e, timestamp: '2020-01-01T00:00:00.000Z' } : e));
    const forged = createEnvelope('proof_bundle', { ...envelope.payload, event_chain: events }, envelopeSigner(key), { issuedAt: String(envelope.issued_at) });
    expect(await reason(JSON.stringify(forged))).toBe('HASH_MISMATCH');
  });

  it('catches an export re-signed with the right key but not made from the sealed receipts (bundle verify, claw step)', async () => {
    const copy = join(world.dir, 'copy-bundle');
    cpSync(world.bundleDir, copy, { recursive: true });
    const key = await loadSigningKey(clawHome(world.home), 'receipt');
    // Drop the denied transition's tool receipt: the export alone still passes the Claw rules.
    const tools = envelope.payload.tool_receipts.filter((t) => t.tool_name !== 'jira_transition_issue');
    const forged = createEnvelope('proof_bundle', { ...envelope.payload, tool_receipts: tools }, envelopeSigner(key), { issuedAt: String(envelope.issued_at) });
    expect(verifyClawBundle(forged).status).toBe('PASS');
    writeFileSync(join(copy, 'claw', 'proof-bundle.json'), `${JSON.stringify(forged)}\n`);
    const result = await verifyBundle(copy, { trust });
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => `${p.step}:${p.code}`)).toEqual(['claw:CLAW_EXPORT_MISMATCH']);
    // A Trust Pulse that claims fewer calls is caught the same way.
    cpSync(world.bundleDir, copy, { recursive: true });
    const pulsePath = join(copy, 'claw', 'trust-pulse.json');
    writeFileSync(pulsePath, readFileSync(pulsePath, 'utf8').replace('"calls":2', '"calls":1'));
    expect((await verifyBundle(copy, { trust })).problems.map((p) => p.code)).toEqual(['CLAW_TRUST_PULSE_MISMATCH']);
  });

  it('splits a run into parts that each pass, say which part they are, and still match the sealed bundle', async () => {
    const copy = join(world.dir, 'split-bundle');
    cpSync(world.bundleDir, copy, { recursive: true });
    const key = await loadSigningKey(clawHome(world.home), 'receipt');
    const result = await exportClawBundle(copy, { key, trust, maxEventsPerPart: 4 });
    const events = envelope.payload.event_chain.length;
    expect(result.verification).toHaveLength(Math.ceil(events / 4));
    expect(result.verification.every((v) => v.status === 'PASS')).toBe(true);
    const parts = result.files.filter((f) => f.includes('part-'));
    const last = JSON.parse(readFileSync(join(copy, parts.at(-1) as string), 'utf8')) as Envelope;
    const part = (last.payload.metadata as { claw_jira: { part: { index: number; count: number; previous_part_last_event_hash_b64u?: string } } }).claw_jira.part;
    expect(part.index).toBe(parts.length);
    expect(part.count).toBe(parts.length);
    expect(part.previous_part_last_event_hash_b64u).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(last.payload.event_chain[0]?.prev_hash_b64u).toBeNull();
    expect((await verifyBundle(copy, { trust })).ok).toBe(true);
  });

  describe('gateway receipts and side-effect receipts (pure builder over the sealed bundle)', () => {
    const gatewayEnvelope = async (binding: JsonObject): Promise<GatewayEnvelope> => {
      const gatewayKey = await loadSigningKey(clawHome(world.home), 'approver');
      const payload = {
        receipt_version: '1',
        receipt_id: 'rcpt_test',
        gateway_id: 'did:web:clawproxy.com',
        provider: 'anthropic',
        model: 'claude-test',
        request_hash_b64u: 'znFMvVUosicygIr9uAwLugv-vYW--WPViQLpMQ6daXI',
        response_hash_b64u: 'I-UgWdP2Vh8iGQumBflRpGs7RqcR0pDjlOXPSk4ylBY',
        tokens_input: 10,
        tokens_output: 0,
        latency_ms: 12,
        timestamp: '2026-02-12T00:00:00.000Z',
        binding,
      };
      // Key order as clawproxy writes it (not sorted): the export must keep it.
      return { line: 1, envelope: createEnvelope('gateway_receipt', payload, envelopeSigner(gatewayKey), { issuedAt: '2026-02-12T00:00:01.000Z' }) as unknown as JsonObject };
    };
    const build = async (gateway: GatewayEnvelope[], sideEffectReceipts = false, omitUnboundGateway = false) => {
      const key = await loadSigningKey(clawHome(world.home), 'receipt');
      return buildClawPayloads(loadBundle(world.bundleDir), gateway, {
        agentDid: envelopeSigner(key).did,
        sideEffectReceipts,
        omitUnboundGateway,
        manifestHash: manifestAddress(world.bundleDir),
      });
    };

    it('includes a clawproxy receipt bound with the run-id headers unchanged, and the bundle passes at gateway tier', async () => {
      // What a harness sends clawproxy while the job runs: X-Run-Id and X-Event-Hash from `claw-jira run-id`.
      const headers = JSON.parse((await world.cliOk(['run-id', JOB, '--json'])).out) as { run_id: string; event_hash_b64u: string };
      expect(headers.run_id).toBe(envelope.payload.event_chain[0]?.run_id);
      expect(headers.event_hash_b64u).toBe(envelope.payload.event_chain[0]?.event_hash_b64u);
      const bound = await gatewayEnvelope({ run_id: headers.run_id, event_hash_b64u: headers.event_hash_b64u, nonce: 'n1' });
      const line = JSON.stringify(bound.envelope);
      const { payloads } = await build([bound]);
      const payload = payloads[0] as JsonObject;
      expect(JSON.stringify((payload.receipts as unknown[])[0])).toBe(line);
      const key = await loadSigningKey(clawHome(world.home), 'receipt');
      const signed = createEnvelope('proof_bundle', payload, envelopeSigner(key), { issuedAt: String(envelope.issued_at) });
      const signer = String(bound.envelope.signer_did);
      expect(verifyClawBundle(signed, { gatewaySignerDids: [signer] })).toMatchObject({ status: 'PASS', proof_tier: 'gateway' });
      expect(verifyClawBundle(signed).reason_code).toBe('DEPENDENCY_NOT_CONFIGURED');
      expect(verifyClawBundle(signed, { gatewaySignerDids: ['did:key:z6MkfF4ykuxdK3Cea9xDqWgLLgMBvxcypy6Tv1K45Eahxy3m'] }).reason_code).toBe('RECEIPT_VERIFICATION_FAILED');
      const ajv = protocolAjv();
      expect(ajv.getSchema(PROOF_BUNDLE_ENVELOPE_SCHEMA)?.(signed)).toBe(true);
    });

    it('refuses a receipt bound to another run (or omits it on request)', async () => {
      const other = await gatewayEnvelope({ run_id: 'run_someone_else', event_hash_b64u: envelope.payload.event_chain[2]?.event_hash_b64u });
      await expect(build([other])).rejects.toMatchObject({ code: 'CLAW_EXPORT_GATEWAY_UNBOUND' });
      const omitted = await build([other], false, true);
      expect(omitted.omittedGateway).toBe(1);
      expect((omitted.payloads[0] as JsonObject).receipts).toBeUndefined();
    });

    it('side-effect and approval receipts need a gateway span: refused without one, PASS with one, orphaned when it is removed', async () => {
      await expect(build([], true)).rejects.toMatchObject({ code: 'CLAW_EXPORT_ORPHANED' });
      const runId = String(envelope.payload.event_chain[0]?.run_id);
      const withSpan = await gatewayEnvelope({ run_id: runId, event_hash_b64u: envelope.payload.event_chain[0]?.event_hash_b64u, span_id: 'span_llm_1' });
      const payload = (await build([withSpan], true)).payloads[0] as JsonObject;
      expect((payload.side_effect_receipts as JsonObject[]).map((s) => s.effect_class)).toEqual(['external_api_write']);
      expect((payload.human_approval_receipts as JsonObject[]).map((h) => h.approver_method)).toEqual(['cli_confirm']);
      const key = envelopeSigner(await loadSigningKey(clawHome(world.home), 'receipt'));
      const dids = [String(withSpan.envelope.signer_did)];
      const signed = createEnvelope('proof_bundle', payload, key, { issuedAt: String(envelope.issued_at) });
      expect(verifyClawBundle(signed, { gatewaySignerDids: dids }).status).toBe('PASS');
      expect(protocolAjv().getSchema(PROOF_BUNDLE_ENVELOPE_SCHEMA)?.(signed)).toBe(true);
      const { receipts: _gone, ...withoutGateway } = payload;
      const orphaned = createEnvelope('proof_bundle', withoutGateway, key, { issuedAt: String(envelope.issued_at) });
      expect(verifyClawBundle(orphaned, { gatewaySignerDids: dids }).reason_code).toBe('CAUSAL_SIDE_EFFECT_ORPHANED');
    });
  });
});
