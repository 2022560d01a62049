import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';

/**
 * The ADF JSON schema shipped with @atlaskit/adf-schema (draft-04). Ajv 8 has no draft-04 meta-schema;
 * this schema uses no draft-04-only keyword (checked: no boolean exclusiveMinimum/Maximum, no `id`
 * keyword), so it compiles unchanged once the `$schema` pointer is dropped.
 */
export function adfValidator(): ValidateFunction {
  const path = createRequire(import.meta.url).resolve('@atlaskit/adf-schema/dist/json-schema/v1/full.json');
  const { $schema: _ignored, ...schema } = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  return new Ajv({ strict: false, allErrors: true }).compile(schema);
}
