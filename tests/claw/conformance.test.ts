import { describe, expect, it } from 'vitest';
import { verifyClawBundle } from '../../src/claw/verify-bundle.js';
import { join } from 'node:path';
import { CLAW_SCHEMA_DIR, readClawJson } from './schema-path.js';
import { protocolAjv } from './protocol-ajv.js';
import { runCliCaptured } from '../helpers/cli.js';

interface Vector {
  name: string;
  kind: string;
  path: string;
  expected: { valid: boolean; reason_code: string | string[] };
}
const manifest = readClawJson<{ vectors: Vector[] }>('fixtures/protocol-conformance/manifest.v1.json');
const allowlists = readClawJson<{ gateway_receipt_signer_dids: string[] }>('fixtures/protocol-conformance/allowlists.v1.json');
const proofVectors = manifest.vectors.filter((v) => v.kind === 'proof_bundle');

function vectorInput(v: Vector): Record<string, unknown> {
  return readClawJson(v.path.replace(/^packages\/schema\//, ''));
}

/** The vectors' own issue time is the clock (some carry expiries in early 2026). */
function pinnedClock(input: Record<string, unknown>): number {
  return Date.parse(typeof input.issued_at === 'string' ? input.issued_at : '2026-02-17T00:00:00.000Z');
}

describe("the protocol's proof-bundle conformance vectors", () => {
  it('covers every proof_bundle vector of the manifest (the other kinds are not proof bundles)', () => {
    expect(proofVectors.length).toBe(24);
    expect(new Set(manifest.vectors.map((v) => v.kind))).toEqual(new Set(['proof_bundle', 'export_bundle', 'commit_sig', 'aggregate_bundle']));
  });

  for (const vector of proofVectors) {
    it(`${vector.name}: ${vector.expected.valid ? 'passes' : `fails with ${String(vector.expected.reason_code)}`}`, () => {
      const input = vectorInput(vector);
      const result = verifyClawBundle(input, { gatewaySignerDids: allowlists.gateway_receipt_signer_dids, now: pinnedClock(input) });
      if (vector.expected.valid) {
        expect(result.reason, result.step).toBe('the proof bundle verifies');
        expect(result.status).toBe('PASS');
      } else {
        expect(result.status).toBe('FAIL');
        expect(vector.expected.reason_code).toContain(result.reason_code);
      }
    });
  }
});

describe('the shape step agrees with ajv on the vectors', () => {
  const ajv = protocolAjv();
  const validate = ajv.getSchema('https://schemas.clawbureau.org/claw.poh.proof_bundle_envelope.v1.json');
  for (const vector of proofVectors) {
    it(vector.name, () => {
      const input = vectorInput(vector);
      const ajvOk = validate?.(input) === true;
      const ours = verifyClawBundle(input, { gatewaySignerDids: allowlists.gateway_receipt_signer_dids, now: pinnedClock(input) });
      const oursSchemaOk = !(ours.status === 'FAIL' && (ours.step === 'schema' || ours.step === 'envelope'));
      expect(oursSchemaOk).toBe(ajvOk);
    });
  }
});

describe('claw-jira bundle verify-claw (the CLI over a vector)', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => runCliCaptured(args, { PATH: process.env.PATH ?? '', ...env }, CLAW_SCHEMA_DIR);
  const pass = 'fixtures/protocol-conformance/proof_bundle_pass.v1.json';

  it('needs a gateway allowlist for bound gateway receipts, from --config, --gateway-signer or GATEWAY_RECEIPT_SIGNER_DIDS', async () => {
    const none = await run(['bundle', 'verify-claw', pass, '--json']);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.out)).toMatchObject({ status: 'FAIL', reason_code: 'DEPENDENCY_NOT_CONFIGURED' });
    const config = await run(['bundle', 'verify-claw', pass, '--config', 'fixtures/protocol-conformance/clawverify.config.conformance.v1.json']);
    expect(config.code, config.out).toBe(0);
    expect(config.out).toContain('PASS OK proof_tier=gateway');
    const env = await run(['bundle', 'verify-claw', pass], { GATEWAY_RECEIPT_SIGNER_DIDS: allowlists.gateway_receipt_signer_dids.join(',') });
    expect(env.code).toBe(0);
    const wrong = await run(['bundle', 'verify-claw', pass, '--gateway-signer', 'did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7', '--json']);
    expect(JSON.parse(wrong.out)).toMatchObject({ reason_code: 'RECEIPT_VERIFICATION_FAILED', step: 'gateway_receipts' });
  });

  it('refuses a raw payload (the reference would PASS it unsigned) and an unreadable config', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'claw-raw-'));
    const vector = readClawJson<{ payload: unknown }>(pass);
    writeFileSync(join(dir, 'raw.json'), JSON.stringify(vector.payload));
    const raw = await run(['bundle', 'verify-claw', join(dir, 'raw.json'), '--json']);
    expect(JSON.parse(raw.out)).toMatchObject({ status: 'FAIL', reason_code: 'MALFORMED_ENVELOPE', step: 'envelope' });
    writeFileSync(join(dir, 'bad-config.json'), '{"version": 1, "trusted_signer_dids": []}');
    const bad = await run(['bundle', 'verify-claw', pass, '--config', join(dir, 'bad-config.json')]);
    expect(bad.code).toBe(3);
    expect(bad.err).toContain('CLAW_CONFIG_INVALID');
  });
});
