/**
 * The claw-jira serve sections of mcp.json.example (`*_http`), rendered against a real `serve` process as
 * README says (the service URL, token files, deploy/cst-header), each given to its client: Claude Code
 * (`claude mcp add --transport http --header`, `add-json` with headersHelper, the `claude mcp list` health
 * check, a token renewed under it), OpenClaw (`openclaw config validate`, `openclaw mcp probe`), VS Code (its
 * documented mcp.json fields, then the entry's URL and headers over the SDK client) and the MCP Inspector
 * (tests/serve/inspector.test.ts). The agent side of every entry holds a token and nothing else.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATUS_TOOL_NAME } from '../../src/tools/status-tool.js';
import { ROOT, World } from '../e2e/harness.js';
import { serviceRefusals, startServe, type RunningServe } from '../serve/harness.js';
import { CLIENT_BIN, example, installed, serverEntries, type Section } from './example.js';

const run = promisify(execFile);
const HTTP_SECTIONS = ['claude_code_http', 'inspector_http', 'openclaw_http', 'vscode_http'];
const READ_TOOLS = ['jira_get_changelog', 'jira_get_comments', 'jira_get_issue', 'jira_get_transitions', 'jira_search_issues'];
const CST_HEADER = join(ROOT, 'deploy', 'cst-header');

interface Run {
  code: number;
  /** stdout then stderr. */
  out: string;
  stdout: string;
}

async function client(command: string, args: string[], env: Record<string, string>, cwd: string): Promise<Run> {
  try {
    const { stdout, stderr } = await run(command, args, { env, cwd, timeout: 150_000, maxBuffer: 8 * 1024 * 1024 });
    return { code: 0, out: `${stdout}${stderr}`, stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, out: `${failed.stdout ?? ''}${failed.stderr ?? ''}`, stdout: failed.stdout ?? '' };
  }
}

describe('mcp.json.example: the claw-jira serve entries', () => {
  it('has an HTTP section per client, each entry an endpoint URL and no key, credential or inline token', () => {
    const all = example();
    expect(Object.keys(all).filter((key) => key.endsWith('_http')).sort()).toEqual(HTTP_SECTIONS);
    for (const name of HTTP_SECTIONS) {
      const servers = serverEntries(all[name] as Section);
      expect(Object.keys(servers).sort(), name).toEqual(['jira-read', 'jira-write']);
      for (const [server, entry] of Object.entries(servers)) {
        expect(entry.url, `${name}.${server}`).toBe(`https://gate.example.com/mcp/${server === 'jira-read' ? 'read' : 'write'}`);
        const text = JSON.stringify(entry);
        // The agent host holds its CST only: no service setting, no Jira credential, no literal token.
        expect(text, `${name}.${server}`).not.toMatch(/CLAW_HOME|JIRA_(BASE_URL|EMAIL|API_TOKEN)|eyJ/);
        expect(entry.env, `${name}.${server}`).toBeUndefined();
      }
    }
  });
});

