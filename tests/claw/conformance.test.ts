import { describe, expect, it } from 'vitest';
import { verifyClawBundle } from '../../src/claw/verify-bundle.js';
import { readClawJson } from './schema-path.js';
import { protocolAjv } from './protocol-ajv.js';

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
