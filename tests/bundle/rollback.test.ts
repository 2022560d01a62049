import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderRollbackMarkdown, rollbackPlan, sealBundle, type RollbackPlan } from '../../src/bundle/index.js';
import { bundleRollbackPlanCommand } from '../../src/cli/bundle.js';
import { buildBundle, makeEnv, type BuiltBundle, type Env } from './fixture.js';
import { captureIo } from '../helpers/cli.js';
import { startStub, type Stub } from '../helpers/stub.js';

let env: Env;
let built: BuiltBundle;

beforeAll(async () => {
  env = await makeEnv();
  built = await buildBundle(env, 'job-rb', { summary: 'New title with `ticks` and <b>markup</b>' });
  await sealBundle(built.dir, { key: env.keys.receipt });
});
afterAll(() => env.cleanup());

describe('bundle rollback-plan', () => {
  it('reverts each change newest first, from the recorded before-values', () => {
    const plan = rollbackPlan(built.dir);
    expect(plan.steps.map((s) => [s.order, s.issue, s.kind])).toEqual([
      [1, 'ENG-1', 'assign'],
      [2, 'ENG-1', 'transition'],
      [3, 'ENG-1', 'delete_comment'],
      [4, 'ENG-11', 'human_decision'],
      [5, 'ENG-10', 'human_decision'],
      [6, 'ENG-1', 'set_fields'],
    ]);
    const [assign, transition, comment, created, , fields] = plan.steps;
    expect(assign?.call).toEqual({ method: 'PUT', path: '/rest/api/3/issue/ENG-1/assignee', body: { accountId: null } });
    expect(transition).toMatchObject({ operation: 'workflow.transition', call: { method: 'POST', path: '/rest/api/3/issue/ENG-1/transitions' } });
    expect(transition?.revert).toEqual([{ field: 'status', from: { id: '3', name: 'In Progress' }, to: { id: '1', name: 'To Do' } }]);
    expect(comment).toMatchObject({ operation: null, call: { method: 'DELETE', path: '/rest/api/3/issue/ENG-1/comment/10001' } });
    expect(created).toMatchObject({ operation: 'issue.delete', call: { method: 'DELETE', path: '/rest/api/3/issue/ENG-11' } });
    expect(fields?.call).toEqual({ method: 'PUT', path: '/rest/api/3/issue/ENG-1', body: { fields: { summary: 'Old title', labels: ['a'] } } });
    expect(plan.wpc_suggestion).toMatchObject({
      allow: { projects: ['ENG'], operations: ['issue.assign', 'issue.delete', 'issue.update', 'workflow.transition'], fields_write_allowlist: ['labels', 'summary'] },
      approval: { operations: ['issue.assign', 'issue.delete', 'issue.update', 'workflow.transition'] },
    });
  });

  it('renders Markdown with every recorded value fenced, and JSON', async () => {
    const md = renderRollbackMarkdown(rollbackPlan(built.dir));
    expect(md).toContain('# Rollback plan for job `job-rb`');
    expect(md).toContain('## 1. `ENG-1`: assign');
    expect(md).toContain('PUT /rest/api/3/issue/ENG-1/assignee');
    // The hostile summary stays inside a code span longer than its own backticks.
    expect(md).toContain('``"New title with `ticks` and <b>markup</b>"``');
    expect(md).toContain('## Applying a plan');

    const io = captureIo({ CLAW_HOME: env.home.root }, env.root);
    expect(await bundleRollbackPlanCommand.run([built.dir, '--format', 'json'], io)).toBe(0);
    const json = JSON.parse(io.text()) as RollbackPlan;
    expect(json.steps).toHaveLength(6);
    expect(json.job).toBe('job-rb');
  });

  describe('--check-jira, against a Jira on a loopback socket', () => {
    let server: Stub;
    let base: string;
    const seen: string[] = [];
    beforeAll(async () => {
      server = await startStub((req, res) => {
        seen.push(`${req.method} ${req.url}`);
        const url = new URL(req.url ?? '/', 'http://x');
        const send = (status: number, body: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        };
        if (url.pathname === '/rest/api/3/issue/ENG-1') {
          return send(200, {
            id: '1',
            key: 'ENG-1',
            fields: { summary: 'Edited by a human later', labels: ['a', 'b'], status: { id: '3', name: 'In Progress' }, assignee: { accountId: 'acc-ann', displayName: 'Ann' } },
          });
        }
        if (url.pathname === '/rest/api/3/issue/ENG-1/transitions') {
          return send(200, { transitions: [{ id: '21', name: 'Done', to: { id: '5', name: 'Done' } }, { id: '11', name: 'Reopen', to: { id: '1', name: 'To Do' } }] });
        }
        if (url.pathname === '/rest/api/3/issue/ENG-11') return send(200, { id: '11', key: 'ENG-11', fields: { summary: 'Created ENG-11' } });
        return send(404, { errorMessages: ['Issue does not exist or you do not have permission to see it.'], errors: {} });
      });
      base = server.url;
    });
    afterAll(() => server.close());

    it('warns where an issue changed after the run and resolves the transition back', async () => {
      const io = captureIo({ CLAW_HOME: env.home.root, JIRA_BASE_URL: base, JIRA_EMAIL: 'bot@example.com', JIRA_API_TOKEN: 'tok-123' }, env.root);
      expect(await bundleRollbackPlanCommand.run([built.dir, '--format', 'json', '--check-jira'], io)).toBe(0);
      const plan = JSON.parse(io.text()) as RollbackPlan;
      const fields = plan.steps.find((s) => s.kind === 'set_fields');
      expect(fields?.warnings).toEqual([expect.stringContaining('ENG-1 summary changed after the run')]);
      expect(plan.steps.find((s) => s.kind === 'transition')?.call?.body).toEqual({ transition: { id: '11' } });
      expect(plan.steps.find((s) => s.kind === 'assign')?.warnings).toEqual([]);
      expect(plan.steps.find((s) => s.issue === 'ENG-10')?.warnings).toEqual(['ENG-10 no longer exists in Jira']);
      expect(plan.steps.find((s) => s.issue === 'ENG-11')?.warnings).toEqual([]);
      expect(seen.some((line) => line.startsWith('GET /rest/api/3/issue/ENG-1?'))).toBe(true);
      // Only reads: a plan is never applied by this command.
      expect(seen.every((line) => line.startsWith('GET '))).toBe(true);
      expect(io.text()).not.toContain('tok-123');
    });
  });
});
