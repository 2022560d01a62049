/**
 * One JSON-RPC line over 10 MiB used to close the SDK's stdio transport, and the server then exited silently
 * with code 0. Over a real process: the line is refused with a JSON-RPC error naming its id, and the same
 * server answers the next request. A line that is not JSON gets a parse error, not silence.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../../src/servers/stdio-transport.js';
import { SERVER_BIN, World } from '../e2e/harness.js';

interface Reply {
  id: number | string | null;
  result?: { tools?: Array<{ name: string }>; structuredContent?: { code?: string } };
  error?: { code: number; message: string };
}

describe('an oversized JSON-RPC line over stdio', () => {
  let world: World;
  let child: ChildProcessWithoutNullStreams;
  let stderr = '';
  const replies: Reply[] = [];
  const waiters: Array<() => void> = [];
  let exited: number | null | undefined;

  const next = async (id: number | string | null): Promise<Reply> => {
    for (;;) {
      const found = replies.find((reply) => reply.id === id);
      if (found) return found;
      if (exited !== undefined) throw new Error(`the server exited with code ${exited} before answering id ${String(id)}; stderr: ${stderr}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const send = (message: object) => child.stdin.write(`${JSON.stringify(message)}\n`);

  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', job: 'oversized' });
    child = spawn(SERVER_BIN.read, [], { env: world.serverEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (let i = buffered.indexOf('\n'); i !== -1; i = buffered.indexOf('\n')) {
        replies.push(JSON.parse(buffered.slice(0, i)) as Reply);
        buffered = buffered.slice(i + 1);
        waiters.splice(0).forEach((wake) => wake());
      }
    });
    child.on('exit', (code) => {
      exited = code;
      waiters.splice(0).forEach((wake) => wake());
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    await next(1);
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  });
  afterAll(async () => {
    child?.kill();
    await world?.close();
  });

  it('refuses the line with a JSON-RPC error for its id and keeps serving', { timeout: 60_000 }, async () => {
    // The SDK client's own field order: method, params, then jsonrpc and id last.
    const huge = { method: 'tools/call', params: { name: 'jira_search_issues', arguments: { jql: 'x'.repeat(MAX_MESSAGE_BYTES + 1024) } }, jsonrpc: '2.0', id: 2 };
    send(huge);
    const refused = await next(2);
    expect(refused.error?.code).toBe(-32600);
    expect(refused.error?.message).toContain(`larger than ${MAX_MESSAGE_BYTES} bytes`);
    expect(stderr).toContain('refused a JSON-RPC message larger than');
    // The same process answers the next request.
    send({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
    const listed = await next(3);
    expect(listed.result?.tools?.map((tool) => tool.name)).toContain('jira_search_issues');
    expect(child.exitCode).toBeNull();
    // The refused call never reached the gate: no receipt names it.
    expect(world.receipts().filter((r) => r.kind === 'decision')).toEqual([]);
  });

  it('an id first in the line is answered too; a line that is not JSON gets a parse error', { timeout: 60_000 }, async () => {
    child.stdin.write(`{"jsonrpc":"2.0","id":"big-4","method":"tools/call","params":{"name":"x","arguments":{"a":"${'y'.repeat(MAX_MESSAGE_BYTES)}"}}}\n`);
    expect((await next('big-4')).error?.code).toBe(-32600);
    child.stdin.write('this is not json\n');
    expect((await next(null)).error?.code).toBe(-32700);
    send({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'jira_get_issue', arguments: { issue_key: 'ENG-1' } } });
    const called = await next(5);
    expect(called.error).toBeUndefined();
    expect(child.exitCode).toBeNull();
  });
});
