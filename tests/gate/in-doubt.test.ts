/**
 * The one in-doubt classification, written by the gate as `outcome.in_doubt` and read by review as that flag:
 * a failed allowed call is in doubt exactly when Jira may have applied a write.
 */
import { describe, expect, it } from 'vitest';
import { isInDoubt } from '../../src/gate/in-doubt.js';
import { GateDenied } from '../../src/gate/denial.js';
import { readyOf, type ReadyParts } from '../../src/gate/ready.js';
import { JiraError } from '../../src/jira/errors.js';
import type { JiraExchange } from '../../src/receipts/types.js';

const get = (status: number | null): JiraExchange => ({ method: 'GET', path: '/rest/api/3/issue/10001', status, attempts: 1 });
const put = (status: number | null): JiraExchange => ({ method: 'PUT', path: '/rest/api/3/issue/10001', status, attempts: 1 });
const search = (status: number | null): JiraExchange => ({ method: 'POST', path: '/rest/api/3/search/jql', status, attempts: 1 });

describe('isInDoubt', () => {
  it('is in doubt when the client says Jira gave no complete answer to a write', () => {
    expect(isInDoubt(new JiraError('JIRA_TIMEOUT', 'timed out', { inDoubt: true }), [put(null)])).toBe(true);
    expect(isInDoubt(new JiraError('JIRA_UNAVAILABLE', '503', { inDoubt: true }), [put(503)])).toBe(true);
  });

  it('is in doubt when Jira accepted a write and what failed came after it (the read-back)', () => {
    expect(isInDoubt(new JiraError('JIRA_TIMEOUT', 'read-back timed out'), [put(204), get(null)])).toBe(true);
  });

  it('is in doubt when an unexpected error struck once a write was sent', () => {
    expect(isInDoubt(new TypeError('bug'), [put(null)])).toBe(true);
  });

  it('is not in doubt when nothing was written: a refused read, a search POST, a coded refusal before the write', () => {
    expect(isInDoubt(new JiraError('JIRA_NOT_FOUND', 'gone'), [get(404)])).toBe(false);
    expect(isInDoubt(new JiraError('JIRA_BAD_REQUEST', 'bad jql'), [search(200), search(400)])).toBe(false);
    expect(isInDoubt(GateDenied.of('TRANSITION_NOT_AVAILABLE', 'none'), [get(200)])).toBe(false);
    expect(isInDoubt(new TypeError('bug'), [get(200)])).toBe(false);
    expect(isInDoubt(new JiraError('JIRA_BAD_REQUEST', 'refused'), [put(400)])).toBe(false);
  });
});

describe('readyOf', () => {
  it('builds the record only when every part is there, else names what is missing', () => {
    const parts = Object.fromEntries(
      ['job', 'wpc', 'trust', 'verifier', 'jira', 'fields', 'log', 'budgets', 'approvals', 'killSwitch'].map((key) => [key, { key }]),
    ) as unknown as ReadyParts;
    expect('ready' in readyOf({ ...parts, scopeVerifier: undefined })).toBe(true);
    expect(readyOf({ ...parts, scopeVerifier: undefined, log: undefined, budgets: undefined })).toEqual({ missing: ['log', 'budgets'] });
  });
});
