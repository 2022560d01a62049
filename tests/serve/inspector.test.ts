import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, World } from '../e2e/harness.js';
import { endpointToken, startServe, type RunningServe } from './harness.js';

const run = promisify(execFile);

/**
 * A third-party HTTP client: the MCP Inspector's CLI (1.0.3, as in tests/e2e/inspector.test.ts), fetched by
 * npx, talks Streamable HTTP to a running `claw-jira serve` with the CST in an Authorization header.
 */
describe('MCP Inspector CLI against claw-jira serve', () => {
  let world: World;
  let serve: RunningServe;
  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', job: 'inspector-http' });
    serve = await startServe(world);
  });
  afterAll(async () => {
    await serve?.stop();
    await world?.close();
  });

  /** `target`: the endpoint URL (Streamable HTTP), or `--config <file> --server <name>`. */
  async function inspector(target: string | string[], headers: string[], ...args: string[]): Promise<{ stdout: string; code: number }> {
    try {
      const { stdout } = await run(
        'npx',
        ['-y', '@modelcontextprotocol/inspector@1.0.3', '--cli', ...(typeof target === 'string' ? [target, '--transport', 'http'] : target), ...args, ...(headers.length ? ['--header', ...headers] : [])],
        { timeout: 150_000, maxBuffer: 10 * 1024 * 1024, env: { ...process.env, npm_config_loglevel: 'error' } },
      );
      return { stdout, code: 0 };
    } catch (error) {
      return { stdout: String((error as { stdout?: string }).stdout ?? ''), code: Number((error as { code?: number }).code ?? 1) };
    }
  }

  it('lists the read tools and calls one with the token as bearer; without it, is refused', { timeout: 180_000 }, async () => {
    const endpoint = `${serve.url}/mcp/read`;
    const auth = `Authorization: Bearer ${await endpointToken(world, endpoint)}`;
    const listed = await inspector(endpoint, [auth], '--method', 'tools/list');
    const tools = (JSON.parse(listed.stdout.slice(listed.stdout.indexOf('{'))) as { tools: Array<{ name: string }> }).tools.map((tool) => tool.name);
    expect(tools.sort()).toEqual(['jira_get_changelog', 'jira_get_comments', 'jira_get_issue', 'jira_get_server_status', 'jira_get_transitions', 'jira_search_issues']);
    const called = await inspector(endpoint, [auth], '--method', 'tools/call', '--tool-name', 'jira_get_issue', '--tool-arg', 'issue_key=ENG-1');
    const result = JSON.parse(called.stdout.slice(called.stdout.indexOf('{'))) as { structuredContent?: { data?: { key?: string } } };
    expect(result.structuredContent?.data?.key).toBe('ENG-1');
    expect((await inspector(endpoint, [], '--method', 'tools/list')).code).not.toBe(0);
  });

  it('mcp.json.example\'s inspector_http section, as a --config file, reaches the write endpoint with the bearer header', { timeout: 180_000 }, async () => {
    const section = JSON.parse(readFileSync(join(ROOT, 'mcp.json.example'), 'utf8')).inspector_http as { mcpServers: Record<string, { url: string }> };
    const config = join(world.dir, 'inspector.json');
    writeFileSync(config, JSON.stringify({ mcpServers: section.mcpServers }).replace(/https:\/\/gate\.example\.com/g, serve.url));
    const auth = `Authorization: Bearer ${await endpointToken(world, `${serve.url}/mcp/write`)}`;
    const listed = await inspector(['--config', config, '--server', 'jira-write'], [auth], '--method', 'tools/list');
    const tools = (JSON.parse(listed.stdout.slice(listed.stdout.indexOf('{'))) as { tools: Array<{ name: string }> }).tools.map((tool) => tool.name);
    expect(tools.sort()).toEqual(['jira_add_comment', 'jira_create_issue', 'jira_get_server_status']);
  });
});
