/** Seeded documents are valid ADF by Atlassian's own JSON schema, and the simulator rejects what it rejects. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { adfProblem } from '../../src/sim/adf.js';
import { startSimulator } from '../../src/sim/index.js';

const require = createRequire(import.meta.url);
const schemaPath = require.resolve('@atlaskit/adf-schema/dist/json-schema/v1/full.json');
const { $schema: _draft04, ...adfSchema } = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
// The schema declares draft-04 but uses nothing draft-07 reads differently; ajv 8 has no draft-04 meta-schema.
const validateAdf = new Ajv({ strict: false, allErrors: false }).compile(adfSchema);

describe('ADF', () => {
  it('every seeded description, comment and text custom field is valid ADF', async () => {
    const sim = await startSimulator({ seed: 99 });
    try {
      const docs = sim.snapshot().issues.flatMap((issue) => [
        ...(issue.description ? [{ where: `${issue.key} description`, doc: issue.description }] : []),
        ...issue.comments.map((c) => ({ where: `${issue.key} comment ${c.id}`, doc: c.body })),
        ...Object.entries(issue.custom)
          .filter(([, v]) => typeof v === 'object' && v !== null && 'type' in v)
          .map(([id, doc]) => ({ where: `${issue.key} ${id}`, doc })),
      ]);
      expect(docs.length).toBeGreaterThan(300);
      for (const { where, doc } of docs) {
        expect(validateAdf(doc), `${where}: ${JSON.stringify(validateAdf.errors?.slice(0, 3))}`).toBe(true);
        expect(adfProblem(doc)).toBeNull();
      }
    } finally {
      await sim.close();
    }
  });

  it.each([
    ['a plain string', 'hello'],
    ['a wrong root', { type: 'paragraph', content: [] }],
    ['a missing version', { type: 'doc', content: [] }],
    ['an unknown node', { type: 'doc', version: 1, content: [{ type: 'script', content: [] }] }],
    ['an empty text node', { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: '' }] }] }],
    ['a link without href', { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'x', marks: [{ type: 'link', attrs: {} }] }] }] }],
    ['a mention without id', { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'mention', attrs: {} }] }] }],
  ])('the simulator and Atlassian’s schema both reject %s', (_name, value) => {
    expect(adfProblem(value)).not.toBeNull();
    expect(validateAdf(value)).toBe(false);
  });
});
