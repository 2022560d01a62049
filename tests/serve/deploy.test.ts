/**
 * The deployment recipes in deploy/ as shipped: the systemd unit passes `systemd-analyze verify` (and its
 * offline security score is in the "OK" band), the container recipe runs as a non-root user; in both, the
 * command line is one `claw-jira serve` accepts, with the settings the unit or image sets, and the only
 * writable place is the service's own home.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../src/cli/args.js';
import { loadServeOptions, SERVE_FLAG_SPEC } from '../../src/serve/options.js';
import { CLI_BIN, ROOT, World } from '../e2e/harness.js';
import { postgresUnavailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { endpointToken, httpClient, startServe } from './harness.js';

const UNIT = readFileSync(join(ROOT, 'deploy', 'claw-jira.service'), 'utf8');
const CONTAINERFILE = readFileSync(join(ROOT, 'deploy', 'Containerfile'), 'utf8');

/** Every value of a directive in the unit, in order. */
const directive = (name: string): string[] =>
  UNIT.split('\n')
    .filter((line) => line.startsWith(`${name}=`))
    .map((line) => line.slice(name.length + 1));

/** The unit's Environment= lines as variables (the form used here has no quoting). */
const unitEnv = (): Record<string, string> =>
  Object.fromEntries(directive('Environment').map((assignment) => [assignment.slice(0, assignment.indexOf('=')), assignment.slice(assignment.indexOf('=') + 1)]));

/** The arguments after `serve`, checked as the CLI checks them, with the settings given. */
function serveOptionsOf(argv: string[], env: Record<string, string>) {
  expect(argv.slice(0, 1)).toEqual(['serve']);
  const { values, positionals } = parseCommandArgs(argv.slice(1), SERVE_FLAG_SPEC);
  expect(positionals).toEqual([]);
  return loadServeOptions(values, env);
}

const systemdAnalyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;
if (!systemdAnalyze) process.stderr.write('tests/serve/deploy.test.ts: systemd-analyze checks skipped: not installed\n');

describe('deploy/claw-jira.service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'claw-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // verify checks that ExecStart's program exists: point it at the built CLI, as an install puts it in place.
  const installed = (unit: string) => {
    const file = join(dir, 'claw-jira.service');
    writeFileSync(file, unit.replace('/usr/local/bin/claw-jira', CLI_BIN));
    return file;
  };

  it.skipIf(!systemdAnalyze)('passes systemd-analyze verify without a warning; a misspelt directive does not', () => {
    const clean = spawnSync('systemd-analyze', ['verify', installed(UNIT)], { encoding: 'utf8' });
    expect(clean.status, clean.stderr).toBe(0);
    expect(clean.stderr.trim()).toBe('');
    const typo = spawnSync('systemd-analyze', ['verify', installed(UNIT.replace('ProtectSystem=strict', 'ProtectSystem=strictest'))], { encoding: 'utf8' });
    expect(typo.stderr).toContain('Failed to parse protect system value');
  });

  it.skipIf(!systemdAnalyze)('scores in the "OK" band of systemd-analyze security (offline)', () => {
    const result = spawnSync('systemd-analyze', ['security', '--offline=yes', installed(UNIT)], { encoding: 'utf8' });
    const score = /Overall exposure level for claw-jira\.service: ([\d.]+) (\w+)/.exec(result.stdout);
    expect(score, result.stdout + result.stderr).not.toBeNull();
    expect(score?.[2]).toBe('OK');
  });

  it('runs `claw-jira serve` with flags the CLI accepts, as its own user, writing only its home', () => {
    const [execStart] = directive('ExecStart');
    const [program, ...argv] = (execStart ?? '').split(' ');
    expect(program).toBe('/usr/local/bin/claw-jira');
    const env = unitEnv();
    const options = serveOptionsOf(argv, env);
    expect(options).toMatchObject({ host: '127.0.0.1', behindTlsProxy: true, publicUrl: 'https://gate.example.com' });
    expect(directive('User')).toEqual(['claw-jira']);
    for (const [name, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['UMask', '0077']]) {
      expect(directive(name as string), name).toEqual([value]);
    }
    expect(directive('ReadWritePaths')).toEqual([env.CLAW_HOME]);
    expect(directive('StateDirectory').map((name) => `/var/lib/${name}`)).toEqual([env.CLAW_HOME]);
    // The Jira credential arrives as a systemd credential file, never in the environment.
    expect(env.JIRA_API_TOKEN).toBeUndefined();
    expect(env.JIRA_API_TOKEN_FILE).toBe(`%d/${(directive('LoadCredential')[0] ?? '').split(':')[0]}`);
  });
});

