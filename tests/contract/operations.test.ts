/** The operations the simulator serves are the spec's, and none of them is deprecated (bar the 410). */
import { describe, expect, it } from 'vitest';
import { SIM_OPERATIONS } from '../../src/sim/index.js';
import { jiraSpec } from './openapi.js';

describe('simulated operations', () => {
  it('exist in the spec under the same operationId', () => {
    for (const op of SIM_OPERATIONS) {
      const match = jiraSpec().matchOperation(op.method, op.path);
      expect(match, `${op.method} ${op.path}`).not.toBeNull();
      expect(match?.template).toBe(op.path);
      expect(match?.operationId).toBe(op.operationId);
    }
  });

  it('include no deprecated operation except the removed search, which is deprecated', () => {
    const deprecated = SIM_OPERATIONS.filter((op) => jiraSpec().isDeprecated(op.method, op.path));
    expect(deprecated.map((op) => `${op.method} ${op.path}`).sort()).toEqual(['GET /rest/api/3/search', 'POST /rest/api/3/search']);
    expect(deprecated.every((op) => op.removed)).toBe(true);
    expect(SIM_OPERATIONS.filter((op) => op.removed)).toHaveLength(2);
  });
});
