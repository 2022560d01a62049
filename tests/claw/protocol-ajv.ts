import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLAW_SCHEMA_DIR, readClawJson } from './schema-path.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** ajv over the protocol's own schemas: the cross-check for verify-shape.ts. */
export function protocolAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: false, validateSchema: false });
  addFormats(ajv);
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.json')) {
        const schema = readClawJson<{ $id?: string }>(path.slice(CLAW_SCHEMA_DIR.length + 1));
        if (schema.$id) ajv.addSchema(schema);
      }
    }
  };
  for (const dir of ['poh', 'auth', 'policy']) walk(join(CLAW_SCHEMA_DIR, dir));
  return ajv;
}

export const PROOF_BUNDLE_ENVELOPE_SCHEMA = 'https://schemas.clawbureau.org/claw.poh.proof_bundle_envelope.v1.json';
export const TRUST_PULSE_SCHEMA = 'https://schemas.clawbureau.org/claw.poh.trust_pulse.v1.json';
