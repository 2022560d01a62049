/**
 * mcp.json.example rendered for a test world: the placeholders replaced by the world's real paths, WPC,
 * trust pin, simulator and API-token file, exactly the edits README asks a user to make. Nothing else changes.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { SIM_USERS } from '../../src/sim/index.js';
import { ROOT, type World } from '../e2e/harness.js';

export const EXAMPLE_FILE = join(ROOT, 'mcp.json.example');
/** Where .ci/install-clients puts Node 24, OpenClaw and Claude Code. */
export const CLIENTS_DIR = process.env.CLAW_CLIENTS_DIR ?? join(homedir(), '.cache', 'claw-jira-clients');
export const CLIENT_BIN = {
  claude: join(CLIENTS_DIR, 'claude', 'node_modules', '.bin', 'claude'),
  openclaw: join(CLIENTS_DIR, 'openclaw', 'node_modules', '.bin', 'openclaw'),
  node24: join(CLIENTS_DIR, 'node24', 'node_modules', 'node', 'bin', 'node'),
} as const;

export function installed(client: keyof typeof CLIENT_BIN): boolean {
  const present = existsSync(CLIENT_BIN[client]);
  if (!present) console.warn(`skipping the ${client} checks: ${CLIENT_BIN[client]} is not installed (run .ci/install-clients)`);
  return present;
}

export type Section = Record<string, unknown>;

export function example(): Record<string, Section> {
  return JSON.parse(readFileSync(EXAMPLE_FILE, 'utf8')) as Record<string, Section>;
}

export interface Rendered {
  section: Section;
  /** A PATH on which claw-jira-read / claw-jira-write and node resolve, as after a global install. */
  path: string;
}

/** The example's placeholders, and what a user puts there. */
function replacements(world: World, tokenFile: string): Array<[RegExp, string]> {
  const pin = `sha256:${createHash('sha256').update(readFileSync(join(world.home, 'trust.json'))).digest('hex')}`;
  return [
    [/\/usr\/local\/lib\/node_modules\/claw-jira\/dist\/bin/g, join(ROOT, 'dist', 'bin')],
    [/\/usr\/local\/bin\/node/g, process.execPath],
    [/\/opt\/claw\/home/g, world.home],
    [/\/opt\/claw\/tokens\/[A-Za-z0-9._-]+/g, world.tokenFile],
    [/\/opt\/claw\/secrets\/jira-api-token/g, tokenFile],
    [/sha256:<hex printed by [^"]*>/g, world.wpcHash],
    [/sha256:<hex of [^"]*>/g, pin],
    [/https:\/\/your-site\.atlassian\.net/g, world.sim.url],
    [/agent-bot@example\.com/g, SIM_USERS.agent.email],
  ];
}

export function render(world: World, name: string): Rendered {
  const tokenFile = join(world.dir, 'jira-api-token');
  if (!existsSync(tokenFile)) writeFileSync(tokenFile, SIM_USERS.agent.apiToken, { mode: 0o600 });
  // `_where` notes are for the reader, not part of what is copied into a client's file.
  const copied = Object.fromEntries(Object.entries(example()[name] ?? {}).filter(([key]) => !key.startsWith('_')));
  let text = JSON.stringify(copied);
  for (const [pattern, value] of replacements(world, tokenFile)) text = text.replace(pattern, value.replace(/\\/g, '\\\\'));
  if (/\/opt\/claw|<[^>]*>/.test(text)) throw new Error(`unrendered placeholder left in section ${name}: ${text}`);
  const section = JSON.parse(text) as Section;
  // The job is the user's choice; the world's token is issued for its own job.
  visitEnv(section, (env) => {
    if ('CLAW_JOB_ID' in env) env.CLAW_JOB_ID = world.job;
  });
  return { section, path: binPath(world) };
}

export function visitEnv(value: unknown, fn: (env: Record<string, string>) => void): void {
  if (typeof value !== 'object' || value === null) return;
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'env' && typeof inner === 'object' && inner !== null) fn(inner as Record<string, string>);
    else visitEnv(inner, fn);
  }
}

/** The server entries of a client's section (`mcpServers`, `servers` or `mcp.servers`). */
export function serverEntries(section: Section): Record<string, Record<string, unknown>> {
  const mcp = section.mcp as { servers?: unknown } | undefined;
  return (section.mcpServers ?? section.servers ?? mcp?.servers ?? {}) as Record<string, Record<string, unknown>>;
}

function binPath(world: World): string {
  const bin = join(world.dir, 'global-bin');
  if (!existsSync(bin)) {
    mkdirSync(bin);
    for (const server of ['read', 'write']) symlinkSync(join(ROOT, 'dist', 'bin', `claw-jira-${server}.mjs`), join(bin, `claw-jira-${server}`));
  }
  return [bin, dirname(process.execPath), '/usr/bin', '/bin'].join(':');
}