describe('deploy/Containerfile', () => {
  const instruction = (name: string): string[] =>
    CONTAINERFILE.split('\n')
      .filter((line) => line.startsWith(`${name} `))
      .map((line) => line.slice(name.length + 1).trim());

  it('ends as a numeric non-root user and runs `claw-jira serve` with flags the CLI accepts', () => {
    const users = instruction('USER');
    const [uid] = (users[users.length - 1] ?? '').split(':');
    expect(Number(uid)).toBeGreaterThan(0);
    expect(JSON.parse(instruction('ENTRYPOINT')[0] ?? '[]')).toEqual(['claw-jira', 'serve']);
    const env = { CLAW_HOME: '/var/lib/claw-jira' };
    const options = serveOptionsOf(['serve', ...(JSON.parse(instruction('CMD')[0] ?? '[]') as string[])], env);
    expect(options).toMatchObject({ host: '0.0.0.0', behindTlsProxy: true, publicUrl: 'https://gate.example.com' });
    // The home is the volume (the root file system runs read-only); the credential is a mounted secret.
    expect(CONTAINERFILE).toMatch(/ENV CLAW_HOME=\/var\/lib\/claw-jira/);
    expect(JSON.parse(instruction('VOLUME')[0] ?? '[]')).toEqual(['/var/lib/claw-jira']);
    expect(CONTAINERFILE).toMatch(/JIRA_API_TOKEN_FILE=\/run\/secrets\/jira-api-token/);
    expect(CONTAINERFILE).not.toMatch(/JIRA_API_TOKEN=/);
  });
});

const unavailable = postgresUnavailable();

describe.skipIf(unavailable !== undefined)('deploy/postgres-roles.sql on a real PostgreSQL', () => {
  let db: TestPostgres;
  let world: World;
  beforeAll(async () => {
    db = await startPostgres();
    world = await World.create({ wpc: 'seed.json', job: 'job-roles' });
  });
  afterAll(async () => {
    await world?.close();
    db?.destroy();
  });

  const as = (url: string, role: string) => url.replace('postgres://claw@', `postgres://${role}@`);
  async function sql(url: string, text: string): Promise<void> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  }

  it('the migrate role applies the schema; serve runs as the runtime role, which cannot change the schema', { timeout: 120_000 }, async () => {
    const url = await db.createDatabase('claw_roles');
    await sql(url, readFileSync(join(ROOT, 'deploy', 'postgres-roles.sql'), 'utf8'));
    await world.cliOk(['db', 'migrate'], { ...world.baseEnv(), CLAW_STATE_URL: as(url, 'claw_migrate') });
    const runtime = as(url, 'claw_runtime');
    const serve = await startServe(world, { CLAW_STATE_URL: runtime });
    try {
      const client = await httpClient(`${serve.url}/mcp/read`, await endpointToken(world, `${serve.url}/mcp/read`));
      expect((await client.callTool({ name: 'jira_get_issue', arguments: { issue_key: 'ENG-1' } })).isError).not.toBe(true);
      await client.close();
    } finally {
      await serve.stop();
    }
    await world.cliOk(['writes', 'disable', '--reason', 'drill'], { ...world.baseEnv(), CLAW_STATE_URL: runtime });
    for (const statement of ['DROP TABLE claw_replay', 'CREATE TABLE claw_extra (x int)', 'ALTER TABLE claw_kill_switch ADD COLUMN y int', 'TRUNCATE claw_replay']) {
      await expect(sql(runtime, statement), statement).rejects.toMatchObject({ code: '42501' });
    }
  });
});
