import { join, resolve } from 'node:path';
import { ADMIN_ROLES, type AdminRole, type KeyRole } from '../keys/roles.js';

/**
 * Where claw-jira keeps its state. One function names every path so that the CLI, the servers and the tests
 * can never disagree about the layout.
 *
 * Two kinds of home, for separation of duties: the server home (CLAW_HOME) holds only what a server needs
 * (its receipt key, the public trust file, its state), and the admin home (CLAW_ADMIN_HOME) holds the policy,
 * issuer and approver private keys, each in a folder of its own so each can belong to a different person.
 */
export interface ClawHome {
  readonly root: string;
  readonly trustFile: string;
  readonly registryDir: string;
  readonly stateDir: string;
  readonly replayDir: string;
  readonly revocationFile: string;
  readonly killSwitchFile: string;
  readonly approvalsDir: string;
  readonly bundlesDir: string;
  readonly adminLog: string;
  /** The server's own key folder: the receipt key only. */
  readonly keysDir: string;
  /** For the Jira API token file (JIRA_API_TOKEN_FILE) README suggests. */
  readonly secretsDir: string;
  /** For CST files (CLAW_CST_FILE) that `cst issue --out` / `cst renew` keep fresh. */
  readonly tokensDir: string;
  /** Parent of the admin key folders (CLAW_ADMIN_HOME). */
  readonly adminRoot: string;
  /** The receipt key lives in the server home; every other role's key in its admin folder. */
  privateKeyFile(role: KeyRole): string;
  adminKeyDir(role: AdminRole): string;
  /** Where an admin key sat before homes were split (`CLAW_HOME/keys/<role>.private.jwk`): a server refuses to start if one is there. */
  serverHomeKeyFile(role: KeyRole): string;
}

/** The admin home nobody configured: a sibling of the server home (`~/.claw` → `~/.claw-admin`), never inside it. */
export function defaultAdminRoot(root: string): string {
  return `${resolve(root)}-admin`;
}

export function clawHome(root: string, adminRoot: string = defaultAdminRoot(root)): ClawHome {
  const abs = resolve(root);
  const admin = resolve(adminRoot);
  const state = join(abs, 'state');
  const keys = join(abs, 'keys');
  const adminKeyDir = (role: AdminRole) => join(admin, role);
  return {
    root: abs,
    trustFile: join(abs, 'trust.json'),
    registryDir: join(abs, 'registry'),
    stateDir: state,
    replayDir: join(state, 'jti'),
    revocationFile: join(abs, 'revocations.jws'),
    killSwitchFile: join(state, 'writes-disabled.json'),
    approvalsDir: join(abs, 'approvals'),
    bundlesDir: join(abs, 'bundles'),
    adminLog: join(abs, 'admin-events.jsonl'),
    keysDir: keys,
    secretsDir: join(abs, 'secrets'),
    tokensDir: join(abs, 'tokens'),
    adminRoot: admin,
    privateKeyFile: (role) => (role === 'receipt' ? join(keys, 'receipt.private.jwk') : join(adminKeyDir(role), `${role}.private.jwk`)),
    adminKeyDir,
    serverHomeKeyFile: (role) => join(keys, `${role}.private.jwk`),
  };
}

/** The folders `init` creates in the server home (0700), in the order it creates them. */
export function serverHomeDirs(home: ClawHome): string[] {
  return [home.root, home.keysDir, home.registryDir, home.stateDir, home.approvalsDir, home.bundlesDir, home.secretsDir, home.tokensDir];
}

export function adminHomeDirs(home: ClawHome): string[] {
  return [home.adminRoot, ...ADMIN_ROLES.map((role) => home.adminKeyDir(role))];
}
