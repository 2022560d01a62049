import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { World, callTool } from './harness.js';

/** MCP elicitation as a stand-in for a signed approval: only where the WPC lists the operation. */
describe('approval by MCP elicitation for low-risk operations', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({
      wpc: {
        wpc_version: 'v1',
        tool: 'jira',
        allow: { projects: ['ENG'], operations: ['issue.get', 'issue.comment.create', 'issue.delete'] },
        approval: { operations: ['issue.comment.create'], elicitation: ['issue.comment.create'] },
      },
      job: 'elicit',
    });
  });
  afterAll(async () => world?.close());

  async function connectAnswering(answer: 'yes' | 'no') {
    const server = await world.connect('write', {}, { elicitation: {} });
    const asked: string[] = [];
    server.client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params.message);
      return answer === 'yes' ? { action: 'accept', content: { approve: true } } : { action: 'decline' };
    });
    return { server, asked };
  }

  it('asks the user with the exact call; yes runs it once and is receipted as an elicitation approval', async () => {
    const { server, asked } = await connectAnswering('yes');
    const result = await callTool(server, 'jira_add_comment', { issue_key: 'ENG-6', body: 'Confirmed by the user.' });
    expect(result.isError, result.text).toBe(false);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain('jira_add_comment');
    expect(asked[0]).toContain('Confirmed by the user.');
    const decision = world.receipts().find((receipt) => receipt.kind === 'decision' && receipt.tool === 'jira_add_comment' && receipt.decision?.effect === 'allow');
    expect(decision?.approval?.via).toBe('elicitation');
    await server.close();
  });

  it('no refuses the call with APPROVAL_DECLINED and changes nothing', async () => {
    const { server } = await connectAnswering('no');
    const before = world.sim.stateHash();
    const result = await callTool(server, 'jira_add_comment', { issue_key: 'ENG-6', body: 'Declined.' });
    expect(result.structured.code).toBe('APPROVAL_DECLINED');
    expect(world.sim.stateHash()).toBe(before);
    await server.close();
  });

  it('never elicits for a delete, even if the client would say yes', async () => {
    const { server, asked } = await connectAnswering('yes');
    const result = await callTool(server, 'jira_delete_issue', { issue_key: 'ENG-6' });
    expect(result.structured.code).toBe('APPROVAL_REQUIRED');
    expect(asked).toHaveLength(0);
    await server.close();
  });

  it('never elicits a high-risk operation, even from a WPC that (past lint) lists it', async () => {
    // `wpc sign` refuses such a policy, so sign it through the library, as an attacker with the policy key could.
    const { wpcDocument } = await import('../../src/wpc/document.js');
    const { signWpcHash } = await import('../../src/wpc/signature.js');
    const { LocalRegistryBackend } = await import('../../src/wpc/registry.js');
    const { loadSigningKey } = await import('../../src/keys/store.js');
    const { clawHome } = await import('../../src/config/home.js');
    const home = clawHome(world.home);
    const document = wpcDocument({
      wpc_version: 'v1',
      tool: 'jira',
      allow: { projects: ['ENG'], operations: ['issue.get', 'issue.delete'] },
      approval: { operations: ['issue.delete'], elicitation: ['issue.delete'] },
    });
    new LocalRegistryBackend(home.registryDir).put(document, await signWpcHash(document.hash, await loadSigningKey(home, 'policy')));
    const tokenFile = `${world.dir}/risky.cst`;
    await world.issueToken([], tokenFile, world.job, document.hash);
    const server = await world.connect('write', { CLAW_WPC: document.hash, CLAW_CST_FILE: tokenFile }, { elicitation: {} });
    let asked = 0;
    server.client.setRequestHandler(ElicitRequestSchema, async () => {
      asked++;
      return { action: 'accept', content: { approve: true } };
    });
    const before = world.sim.stateHash();
    const result = await callTool(server, 'jira_delete_issue', { issue_key: 'ENG-6' });
    expect(result.structured.code).toBe('APPROVAL_REQUIRED');
    expect(asked).toBe(0);
    expect(world.sim.stateHash()).toBe(before);
    await server.close();
  });

  it('a client without elicitation gets the signed-approval path', async () => {
    const server = await world.connect('write');
    const result = await callTool(server, 'jira_add_comment', { issue_key: 'ENG-6', body: 'No elicitation here.' });
    expect(result.structured.code).toBe('APPROVAL_REQUIRED');
    await server.close();
  });
});
