/**
 * The MCP server factory in this process, over the SDK's in-memory transport, on a real gate: the listed tools
 * are exactly the permitted ones plus the status tool, and a call to a tool the policy hides still reaches the
 * gate and leaves a denial receipt (the reason the low-level Server is used). The stdio contract itself stays
 * with the e2e tests of the built bins.
 */
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gate } from '../../src/gate/gate.js';
import { createClawServer, watchToolList } from '../../src/servers/factory.js';
import { receiptOf } from '../../src/servers/output.js';
import { STATUS_TOOL_NAME } from '../../src/tools/status-tool.js';
import { WRITE_TOOLS } from '../../src/tools/write-tools.js';
import { GateWorld } from '../helpers/gate-world.js';

const WPC = {
  wpc_version: 'v1',
  tool: 'jira',
  allow: { projects: ['ENG'], operations: ['issue.get', 'issue.comment.create'], fields_write_allowlist: ['summary'] },
  deny: { operations: ['issue.delete'] },
};

let env: GateWorld;
let gate: Gate;
let client: Client;

beforeAll(async () => {
  env = await GateWorld.create(WPC, 'job-factory');
  gate = await env.open('jira-write');
  const server = createClawServer({ name: 'jira-write', tools: WRITE_TOOLS, executor: gate });
  const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  client = new Client({ name: 'factory-test', version: '1.0.0' });
  await client.connect(clientSide);
}, 60_000);
afterAll(async () => {
  await client?.close();
  await env?.close();
});

describe('createClawServer', () => {
  it('lists exactly the permitted tools and the status tool', async () => {
    const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
    expect(names).toEqual(['jira_add_comment', STATUS_TOOL_NAME].sort());
  });

  it('a call to a hidden tool reaches the gate: refused with the policy code and a denial receipt, nothing deleted', async () => {
    const before = env.sim.stateHash();
    const result = await client.callTool({ name: 'jira_delete_issue', arguments: { issue_key: 'ENG-6' } });
    expect(result.isError).toBe(true);
    const structured = result.structuredContent as { code: string; receipt: string };
    expect(structured.code).toBe('OPERATION_DENIED');
    expect(env.receipt(structured.receipt)?.decision).toMatchObject({ effect: 'deny', stage: 'policy' });
    expect(receiptOf(result)).toBe(structured.receipt);
    expect(env.sim.stateHash()).toBe(before);
  });

  it('an allowed call returns the data, and names its outcome receipt in _meta (not in what the model reads)', async () => {
    const result = await client.callTool({ name: 'jira_add_comment', arguments: { issue_key: 'ENG-6', body: 'from the factory test' } });
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as { receipt?: string; data: { comment_id: string } };
    expect(structured.receipt).toBeUndefined();
    expect(env.receipt(receiptOf(result))).toMatchObject({ kind: 'outcome', outcome: { status: 'succeeded' } });
    expect(structured.data.comment_id).toEqual(expect.any(String));
  });

  it('tells the client when the token stops permitting tools (polled at an injected interval)', async () => {
    let token: string | undefined = readFileSync(env.world.tokenFile, 'utf8').trim();
    const switchable = await env.open('jira-write', { tokens: { current: () => token } });
    const server = createClawServer({ name: 'jira-write', tools: WRITE_TOOLS, executor: switchable });
    const timer = await watchToolList(server, switchable, 10);
    const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const watcher = new Client({ name: 'watch-test', version: '1.0.0' });
    const changed = new Promise<void>((resolve) => watcher.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    await watcher.connect(clientSide);
    expect((await watcher.listTools()).tools.map((tool) => tool.name)).toContain('jira_add_comment');
    token = undefined;
    await changed;
    clearInterval(timer);
    expect((await watcher.listTools()).tools.map((tool) => tool.name)).toEqual([STATUS_TOOL_NAME]);
    await watcher.close();
  });
});
