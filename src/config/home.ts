import { join, resolve } from 'node:path';
import type { KeyRole } from '../keys/roles.js';

/**
 * Where claw-jira keeps its state. One function names every path so that the CLI, the servers and the tests
 * can never disagree about the layout.
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
  privateKeyFile(role: KeyRole): string;
}

export function clawHome(root: string): ClawHome {
  const abs = resolve(root);
  const state = join(abs, 'state');
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
    privateKeyFile: (role) => join(abs, 'keys', `${role}.private.jwk`),
  };
}

export function clawHomeFromEnv(env: NodeJS.ProcessEnv = process.env): ClawHome {
  return clawHome(env.CLAW_HOME && env.CLAW_HOME.trim() !== '' ? env.CLAW_HOME : '.claw');
}
