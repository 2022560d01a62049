import { accessSync, constants, copyFileSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { ClawError } from '../util/errors.js';
import { ensureDir, writeFileAtomic } from '../util/files.js';
import { adminHomeDirs, serverHomeDirs, type ClawHome } from '../config/home.js';
import { ADMIN_ROLES, KEY_ROLES, type KeyRole } from './roles.js';
import { generateSigningKey, signingKeyFromJwk, type SigningKey } from './ed25519.js';
import { TrustStore, type TrustFile } from './trust.js';
import { didKeyFromJwkX } from '../claw/did-key.js';

export interface InitResult {
  created: KeyRole[];
  kept: KeyRole[];
  /** Admin keys found in the server home (the layout before homes were split), moved to their admin folders. */
  moved: KeyRole[];
  trust: TrustFile;
}

/**
 * Create the key pairs that do not exist yet and (re)write the trust file from the keys on disk.
 * Existing private keys are never overwritten: losing the policy key would orphan every signed WPC.
 */
export async function initKeys(home: ClawHome, now: Date = new Date()): Promise<InitResult> {
  const created: KeyRole[] = [];
  const kept: KeyRole[] = [];
  const entries: TrustFile['keys'] = [];
  if (isInside(home.adminRoot, home.root)) {
    throw new ClawError('ADMIN_HOME_INSIDE_SERVER_HOME', `the admin home ${home.adminRoot} is inside the server home ${home.root}: keep them apart (CLAW_ADMIN_HOME)`);
  }
  for (const dir of [...serverHomeDirs(home), ...adminHomeDirs(home)]) ensureDir(dir);
  const moved = moveLegacyAdminKeys(home);
  for (const role of KEY_ROLES) {
    const file = home.privateKeyFile(role);
    if (existsSync(file)) {
      const key = await loadSigningKey(home, role);
      entries.push({ role, kid: key.kid, jwk: key.publicJwk, did: didKeyFromJwkX(key.publicJwk.x) });
      kept.push(role);
      continue;
    }
    const generated = await generateSigningKey();
    writeFileAtomic(file, `${JSON.stringify(generated.privateJwk)}\n`, { mode: 0o600, exclusive: true });
    entries.push({ role, kid: generated.kid, jwk: generated.publicJwk, did: didKeyFromJwkX(generated.publicJwk.x), created_at: now.toISOString() });
    created.push(role);
  }
  const trust: TrustFile = { version: 1, keys: mergeTrust(home, entries) };
  writeFileAtomic(home.trustFile, `${JSON.stringify(trust, null, 2)}\n`);
  return { created, kept, moved, trust };
}

/** An older home kept every private key in CLAW_HOME/keys: move the admin ones out (never over an existing key). */
function moveLegacyAdminKeys(home: ClawHome): KeyRole[] {
  const moved: KeyRole[] = [];
  for (const role of ADMIN_ROLES) {
    const legacy = home.serverHomeKeyFile(role);
    const target = home.privateKeyFile(role);
    if (!existsSync(legacy) || existsSync(target)) continue;
    try {
      renameSync(legacy, target);
    } catch {
      // Another filesystem: copy (mode kept), then remove the old copy.
      copyFileSync(legacy, target, constants.COPYFILE_EXCL);
      rmSync(legacy);
    }
    moved.push(role);
  }
  return moved;
}

function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Admin private keys in the admin home that this process could read (in same-user mode, so could the agent). */
export function readableAdminKeys(home: ClawHome): string[] {
  return ADMIN_ROLES.map((role) => home.privateKeyFile(role)).filter(readable);
}

function isInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Private keys of the policy signer, the token issuer or the approver that a server could read from its own
 * home: with one of them a compromised or prompt-injected server could sign itself a policy, a token or an
 * approval. Any readable one is a reason not to start.
 */
export function adminKeysInServerHome(home: ClawHome): string[] {
  const found = new Set<string>();
  for (const role of ADMIN_ROLES) {
    if (readable(home.serverHomeKeyFile(role))) found.add(home.serverHomeKeyFile(role));
    if (isInside(home.privateKeyFile(role), home.root) && readable(home.privateKeyFile(role))) found.add(home.privateKeyFile(role));
  }
  // Any other private key in the server's key folder (a copy, a renamed key) is refused as well.
  try {
    for (const name of readdirSync(home.keysDir)) {
      const file = join(home.keysDir, name);
      if (name.endsWith('.private.jwk') && file !== home.privateKeyFile('receipt') && readable(file)) found.add(file);
    }
  } catch {
    // No key folder: nothing there to refuse.
  }
  return [...found].sort();
}

/** Keep keys already trusted (e.g. an older, rotated policy key) beside the current ones. */
function mergeTrust(home: ClawHome, current: TrustFile['keys']): TrustFile['keys'] {
  if (!existsSync(home.trustFile)) return current;
  try {
    const previous = JSON.parse(readFileSync(home.trustFile, 'utf8')) as TrustFile;
    const seen = new Set(current.map((entry) => entry.kid));
    return [...current, ...(previous.keys ?? []).filter((entry) => !seen.has(entry.kid))];
  } catch {
    return current;
  }
}

export async function loadSigningKey(home: ClawHome, role: KeyRole): Promise<SigningKey> {
  const file = home.privateKeyFile(role);
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch {
    const where = role === 'receipt' ? 'CLAW_HOME' : 'CLAW_ADMIN_HOME or --admin-home';
    throw new ClawError('KEY_UNREADABLE', `cannot read the ${role} key (${file}); run 'claw-jira init', or set ${where} to the folder that holds it`);
  }
  // A private key readable by others is a leaked key: refuse it rather than sign with it.
  if (process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0) {
    throw new ClawError('KEY_PERMISSIONS', `the ${role} key ${file} is readable by group or others; chmod 600 it`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ClawError('KEY_INVALID', `the ${role} key file is not JSON`);
  }
  return signingKeyFromJwk(json);
}

export function loadTrust(home: ClawHome, path: string = home.trustFile): Promise<TrustStore> {
  return TrustStore.load(path);
}
