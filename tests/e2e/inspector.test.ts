import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiptOf } from '../../src/servers/output.js';
import { STATUS_TOOL_NAME } from '../../src/tools/status-tool.js';
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
    return inspectorOn(SERVER_BIN.read, ...args);
  }

  async function inspectorOn(bin: string, ...args: string[]): Promise<unknown> {
    const env = world.serverEnv();
    const envArgs = Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
    const { stdout } = await run(
      'npx',
      ['-y', '@modelcontextprotocol/inspector@1.0.3', '--cli', ...envArgs, '--', bin, ...args],
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
      'jira_get_server_status',
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

  it('writes through the write server: a comment lands in Jira with a receipt', { timeout: 180_000 }, async () => {
    const result = (await inspectorOn(SERVER_BIN.write, '--method', 'tools/call', '--tool-name', 'jira_add_comment', '--tool-arg', 'issue_key=ENG-1', '--tool-arg', 'body=from the inspector')) as {
      structuredContent?: { receipt?: string; data?: { comment_id?: string } };
      content?: Array<{ text?: string }>;
      isError?: boolean;
    };
    expect(result.isError ?? false).toBe(false);
    expect(typeof result.structuredContent?.data?.comment_id).toBe('string');
    // The text is the compact JSON of exactly the structured content: a client showing both shows it once.
    expect(result.content?.[0]?.text).toBe(JSON.stringify(result.structuredContent));
    expect(JSON.stringify(world.sim.snapshot())).toContain('from the inspector');
  });

  it('shows a denial with its code and only the rules that decided it', { timeout: 180_000 }, async () => {
    // The seed WPC denies transitions: the operation decides, so no "project unknown" rides along (it was never
    // looked up), and nothing reaches Jira.
    const before = world.sim.stateHash();
    world.sim.clearRequests();
    const result = (await inspectorOn(SERVER_BIN.write, '--method', 'tools/call', '--tool-name', 'jira_transition_issue', '--tool-arg', 'issue_key=ENG-1', '--tool-arg', 'transition=Done')) as {
      structuredContent?: { denied?: boolean; code?: string; reasons?: Array<{ code: string }>; receipt?: string };
      _meta?: Record<string, unknown>;
      isError?: boolean;
    };
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ denied: true, code: 'OPERATION_DENIED' });
    expect(result.structuredContent?.reasons?.map((reason) => reason.code)).toEqual(['OPERATION_DENIED', 'OPERATION_NOT_ALLOWED', 'SCOPE_OPERATION_NOT_GRANTED']);
    expect(typeof result.structuredContent?.receipt).toBe('string');
    expect(receiptOf(result)).toBe(result.structuredContent?.receipt);
    expect(world.sim.requests()).toEqual([]);
    expect(world.sim.stateHash()).toBe(before);
  });

  it('calls the status tool', { timeout: 180_000 }, async () => {
    const result = (await inspector('--method', 'tools/call', '--tool-name', STATUS_TOOL_NAME)) as { structuredContent?: { data?: { ready?: boolean; job?: string } } };
    expect(result.structuredContent?.data).toMatchObject({ ready: true, job: 'inspector' });
  });
});
