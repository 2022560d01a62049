/**
 * The policy's queries agree with decide(): what `cst issue` grants by default, what the tools call writable
 * and what review accepts as written are the same rules the decision applies, asked one question at a time.
 */
import { describe, expect, it } from 'vitest';
import { canElicit, needsApproval } from '../../src/policy/approval.js';
import { decide } from '../../src/policy/decide.js';
import { effectiveOperations, effectiveProjects, effectiveWritableFields } from '../../src/policy/effective.js';
import { fieldWriteVerdict, INHERENT_WRITE_FIELDS, isFieldWritable } from '../../src/policy/fields.js';
import { wpcScope } from '../../src/cst/issue.js';
import { ALWAYS_APPROVAL, OPERATIONS } from '../../src/wpc/operations.js';
import type { VerifiedWpc } from '../../src/wpc/registry.js';
import { WpcSchema } from '../../src/wpc/schema.js';

const wpc = WpcSchema.parse({
  wpc_version: 'v1',
  tool: 'jira',
  allow: {
    projects: ['ENG', 'OPS', 'SEC'],
    operations: ['issue.get', 'issue.update', 'issue.comment.create', 'workflow.transition', 'issue.create'],
    fields_write_allowlist: ['summary', 'labels', 'security'],
  },
  deny: { projects: ['SEC'], operations: ['issue.create'], fields_write_denylist: ['security'] },
  approval: { operations: ['issue.update'], elicitation: ['issue.update', 'issue.comment.create'] },
});
const verified = { policy: wpc, hash: `sha256:${'1'.repeat(64)}` } as unknown as VerifiedWpc;

describe('effective sets', () => {
  it('are allow minus deny, intersected with the token', () => {
    expect(effectiveProjects(wpc)).toEqual(['ENG', 'OPS']);
    expect(effectiveOperations(wpc)).not.toContain('issue.create');
    expect(effectiveWritableFields(wpc)).toEqual(['summary', 'labels']);
    expect(effectiveWritableFields(wpc, { operations: [], projects: [], fields_write: ['labels', 'priority'] })).toEqual(['labels']);
    expect(effectiveWritableFields(WpcSchema.parse({ wpc_version: 'v1', tool: 'jira' }))).toBeUndefined();
  });

  it("the default token scope is exactly the effective sets, and decide() allows every field in it", () => {
    const scope = wpcScope(verified);
    expect(scope).toEqual({ operations: effectiveOperations(wpc), projects: effectiveProjects(wpc), fields_write: ['summary', 'labels'] });
    for (const field of scope.fields_write ?? []) {
      expect(decide({ operation: 'issue.update', project: 'ENG', fieldsWrite: [field] }, wpc, scope).effect, field).toBe('allow');
    }
  });
});

describe('field writes', () => {
  it('isFieldWritable says what decide() says, field by field', () => {
    for (const field of ['summary', 'labels', 'security', 'priority']) {
      const decided = decide({ operation: 'issue.update', project: 'ENG', fieldsWrite: [field] }, wpc).effect === 'allow';
      expect(isFieldWritable(field, wpc), field).toBe(decided);
    }
  });

  it('a denylisted field is never written; an inherent one needs no allowlist entry; others need the allowlist', () => {
    expect(fieldWriteVerdict('issue.update', 'security', wpc)).toBe('denied');
    expect(fieldWriteVerdict('issue.update', 'priority', wpc)).toBe('not_allowed');
    expect(fieldWriteVerdict('issue.update', 'summary', wpc)).toBe('allowed');
    for (const [operation, fields] of Object.entries(INHERENT_WRITE_FIELDS)) {
      for (const field of fields ?? []) expect(fieldWriteVerdict(operation as keyof typeof INHERENT_WRITE_FIELDS, field, wpc), `${operation} ${field}`).toBe('allowed');
    }
    // Inherent to one operation only: a transition's status is not an update's.
    expect(fieldWriteVerdict('issue.update', 'status', wpc)).toBe('not_allowed');
  });
});

describe('approvals', () => {
  it('always for the fixed list, else when the WPC lists it; elicitation only where listed and never for the fixed list', () => {
    for (const operation of OPERATIONS) {
      expect(needsApproval(operation, wpc), operation).toBe(ALWAYS_APPROVAL.includes(operation) || operation === 'issue.update');
      expect(needsApproval(operation, undefined), operation).toBe(ALWAYS_APPROVAL.includes(operation));
    }
    expect(canElicit('issue.update', wpc)).toBe(true);
    expect(canElicit('issue.get', wpc)).toBe(false);
    for (const operation of ALWAYS_APPROVAL) {
      expect(canElicit(operation, { ...wpc, approval: { operations: [], elicitation: [operation], ttl_seconds: 600 } }), operation).toBe(false);
    }
  });
});
