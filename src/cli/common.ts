import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { clawHome, defaultAdminRoot, type ClawHome } from '../config/home.js';
import { settingPath } from '../config/paths.js';
import { loadSigningKey, loadTrust } from '../keys/store.js';
import type { KeyRole } from '../keys/roles.js';
import { ReceiptLog } from '../receipts/log.js';
import type { TrustStore } from '../keys/trust.js';
import { ClawError } from '../util/errors.js';
import { ensureDir } from '../util/files.js';
import { parseWpcJson, wpcDocument, type WpcDocument } from '../wpc/document.js';
import { WpcRegistry, isWpcAddress, registryBackend } from '../wpc/registry.js';
import { UsageError, type CliIo } from './io.js';

/**
 * A path setting as the CLI reads it: `~/` is the user's home, a relative path is relative to where the
 * command runs (a shell user means "here"). Refused spellings (`~other/`) stop the command with one line.
 */
export function cliPath(io: CliIo, name: string, value: string | undefined = io.env[name]): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const resolved = settingPath(value, { ...(io.env.HOME ? { home: io.env.HOME } : {}), cwd: io.cwd });
  if (!resolved.ok) throw new ClawError('PATH_INVALID', `${name} ${resolved.message}`);
  return resolved.path;
}

/** The server home (CLAW_HOME) and the admin home (CLAW_ADMIN_HOME or --admin-home, default a sibling of CLAW_HOME). */
export function homeOf(io: CliIo): ClawHome {
  const root = cliPath(io, 'CLAW_HOME') ?? resolve(io.cwd, '.claw');
  return clawHome(root, cliPath(io, 'CLAW_ADMIN_HOME') ?? defaultAdminRoot(root));
}

/**
 * `--admin-home DIR` works with every command that signs (init, wpc sign, cst issue/renew/revoke, approve,
 * writes): it is the same as CLAW_ADMIN_HOME for that one command. Arguments after `--` are left alone.
 */
export function liftAdminHome(argv: string[], io: CliIo): { argv: string[]; io: CliIo } {
  const rest: string[] = [];
  let admin: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === '--admin-home') {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('-')) throw new UsageError('--admin-home needs a folder');
      admin = value;
      i++;
    } else if (arg.startsWith('--admin-home=')) admin = arg.slice('--admin-home='.length);
    else rest.push(arg);
  }
  return { argv: rest, io: admin === undefined ? io : { ...io, env: { ...io.env, CLAW_ADMIN_HOME: admin } } };
}

export function readTextFile(io: CliIo, path: string, what: string): string {
  try {
    return readFileSync(resolve(io.cwd, path), 'utf8');
  } catch {
    throw new ClawError('FILE_UNREADABLE', `cannot read ${what} ${path}`);
  }
}

export function registryLocation(io: CliIo, home: ClawHome, flag: string | undefined): string {
  const named = flag ?? io.env.CLAW_REGISTRY;
  if (named === undefined || named.trim() === '') return home.registryDir;
  return /^https?:\/\//i.test(named.trim()) ? named.trim() : (cliPath(io, flag !== undefined ? '--registry' : 'CLAW_REGISTRY', named) as string);
}

export function trustFileOf(io: CliIo, home: ClawHome, flag?: string): string {
  return cliPath(io, '--trust', flag) ?? cliPath(io, 'CLAW_TRUST') ?? home.trustFile;
}

/**
 * A WPC given as a file (validated, not necessarily signed) or as an address (fetched from the registry and
 * fully verified). Commands that only read a policy accept both.
 */
export async function loadWpcArg(
  io: CliIo,
  home: ClawHome,
  arg: string,
  registryFlag?: string,
  trustFlag?: string,
): Promise<WpcDocument & { verified: boolean }> {
  if (isWpcAddress(arg) && !existsSync(resolve(io.cwd, arg))) {
    const trust = await loadTrust(home, trustFileOf(io, home, trustFlag));
    const registry = new WpcRegistry(registryBackend(registryLocation(io, home, registryFlag)), trust);
    return { ...(await registry.get(arg)), verified: true };
  }
  return { ...wpcDocument(parseWpcJson(readTextFile(io, arg, 'WPC file'))), verified: false };
}

export async function trustOf(io: CliIo, home: ClawHome, flag?: string): Promise<TrustStore> {
  return loadTrust(home, trustFileOf(io, home, flag));
}

/** Admin actions (revoke, kill switch, approve) are receipted in CLAW_HOME/admin, signed by the receipt key. */
export async function adminEvent(io: CliIo, home: ClawHome, event: { type: string; [key: string]: unknown }): Promise<string | undefined> {
  try {
    const key = await loadSigningKey(home, 'receipt');
    // Private like every other folder of the home (the log makes its own files inside it).
    ensureDir(`${home.root}/admin`);
    const log = ReceiptLog.open({ bundleDir: `${home.root}/admin`, job: 'admin', server: 'cli', key });
    try {
      return log.append({ kind: 'event', time: new Date().toISOString(), event: { ...event, by: io.env.USER ?? 'unknown' } }).hash;
    } finally {
      log.close();
    }
  } catch {
    io.err('warning: the admin action was applied but could not be receipted (no receipt key?)');
    return undefined;
  }
}

export function signingKey(home: ClawHome, role: KeyRole) {
  return loadSigningKey(home, role);
}

export function splitList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
