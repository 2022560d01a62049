/** The validator itself: it must reject what the spec rejects, or the contract tests prove nothing. */
import { describe, expect, it } from 'vitest';
import { SPEC_PATCHES, isDeprecated, jiraSpec, matchOperation, validateRequest, validateResponse } from './openapi.js';

describe('OpenAPI validator', () => {
  it('matches concrete paths to templates, preferring literal segments', () => {
    expect(matchOperation('GET', '/rest/api/3/project/search')?.operationId).toBe('searchProjects');
    expect(matchOperation('GET', '/rest/api/3/project/ENG')).toMatchObject({ operationId: 'getProject', params: { projectIdOrKey: 'ENG' } });
    expect(matchOperation('GET', 'https://x.atlassian.net/rest/api/3/issue/ENG-1?fields=summary')).toMatchObject({
      template: '/rest/api/3/issue/{issueIdOrKey}',
      params: { issueIdOrKey: 'ENG-1' },
    });
    expect(matchOperation('GET', '/rest/api/3/issue/createmeta/ENG/issuetypes')?.operationId).toBe('getCreateIssueMetaIssueTypes');
    expect(matchOperation('GET', '/rest/api/3/issue/{issueIdOrKey}/comment/{id}')?.operationId).toBe('getComment');
    expect(matchOperation('PATCH', '/rest/api/3/issue/ENG-1')).toBeNull();
    expect(matchOperation('GET', '/rest/api/3/nope')).toBeNull();
  });

  it('knows which operations are deprecated', () => {
    expect(isDeprecated('GET', '/rest/api/3/search')).toBe(true);
    expect(isDeprecated('POST', '/rest/api/3/search')).toBe(true);
    expect(isDeprecated('GET', '/rest/api/3/search/jql')).toBe(false);
    expect(isDeprecated('GET', '/rest/api/3/issue/createmeta')).toBe(true);
  });

  it('rejects wrong types, unknown properties where the schema forbids them, and bad $ref targets', () => {
    const ok = validateResponse('GET', '/rest/api/3/search/jql', 200, { issues: [{ id: '1', key: 'A-1', fields: {} }], isLast: true });
    expect(ok).toMatchObject({ valid: true, documented: true, checked: true, operationId: 'searchAndReconsileIssuesUsingJql' });
    const extra = validateResponse('GET', '/rest/api/3/search/jql', 200, { issues: [], isLast: true, total: 3 });
    expect(extra.valid).toBe(false);
    expect(extra.errors.join()).toContain('additional properties');
    const nested = validateResponse('GET', '/rest/api/3/search/jql', 200, { issues: [{ id: 1 }], isLast: true });
    expect(nested.errors.join()).toContain('/issues/0/id must be string');
  });

  it('handles nullable, and accepts Jira date-times with a +0000 offset but not garbage', () => {
    const comment = (created: string) => validateResponse('GET', '/rest/api/3/issue/A-1/comment/1', 200, { id: '1', created });
    expect(comment('2026-01-17T12:34:00.000+0000').valid).toBe(true);
    expect(comment('2026-01-17T12:34:00Z').valid).toBe(true);
    expect(comment('17/Jan/26 12:34').valid).toBe(false);
    expect(jiraSpec().validateSchema('Visibility', { type: 'role', value: 'x', identifier: null }).valid).toBe(true);
    expect(jiraSpec().validateSchema('Visibility', { type: 'robot', value: 'x' }).valid).toBe(false);
  });

  it('applies only the documented patches', () => {
    expect(SPEC_PATCHES.map((p) => p.schema)).toEqual(['ChangeDetails', 'User']);
    expect(jiraSpec().validateSchema('ChangeDetails', { field: 'status', from: null, toString: null }).valid).toBe(true);
    expect(jiraSpec().validateSchema('ChangeDetails', { field: 'status', from: 3 }).valid).toBe(false);
    expect(jiraSpec().validateSchema('ChangeDetails', { field: null }).valid).toBe(false);
  });

  it('reports undocumented statuses and unknown operations', () => {
    expect(validateResponse('GET', '/rest/api/3/issue/A-1', 418, {})).toMatchObject({ valid: false, documented: false });
    expect(validateResponse('GET', '/rest/api/3/nope', 200, {})).toMatchObject({ valid: false, documented: false, operationId: null });
    expect(validateResponse('PUT', '/rest/api/3/issue/A-1', 204, undefined)).toMatchObject({ valid: true, documented: true, checked: false });
  });

  it('validates request bodies', () => {
    expect(validateRequest('POST', '/rest/api/3/search/jql', { jql: 'project = A', maxResults: 10 }).valid).toBe(true);
    const bad = validateRequest('POST', '/rest/api/3/search/jql', { jql: 'project = A', startAt: 0 });
    expect(bad.valid).toBe(false);
    expect(validateRequest('POST', '/rest/api/3/issue', undefined)).toMatchObject({ valid: false, errors: ['a request body is required'] });
    expect(validateRequest('GET', '/rest/api/3/issue/A-1', { x: 1 }).valid).toBe(false);
    expect(validateRequest('PUT', '/rest/api/3/issue/A-1', { update: { labels: [{ add: 'x' }] } }).valid).toBe(true);
    expect(validateRequest('PUT', '/rest/api/3/issue/A-1', { update: { labels: [{ push: 'x' }] } }).valid).toBe(false);
  });
});
