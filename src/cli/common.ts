import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { clawHomeFromEnv, type ClawHome } from '../config/home.js';
import { loadSigningKey, loadTrust } from '../keys/store.js';
import type { KeyRole } from '../keys/roles.js';
import { ReceiptLog } from '../receipts/log.js';
import type { TrustStore } from '../keys/trust.js';
import { ClawError } from '../util/errors.js';
import { parseWpcJson, wpcDocument, type WpcDocument } from '../wpc/document.js';
import { WpcRegistry, isWpcAddress, registryBackend } from '../wpc/registry.js';
import type { CliIo } from './io.js';

export function homeOf(io: CliIo): ClawHome {
  return clawHomeFromEnv({ ...io.env, CLAW_HOME: io.env.CLAW_HOME ? resolve(io.cwd, io.env.CLAW_HOME) : resolve(io.cwd, '.claw') });
}

export function readTextFile(io: CliIo, path: string, what: string): string {
  try {
    return readFileSync(resolve(io.cwd, path), 'utf8');
  } catch {
    throw new ClawError('FILE_UNREADABLE', `cannot read ${what} ${path}`);
  }
}

export function registryLocation(io: CliIo, home: ClawHome, flag: string | undefined): string {
  return flag ?? io.env.CLAW_REGISTRY ?? home.registryDir;
}

export function trustFileOf(io: CliIo, home: ClawHome, flag?: string): string {
  return flag ? resolve(io.cwd, flag) : io.env.CLAW_TRUST ? resolve(io.cwd, io.env.CLAW_TRUST) : home.trustFile;
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
