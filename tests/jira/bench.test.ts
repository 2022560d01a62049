import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchClientOverhead } from '../../src/bench/client.js';
import { Secret } from '../../src/jira/secret.js';
import { json, startStub, type Stub } from '../helpers/stub.js';

// Shape only: numbers are for `npm run bench`, never asserted here.
describe('benchClientOverhead', () => {
  let stub: Stub;
  beforeAll(async () => {
    stub = await startStub((req, res) => {
      if (req.url.startsWith('/rest/api/3/project/search')) return json(res, 200, { startAt: 0, maxResults: 1, values: [{ id: '1', key: 'ABC', name: 'A' }] });
      if (req.url === '/rest/api/3/search/jql') return json(res, 200, { issues: [{ id: '10', key: 'ABC-1' }], isLast: true });
      if (req.url === '/rest/api/3/issue/ABC-1') return json(res, 200, { id: '10', key: 'ABC-1', fields: { summary: 's' } });
      return json(res, 404, { errorMessages: ['no'] });
    });
  });
  afterAll(() => stub.close());

  it('measures all three sides on the same issue and reports percentiles', async () => {
    const result = await benchClientOverhead(stub.url, { kind: 'bearer', token: new Secret('t0ken-bench') }, { iterations: 20, warmup: 2 });
    expect(Object.keys(result).sort()).toEqual(
      [
        'client_p50_us',
        'client_p99_us',
        'iterations',
        'operation',
        'overhead_vs_node_http_p50_us',
        'ratio_vs_fetch_p50',
        'ratio_vs_node_http_p50',
        'raw_fetch_p50_us',
        'raw_fetch_p99_us',
        'raw_node_http_p50_us',
        'raw_node_http_p99_us',
      ].sort(),
    );
    expect(result.iterations).toBe(20);
    expect(stub.requests.filter((r) => r.url === '/rest/api/3/issue/ABC-1')).toHaveLength(66);
    expect(stub.requests.every((r) => r.headers.authorization === 'Bearer t0ken-bench')).toBe(true);
  });
});
