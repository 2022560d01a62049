/**
 * Every section of mcp.json.example, rendered as README says (absolute paths, the WPC, the trust pin), is
 * accepted by its client's own validator and connects to the real servers over stdio against the simulator:
 * Claude Code (`claude mcp add-json`, `claude mcp list` health check, a project .mcp.json and its approval),
 * OpenClaw (`openclaw config validate`, `openclaw mcp probe`), VS Code (its documented mcp.json schema).
 * The clients come from .ci/install-clients; absent locally, those checks skip and say so.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_TOOLS } from '../../src/tools/read-tools.js';
import { WRITE_TOOLS } from '../../src/tools/write-tools.js';
import { STATUS_TOOL_NAME } from '../../src/tools/status-tool.js';
import { shebangOf } from '../../src/bench/servers.js';
import { World, toolNames } from '../e2e/harness.js';
import { CLIENT_BIN, example, installed, render, serverEntries, visitEnv, type Section } from './example.js';

const run = promisify(execFile);
const SECTIONS = ['claude_code', 'claude_desktop', 'vscode', 'openclaw'];

interface Run {
  code: number;
  out: string;
}

async function client(command: string, args: string[], env: Record<string, string>, cwd: string): Promise<Run> {
  try {
    const { stdout, stderr } = await run(command, args, { env, cwd, timeout: 120_000, maxBuffer: 8 * 1024 * 1024 });
    return { code: 0, out: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, out: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('mcp.json.example, as written', () => {
  it('has a section per client, each server with the trust pin, absolute paths and the node alternative', () => {
    const all = example();
    // The *_http sections are claw-jira serve's: tests/clients/http-entries.test.ts checks them.
    expect(Object.keys(all).filter((key) => !key.startsWith('_') && !key.endsWith('_http')).sort()).toEqual([...SECTIONS].sort());
    let nodeForms = 0;
    for (const name of SECTIONS) {
      const servers = serverEntries(all[name] as Section);
      expect(Object.keys(servers).sort(), name).toEqual(['jira-read', 'jira-write']);
      for (const [server, entry] of Object.entries(servers)) {
        const env = entry.env as Record<string, string>;
        expect(env.CLAW_TRUST_SHA256, `${name}.${server}`).toMatch(/^sha256:/);
        for (const variable of ['CLAW_HOME', 'CLAW_CST_FILE', 'JIRA_API_TOKEN_FILE']) expect(isAbsolute(env[variable] ?? ''), `${name}.${server}.${variable}`).toBe(true);
        expect(env.JIRA_API_TOKEN, 'no inline secret').toBeUndefined();
        const args = entry.args as string[];
        if (isAbsolute(String(entry.command))) {
          nodeForms++;
          // The node form passes the same V8 flags and environment as the shebang, or the memory figures do not hold.
          const shebang = shebangOf(new URL(`../../dist/bin/claw-${server}.mjs`, import.meta.url).pathname);
          expect(Object.keys(shebang.env).length, 'the shebang sets the malloc arenas').toBeGreaterThan(0);
          for (const [variable, value] of Object.entries(shebang.env)) expect(env[variable], `${name}.${server}.${variable}`).toBe(value);
          expect(args).toEqual([...shebang.flags, expect.stringMatching(new RegExp(`/dist/bin/claw-${server}\\.mjs$`))]);
        } else expect(entry.command).toBe(`claw-${server}`);
      }
    }
    expect(nodeForms).toBeGreaterThanOrEqual(4);
  });
});

describe('each client checks and connects the rendered entries', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', job: 'clients' });
  });
  afterAll(async () => world?.close());

  it('VS Code: the servers section fits the documented mcp.json schema, and a wrong key does not', () => {
    const schema = JSON.parse(readFileSync(join(import.meta.dirname, 'vscode-mcp.schema.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const { section } = render(world, 'vscode');
    const file = { servers: section.servers };
    expect(validate(file), JSON.stringify(validate.errors)).toBe(true);
    // The control: Claude's top-level key, or a server without its type, is refused.
    expect(validate({ mcpServers: section.servers })).toBe(false);
    const untyped = JSON.parse(JSON.stringify(file)) as { servers: Record<string, Record<string, unknown>> };
    delete untyped.servers['jira-read']?.type;
    expect(validate(untyped)).toBe(false);
  });

  it('VS Code: the rendered entries start servers that list the WPC\'s tools', async () => {
    // VS Code is not available here: the SDK client spawns each entry exactly as written (command, args, env).
    const { section, path } = render(world, 'vscode');
    for (const [server, entry] of Object.entries(serverEntries(section))) {
      const env = { ...(entry.env as Record<string, string>), PATH: path, HOME: world.dir };
      const connected = await world.connectCommand(String(entry.command), entry.args as string[], env);
      expect(await toolNames(connected), server).toEqual(server === 'jira-read'
        ? ['jira_get_changelog', 'jira_get_comments', 'jira_get_issue', 'jira_get_transitions', 'jira_search_issues']
        : ['jira_add_comment', 'jira_create_issue']);
      await connected.close();
    }
  });

  describe.skipIf(!installed('claude'))('Claude Code', () => {
    const claudeEnv = (home: string, path: string): Record<string, string> => ({
      HOME: home,
      PATH: path,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
    });

    it('accepts every entry with `claude mcp add-json` and its health check connects each one', { timeout: 240_000 }, async () => {
      const home = join(world.dir, 'claude-home');
      mkdirSync(home, { recursive: true });
      const added: string[] = [];
      for (const name of ['claude_code', 'claude_desktop']) {
        const { section, path } = render(world, name);
        for (const [server, entry] of Object.entries(serverEntries(section))) {
          const as = `${server}-${name === 'claude_code' ? 'code' : 'desktop'}`;
          const result = await client(CLIENT_BIN.claude, ['mcp', 'add-json', '--scope', 'user', as, JSON.stringify(entry)], claudeEnv(home, path), world.dir);
          expect(result.code, result.out).toBe(0);
          added.push(as);
        }
      }
      // The control: the validator is real.
      const bad = await client(CLIENT_BIN.claude, ['mcp', 'add-json', '--scope', 'user', 'bad', '{"type":"stdio","cmd":"x"}'], claudeEnv(home, render(world, 'claude_code').path), world.dir);
      expect(bad.code).not.toBe(0);
      const listed = await client(CLIENT_BIN.claude, ['mcp', 'list'], claudeEnv(home, render(world, 'claude_code').path), world.dir);
      expect(listed.code, listed.out).toBe(0);
      for (const as of added) expect(listed.out, listed.out).toMatch(new RegExp(`^${as}: .* - ✔ Connected$`, 'm'));
    });

    it('a project .mcp.json waits for approval; listing the servers in enabledMcpjsonServers connects them', { timeout: 240_000 }, async () => {
      const home = join(world.dir, 'claude-project-home');
      const project = join(world.dir, 'project');
      mkdirSync(home, { recursive: true });
      mkdirSync(project, { recursive: true });
      const { section, path } = render(world, 'claude_code');
      writeFileSync(join(project, '.mcp.json'), JSON.stringify({ mcpServers: section.mcpServers }, null, 2));
      const pending = await client(CLIENT_BIN.claude, ['mcp', 'list'], claudeEnv(home, path), project);
      expect(pending.out).toMatch(/^jira-read: .*Pending approval/m);
      expect(pending.out).toMatch(/^jira-write: .*Pending approval/m);
      mkdirSync(join(home, '.claude'), { recursive: true });
      writeFileSync(join(home, '.claude', 'settings.json'), JSON.stringify({ enabledMcpjsonServers: ['jira-read', 'jira-write'] }));
      const approved = await client(CLIENT_BIN.claude, ['mcp', 'list'], claudeEnv(home, path), project);
      expect(approved.out).toMatch(/^jira-read: .* - ✔ Connected$/m);
      expect(approved.out).toMatch(/^jira-write: .* - ✔ Connected$/m);
    });
  });

  describe.skipIf(!installed('openclaw') || !installed('node24'))('OpenClaw', () => {
    const openclaw = async (args: string[], config: object, name: string): Promise<Run> => {
      const home = join(world.dir, `openclaw-${name}`);
      mkdirSync(home, { recursive: true });
      const file = join(home, 'openclaw.json');
      writeFileSync(file, JSON.stringify(config, null, 2));
      // OpenClaw runs on Node >= 24.16; the servers it starts use the node named in their entry.
      const env = { HOME: home, PATH: `${dirname(CLIENT_BIN.node24)}:/usr/bin:/bin`, OPENCLAW_CONFIG_PATH: file, OPENCLAW_STATE_DIR: join(home, 'state') };
      return client(CLIENT_BIN.openclaw, args, env, home);
    };
    const configOf = (section: Section) => ({ mcp: section.mcp, tools: section.tools });

    it('`openclaw config validate` accepts the section, and refuses the old toolFilter.allow', { timeout: 120_000 }, async () => {
      const { section } = render(world, 'openclaw');
      const ok = await openclaw(['config', 'validate', '--json'], configOf(section), 'validate');
      expect(ok.code, ok.out).toBe(0);
      expect(JSON.parse(ok.out.slice(ok.out.indexOf('{'))) as { valid?: boolean }).toMatchObject({ valid: true });
      const old = configOf(section) as { mcp: { servers: Record<string, Record<string, unknown>> } };
      const wrong = JSON.parse(JSON.stringify(old)) as typeof old;
      (wrong.mcp.servers['jira-read'] as Record<string, unknown>).toolFilter = { allow: ['jira_get_issue'] };
      const refused = await openclaw(['config', 'validate', '--json'], wrong, 'validate-old');
      expect(refused.code).not.toBe(0);
      expect(refused.out).toContain('Unrecognized key: \\"allow\\"');
    });

    it('`openclaw mcp probe` starts both servers and lists their tools through toolFilter; a broken one lists the status tool', { timeout: 240_000 }, async () => {
      const { section } = render(world, 'openclaw');
      // A third copy of jira-read whose token file is missing: a server that is not ready still shows, in the
      // probe, the one tool that says why (one probe for all three: each takes OpenClaw some 25 s).
      const config = JSON.parse(JSON.stringify(configOf(section))) as { mcp: { servers: Record<string, { env: Record<string, string> }> } };
      const broken = JSON.parse(JSON.stringify(config.mcp.servers['jira-read'])) as { env: Record<string, string> };
      broken.env.CLAW_CST_FILE = join(world.dir, 'no-such-token.cst');
      config.mcp.servers['jira-broken'] = broken;
      const probe = await openclaw(['mcp', 'probe', '--json'], config, 'probe');
      expect(probe.code, probe.out).toBe(0);
      const report = JSON.parse(probe.out.slice(probe.out.indexOf('{'))) as { tools: string[] };
      const servers = serverEntries(section);
      const include = (servers['jira-read']?.toolFilter as { include: string[] }).include;
      const exclude = (servers['jira-write']?.toolFilter as { exclude: string[] }).exclude;
      // What the seed WPC lists, narrowed by the filters; the status tool is on both servers.
      const readListed = ['jira_search_issues', 'jira_get_issue', 'jira_get_comments', 'jira_get_changelog', 'jira_get_transitions', STATUS_TOOL_NAME];
      const writeListed = ['jira_create_issue', 'jira_add_comment', STATUS_TOOL_NAME];
      const expected = [
        ...readListed.filter((tool) => include.includes(tool)).map((tool) => `jira-read__${tool}`),
        ...writeListed.filter((tool) => !exclude.includes(tool)).map((tool) => `jira-write__${tool}`),
        `jira-broken__${STATUS_TOOL_NAME}`,
      ];
      expect([...report.tools].sort()).toEqual(expected.sort());
      // The filters name real tools of the right server.
      for (const tool of include) expect([...READ_TOOLS.map((t) => t.name), STATUS_TOOL_NAME]).toContain(tool);
      for (const tool of exclude) expect(WRITE_TOOLS.map((t) => t.name)).toContain(tool);
    });

  });
});

// Keep the env walker honest: it is what render() relies on to set the job.
it('visitEnv reaches every env block of a section', () => {
  let count = 0;
  visitEnv(example().openclaw, () => void count++);
  expect(count).toBe(2);
});
