import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startSimulator, SIM_FIXTURES, SIM_USERS } from '../sim/index.js';
import { receiptOf } from '../servers/output.js';
import { VERSION } from '../version.js';
import { approveCommand } from './admin-commands.js';
import { parseCommandArgs } from './args.js';
import { bundleCommands } from './bundle.js';
import { clawExportCommands } from './claw-commands.js';
import { initCommand, wpcSignCommand } from './core-commands.js';
import { cstIssueCommand } from './cst-commands.js';
import { dispatch } from './dispatch.js';
import { EXIT, type CliIo, type CommandSpec } from './io.js';

/** The bundled bins next to this file when it runs bundled (dist/bin), else the tsc output. */
function serverBin(bundled: string, unbundled: string): string {
  const sibling = fileURLToPath(new URL(`./${bundled}`, import.meta.url));
  return existsSync(sibling) ? sibling : fileURLToPath(new URL(unbundled, import.meta.url));
}
const SERVERS = {
  read: serverBin('claw-jira-read.mjs', '../servers/read.js'),
  write: serverBin('claw-jira-write.mjs', '../servers/write.js'),
};
const EXAMPLES = fileURLToPath(new URL('../../wpc-examples/', import.meta.url));
/** The commands the demo runs, through the same dispatcher as a terminal (not through main, which lists the demo). */
const DEMO_COMMANDS: readonly CommandSpec[] = [initCommand, wpcSignCommand, cstIssueCommand, approveCommand, ...bundleCommands, ...clawExportCommands];

interface Shown {
  isError: boolean;
  structured: Record<string, unknown>;
}

/**
 * `npm run demo`: the whole product end to end on one machine, with the real pieces: the simulator on
 * loopback, a fresh CLAW_HOME, a signed WPC, a CST, both servers spawned over stdio and driven by the
 * MCP SDK's client, a human approval, and a sealed, verified, reviewed proof bundle with its HTML report.
 */