describe('each client connects the rendered HTTP entries to a running claw-jira serve', () => {
  let world: World;
  let serve: RunningServe;
  const tokenFiles = { read: '', write: '' };

  const endpoint = (server: 'read' | 'write') => `${serve.url}/mcp/${server}`;
  const tokenFor = (server: 'read' | 'write', file: string) => world.issueToken(['--aud', endpoint(server)], file);

  /** The edits README asks for: the service URL, the token files, where cst-header is installed. */
  const render = (name: string): Section => {
    const copied = Object.fromEntries(Object.entries(example()[name] ?? {}).filter(([key]) => !key.startsWith('_')));
    const text = JSON.stringify(copied)
      .replace(/https:\/\/gate\.example\.com/g, serve.url)
      .replace(/\/opt\/claw\/bin\/cst-header/g, CST_HEADER)
      .replace(/\/opt\/claw\/tokens\/read\.cst/g, tokenFiles.read)
      .replace(/\/opt\/claw\/tokens\/write\.cst/g, tokenFiles.write);
    if (/gate\.example|\/opt\/claw/.test(text)) throw new Error(`unrendered placeholder left in ${name}: ${text}`);
    return JSON.parse(text) as Section;
  };

  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', job: 'http-clients' });
    serve = await startServe(world);
    tokenFiles.read = join(world.dir, 'read.cst');
    tokenFiles.write = join(world.dir, 'write.cst');
    await tokenFor('read', tokenFiles.read);
    await tokenFor('write', tokenFiles.write);
  });
  afterAll(async () => {
    await serve?.stop();
    await world?.close();
  });

  it('deploy/cst-header prints the header from the token file, and refuses a file that holds no token', async () => {
    const printed = await client(CST_HEADER, [tokenFiles.read], { PATH: '/usr/bin:/bin' }, world.dir);
    expect(printed.code, printed.out).toBe(0);
    expect(JSON.parse(printed.out)).toEqual({ Authorization: `Bearer ${readFileSync(tokenFiles.read, 'utf8').trim()}` });
    const bad = join(world.dir, 'not-a-token.cst');
    writeFileSync(bad, 'eyJ"}, "X-Injected": "1');
    const refused = await client(CST_HEADER, [bad], { PATH: '/usr/bin:/bin' }, world.dir);
    expect(refused.code).not.toBe(0);
    expect(refused.out).not.toContain('X-Injected');
  });

  it('VS Code: the section fits the documented mcp.json fields; its URL and headers, inputs filled in, list the tools', async () => {
    const schema = JSON.parse(readFileSync(join(import.meta.dirname, 'vscode-mcp.schema.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const section = render('vscode_http') as { inputs: Array<{ id: string; password?: boolean }>; servers: Record<string, { url: string; headers: Record<string, string> }> };
    expect(validate(section), JSON.stringify(validate.errors)).toBe(true);
    expect(section.inputs.every((input) => input.password === true)).toBe(true);
    // The control: Claude Code's headersHelper is not a VS Code field.
    expect(validate({ servers: { x: { type: 'http', url: serve.url, headersHelper: 'cst-header' } } })).toBe(false);
    // VS Code does not run here: resolve ${input:…} as it does once the user has typed the token, then connect.
    const typed: Record<string, string> = { 'jira-read-cst': readFileSync(tokenFiles.read, 'utf8').trim(), 'jira-write-cst': readFileSync(tokenFiles.write, 'utf8').trim() };
    for (const [server, entry] of Object.entries(section.servers)) {
      const headers = Object.fromEntries(Object.entries(entry.headers).map(([key, value]) => [key, value.replace(/\$\{input:([^}]+)\}/g, (_, id: string) => typed[id] ?? '')]));
      const sdk = new Client({ name: 'vscode-stand-in', version: '1.0.0' });
      await sdk.connect(new StreamableHTTPClientTransport(new URL(entry.url), { requestInit: { headers } }));
      const names = (await sdk.listTools()).tools.map((tool) => tool.name).sort();
      expect(names, server).toEqual((server === 'jira-read' ? [...READ_TOOLS, STATUS_TOOL_NAME] : ['jira_add_comment', 'jira_create_issue', STATUS_TOOL_NAME]).sort());
      await sdk.close();
    }
  });

  describe.skipIf(!installed('claude'))('Claude Code', () => {
    const claudeEnv = (home: string): Record<string, string> => ({
      HOME: home,
      PATH: '/usr/bin:/bin',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
    });

    it('connects `mcp add --transport http --header` and the headersHelper entries; without a token, does not', { timeout: 360_000 }, async () => {
      const home = join(world.dir, 'claude-home');
      mkdirSync(home, { recursive: true });
      const env = claudeEnv(home);
      const fixed = await tokenFor('read', join(world.dir, 'fixed-read.cst'));
      const added = await client(CLIENT_BIN.claude, ['mcp', 'add', '--transport', 'http', '--scope', 'user', 'jira-read-fixed', endpoint('read'), '--header', `Authorization: Bearer ${fixed}`], env, world.dir);
      expect(added.code, added.out).toBe(0);
      for (const [server, entry] of Object.entries(serverEntries(render('claude_code_http')))) {
        const result = await client(CLIENT_BIN.claude, ['mcp', 'add-json', '--scope', 'user', server, JSON.stringify(entry)], env, world.dir);
        expect(result.code, result.out).toBe(0);
      }
      // The control: the same endpoint without a token.
      expect((await client(CLIENT_BIN.claude, ['mcp', 'add', '--transport', 'http', '--scope', 'user', 'jira-anonymous', endpoint('read')], env, world.dir)).code).toBe(0);

      const listed = await client(CLIENT_BIN.claude, ['mcp', 'list'], env, world.dir);
      expect(listed.code, listed.out).toBe(0);
      for (const name of ['jira-read-fixed', 'jira-read', 'jira-write']) expect(listed.out).toMatch(new RegExp(`^${name}: ${serve.url}/mcp/\\w+ \\(HTTP\\) - ✔ Connected$`, 'm'));
      expect(listed.out).toMatch(/^jira-anonymous: /m);
      expect(listed.out).not.toMatch(/^jira-anonymous: .*✔ Connected$/m);
      expect(serviceRefusals(world, 'CST_MISSING').length).toBeGreaterThan(0);

      // Renewal: the read token is revoked and its file rewritten with a fresh one. The helper runs at each
      // connection, so the entry stays connected; had it kept the old header, the service would answer CST_REVOKED.
      await world.cliOk(['cst', 'revoke', readFileSync(tokenFiles.read, 'utf8').trim(), '--reason', 'rotated']);
      await tokenFor('read', tokenFiles.read);
      const revokedBefore = serviceRefusals(world, 'CST_REVOKED').length;
      const renewed = await client(CLIENT_BIN.claude, ['mcp', 'list'], env, world.dir);
      expect(renewed.out).toMatch(new RegExp(`^jira-read: ${serve.url}/mcp/read \\(HTTP\\) - ✔ Connected$`, 'm'));
      expect(serviceRefusals(world, 'CST_REVOKED').length).toBe(revokedBefore);
    });
  });

  describe.skipIf(!installed('openclaw') || !installed('node24'))('OpenClaw', () => {
    const openclaw = async (args: string[], config: object, name: string, extraEnv: Record<string, string>): Promise<Run> => {
      const home = join(world.dir, `openclaw-${name}`);
      mkdirSync(home, { recursive: true });
      const file = join(home, 'openclaw.json');
      writeFileSync(file, JSON.stringify(config, null, 2));
      const env = { HOME: home, PATH: `${dirname(CLIENT_BIN.node24)}:/usr/bin:/bin`, OPENCLAW_CONFIG_PATH: file, OPENCLAW_STATE_DIR: join(home, 'state'), ...extraEnv };
      return client(CLIENT_BIN.openclaw, args, env, home);
    };

    it('`openclaw config validate` accepts the section; `openclaw mcp probe` lists the tools through toolFilter, an entry without the token none', { timeout: 300_000 }, async () => {
      const section = render('openclaw_http') as { mcp: { servers: Record<string, Record<string, unknown>> }; tools: unknown };
      // The tokens come from the Gateway's environment, as the section's `_where` says.
      const tokens = { CLAW_JIRA_READ_CST: readFileSync(tokenFiles.read, 'utf8').trim(), CLAW_JIRA_WRITE_CST: readFileSync(tokenFiles.write, 'utf8').trim() };
      const valid = await openclaw(['config', 'validate', '--json'], { mcp: section.mcp, tools: section.tools }, 'validate', tokens);
      expect(valid.code, valid.out).toBe(0);
      expect(JSON.parse(valid.out.slice(valid.out.indexOf('{'))) as { valid?: boolean }).toMatchObject({ valid: true });

      // The control, in the same probe (each takes OpenClaw some 25 s): the read entry without its header.
      const anonymous = { ...section.mcp.servers['jira-read'] };
      delete anonymous.headers;
      const config = { mcp: { servers: { ...section.mcp.servers, 'jira-anonymous': anonymous } }, tools: section.tools };
      const probe = await openclaw(['mcp', 'probe', '--json'], config, 'probe', tokens);
      const report = JSON.parse(probe.stdout.slice(probe.stdout.indexOf('{'))) as { tools?: string[]; diagnostics?: Array<{ serverName: string }> };
      const servers = section.mcp.servers;
      const include = (servers['jira-read']?.toolFilter as { include: string[] }).include;
      const exclude = (servers['jira-write']?.toolFilter as { exclude: string[] }).exclude;
      const expected = [
        ...[...READ_TOOLS, STATUS_TOOL_NAME].filter((tool) => include.includes(tool)).map((tool) => `jira-read__${tool}`),
        ...['jira_create_issue', 'jira_add_comment', STATUS_TOOL_NAME].filter((tool) => !exclude.includes(tool)).map((tool) => `jira-write__${tool}`),
      ];
      expect([...(report.tools ?? [])].sort(), probe.out).toEqual(expected.sort());
      expect(report.diagnostics?.map((diagnostic) => diagnostic.serverName)).toEqual(['jira-anonymous']);
      expect(serviceRefusals(world, 'CST_MISSING').length).toBeGreaterThan(0);
    });
  });
});
