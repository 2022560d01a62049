import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_BIN, World } from './harness.js';

const run = promisify(execFile);

/**
 * A third-party MCP client: the MCP Inspector's CLI mode (1.0.3, the last release that runs on Node 20),
 * fetched by npx from the npm registry, spawns our built server over stdio and talks to it.
 */
describe('MCP Inspector CLI as a third-party client', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', job: 'inspector' });
  });
  afterAll(async () => world?.close());

  async function inspector(...args: string[]): Promise<unknown> {
    const env = world.serverEnv();
    const envArgs = Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
    const { stdout } = await run(
      'npx',
      ['-y', '@modelcontextprotocol/inspector@1.0.3', '--cli', ...envArgs, '--', SERVER_BIN.read, ...args],
      { timeout: 150_000, maxBuffer: 10 * 1024 * 1024, env: { ...process.env, npm_config_loglevel: 'error' } },
    );
    return JSON.parse(stdout.slice(stdout.indexOf('{')));
  }

  it('lists the read tools the seed WPC permits', { timeout: 180_000 }, async () => {
    const listed = (await inspector('--method', 'tools/list')) as { tools: Array<{ name: string; annotations?: { readOnlyHint?: boolean } }> };
    expect(listed.tools.map((tool) => tool.name).sort()).toEqual([
      'jira_get_changelog',
      'jira_get_comments',
      'jira_get_issue',
      'jira_get_transitions',
      'jira_search_issues',
    ]);
    expect(listed.tools.every((tool) => tool.annotations?.readOnlyHint === true)).toBe(true);
  });

  it('calls a tool and gets structured content', { timeout: 180_000 }, async () => {
    const result = (await inspector('--method', 'tools/call', '--tool-name', 'jira_get_issue', '--tool-arg', 'issue_key=ENG-1')) as {
      structuredContent?: { content_trust?: string; data?: { key?: string } };
      isError?: boolean;
    };
    expect(result.isError ?? false).toBe(false);
    expect(result.structuredContent?.content_trust).toBe('untrusted');
    expect(result.structuredContent?.data?.key).toBe('ENG-1');
  });
});