export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'run the end-to-end demo: simulator, keys, signed WPC, CST, both servers over stdio, sealed proof bundle',
  usage: 'claw-jira demo [--out <dir>]',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, { out: { type: 'string' } });
    const started = Date.now();
    const dir = resolve(io.cwd, values.out ?? join('demo-output', new Date().toISOString().replace(/[:.]/g, '-')));
    const home = join(dir, 'home');
    const job = 'demo-job-1';
    mkdirSync(dir, { recursive: true });
    const env = { PATH: io.env.PATH ?? '', HOME: io.env.HOME ?? dir, CLAW_HOME: home };
    const step = (title: string) => io.out(`\n== ${title}`);
    const say = (text: string) => io.out(`   ${text}`);
    const cli = async (args: string[], quiet = false): Promise<{ code: number; out: string }> => {
      let out = '';
      const code = await dispatch(DEMO_COMMANDS, args, {
        out: (text) => {
          out += `${text}\n`;
        },
        err: (text) => {
          out += `${text}\n`;
        },
        env,
        cwd: dir,
      } satisfies CliIo);
      if (!quiet) for (const line of out.trimEnd().split('\n')) say(`| ${line}`);
      return { code, out };
    };

    step('1. Jira simulator on loopback');
    const sim = await startSimulator({ port: 0, seed: 42 });
    const clients: Client[] = [];
    try {
      say(`Jira Cloud REST v3 simulator at ${sim.url} (projects ${SIM_FIXTURES.projectKeys.join(', ')})`);

      step('2. claw-jira init: keys for policy, issuer, receipts, approver; trust file; local registry');
      await cli(['init']);

      step('3. Sign the WPC (the seed policy plus an approval rule for creates): hash-addressed, Ed25519-signed');
      const signed = await cli(['wpc', 'sign', join(EXAMPLES, 'demo.json')], true);
      const wpcHash = signed.out.trim().split('\n').pop() ?? '';
      say(`CLAW_WPC=${wpcHash}`);

      step('4. Issue a CST for this job (EdDSA, typ cst+jwt, pinned to the WPC, 15 min)');
      const tokenFile = join(dir, 'agent.cst');
      await cli(['cst', 'issue', '--wpc', wpcHash, '--job', job, '--sub', 'demo-agent', '--ttl', '900', '--out', tokenFile]);

      step('5. Spawn claw-jira-read and claw-jira-write over stdio (MCP SDK client)');
      const serverEnv = {
        ...env,
        CLAW_WPC: wpcHash,
        CLAW_JOB_ID: job,
        CLAW_CST_FILE: tokenFile,
        JIRA_BASE_URL: sim.url,
        JIRA_EMAIL: SIM_USERS.agent.email,
        JIRA_API_TOKEN: SIM_USERS.agent.apiToken,
      };
      const connect = async (which: 'read' | 'write') => {
        const transport = new StdioClientTransport({ command: SERVERS[which], args: [], env: serverEnv, stderr: 'ignore' });
        const client = new Client({ name: 'claw-jira-demo', version: VERSION });
        await client.connect(transport);
        clients.push(client);
        return client;
      };
      const read = await connect('read');
      const write = await connect('write');
      say(`jira-read tools:  ${(await read.listTools()).tools.map((tool) => tool.name).join(', ')}`);
      say(`jira-write tools: ${(await write.listTools()).tools.map((tool) => tool.name).join(', ')}`);
      const call = async (client: Client, name: string, args: Record<string, unknown>): Promise<Shown> => {
        const result = await client.callTool({ name, arguments: args });
        const structured = (result.structuredContent ?? {}) as Record<string, unknown>;
        const shown = { isError: result.isError === true, structured };
        say(`${name}(${JSON.stringify(args).slice(0, 110)})`);
        const receipt = receiptOf(result);
        say(shown.isError ? `  -> REFUSED ${String(structured.code)}: ${String(structured.message)}` : `  -> ok, receipt ${String(receipt).slice(0, 23)}… (in _meta)`);
        return shown;
      };

      step('6. Search (JQL confined to ENG, SEC) and get an issue');
      const search = await call(read, 'jira_search_issues', { jql: 'project = HR OR status = "To Do" ORDER BY created DESC', max_results: 5 });
      const searchData = search.structured.data as { jql_sent: string; issues: Array<{ key: string; project: string }> } | undefined;
      say(`  JQL sent to Jira: ${searchData?.jql_sent}`);
      say(`  results: ${searchData?.issues.map((issue) => issue.key).join(', ')} (HR asked for, none returned)`);
      await call(read, 'jira_get_issue', { issue_key: 'ENG-1' });

      step('7. Create an issue: the policy requires a human approval for creates');
      const createArgs = {
        project_key: 'ENG',
        issue_type: 'Task',
        summary: 'Rotate the staging TLS certificate',
        description: 'The staging certificate expires in **5 days**.\n\n- renew with the internal CA\n- deploy to the ingress',
        labels: ['ops', 'tls'],
      };
      const first = await call(write, 'jira_create_issue', createArgs);
      const requestId = String(first.structured.approval_request_id ?? '');
      say(`  a person approves exactly this call: claw-jira approve ${requestId} --yes`);
      await cli(['approve', requestId, '--yes', '--ttl', '300']);
      const created = await call(write, 'jira_create_issue', createArgs);
      const newKey = String((created.structured.data as { issue_key?: string } | undefined)?.issue_key ?? 'ENG-1');
      say(`  created ${newKey}; the same call again needs a new approval (single use):`);
      await call(write, 'jira_create_issue', createArgs);

      step('8. Comment on the new issue (Markdown in, ADF to Jira, read back)');
      await call(write, 'jira_add_comment', { issue_key: newKey, body: 'Renewal scheduled for **Thursday**; owner: platform team.' });

      step('9. Denied: a workflow transition (deny.operations) and an assignee write (deny.fields_write_denylist)');
      await call(write, 'jira_transition_issue', { issue_key: newKey, transition: 'Done' });
      await call(write, 'jira_create_issue', { project_key: 'ENG', issue_type: 'Task', summary: 'x', custom_fields: { assignee: SIM_USERS.agent.accountId } });

      step('10. A prompt-injected ticket: read as untrusted data; what it asks for is still refused');
      const injected = SIM_FIXTURES.injectionIssues[0] ?? 'ENG-7';
      const before = sim.stateHash();
      const got = await call(read, 'jira_get_issue', { issue_key: injected });
      const description = String(((got.structured.data as { fields?: Record<string, unknown> } | undefined)?.fields ?? {}).description ?? '');
      say(`  content_trust: ${String(got.structured.content_trust)}; the description says: "${description.replace(/\s+/g, ' ').slice(0, 120)}…"`);
      say('  the ticket asks to move every SEC issue to Done; the agent tries:');
      await call(write, 'jira_transition_issue', { issue_key: 'SEC-3', transition: 'Done' });
      say(`  Jira state unchanged by the injected request: ${sim.stateHash() === before}`);

      for (const client of clients.splice(0)) await client.close();

      const bundle = join(home, 'bundles', job);
      step(`11. Seal the proof bundle (${bundle})`);
      await cli(['bundle', 'seal', bundle]);
      step('12. Verify it offline against the trust file');
      const verified = await cli(['bundle', 'verify', bundle, '--trust', join(home, 'trust.json')]);
      step("12b. Export for Claw's verifier: a Clawsig proof bundle v1 signed by the receipt key as did:key, and its Trust Pulse");
      const clawFile = join(dir, 'claw-proof-bundle.json');
      const exported = await cli(['bundle', 'export-claw', bundle, '-o', clawFile]);
      const clawChecked = await cli(['bundle', 'verify-claw', clawFile]);
      step('13. Review: exceptions a human should look at');
      await cli(['bundle', 'review', bundle]);
      step('14. Report: one self-contained HTML page');
      const report = join(dir, 'report.html');
      await cli(['bundle', 'report', bundle, '-o', report]);

      io.out(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s. Bundle: ${bundle}\nReport: ${report}\nClaw bundle: ${clawFile}`);
      return verified.code === 0 && exported.code === 0 && clawChecked.code === 0 ? EXIT.ok : EXIT.failed;
    } finally {
      for (const client of clients) await client.close().catch(() => undefined);
      await sim.close();
    }
  },
};
