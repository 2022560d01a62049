import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clawHome, type ClawHome } from '../../src/config/home.js';
import type { SigningKey } from '../../src/keys/ed25519.js';
import { KEY_ROLES, type KeyRole } from '../../src/keys/roles.js';
import { initKeys, loadSigningKey, loadTrust } from '../../src/keys/store.js';
import type { TrustStore } from '../../src/keys/trust.js';

export function tempDir(prefix = 'claw-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A temporary folder with a claw-jira home in it: real keys for every role (initKeys) and its trust file. */
export interface KeyedHome {
  readonly root: string;
  readonly home: ClawHome;
  readonly keys: Readonly<Record<KeyRole, SigningKey>>;
  readonly trust: TrustStore;
  /** Removes the folder and the admin home (beside the server home, which may be outside the folder). */
  cleanup(): void;
}

/** `homeAt` places the home in the folder (default: the folder itself is CLAW_HOME). */
export async function keyedHome(prefix: string, homeAt: (root: string) => string = (root) => root): Promise<KeyedHome> {
  const root = tempDir(prefix);
  const home = clawHome(homeAt(root));
  await initKeys(home);
  const entries = await Promise.all(KEY_ROLES.map(async (role) => [role, await loadSigningKey(home, role)] as const));
  return {
    root,
    home,
    keys: Object.fromEntries(entries) as Record<KeyRole, SigningKey>,
    trust: await loadTrust(home),
    cleanup: () => {
      removeDir(root);
      removeDir(home.adminRoot);
    },
  };
}
