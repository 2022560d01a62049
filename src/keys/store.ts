import { existsSync, readFileSync, statSync } from 'node:fs';
import { ClawError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import type { ClawHome } from '../config/home.js';
import { KEY_ROLES, type KeyRole } from './roles.js';
import { generateSigningKey, signingKeyFromJwk, type SigningKey } from './ed25519.js';
import { TrustStore, type TrustFile } from './trust.js';
import { didKeyFromJwkX } from '../claw/did-key.js';

export interface InitResult {
  created: KeyRole[];
  kept: KeyRole[];
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
  return { created, kept, trust };
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
    throw new ClawError('KEY_UNREADABLE', `cannot read the ${role} key (${file}); run 'claw-jira init'`);
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
