import { join, resolve } from 'node:path';
import { HASH_ADDRESS } from '../util/canonical.js';
import { describeError, isClawError } from '../util/errors.js';
import { loadJiraConfig, type JiraConfig } from '../jira/config.js';
import { clawHomeFromEnv, type ClawHome } from './home.js';
import { loadClawscopeConfig, type ClawscopeConfig } from '../claw/clawscope-config.js';
import { isWpcAddress } from '../wpc/registry.js';

/** A setting that is missing or wrong: named by its variable, never by its value (it may be a secret). */
export interface ConfigProblem {
  variable: string;
  message: string;
}

export type TokenSource = { kind: 'file'; path: string } | { kind: 'env'; token: string } | { kind: 'none' };

export interface ServerConfig {
  home: ClawHome;
  job: string;
  wpcHash: string;
  registry: string;
  trustFile: string;
  /** `sha256:` of the trust file's bytes (CLAW_TRUST_SHA256): the servers refuse a trust file that differs. */
  trustPin: string | undefined;
  token: TokenSource;
  audience: string;
  bundleDir: string;
  revocation: { kind: 'file'; path: string } | { kind: 'url'; url: string };
  clockSkewSeconds: number;
  jira: JiraConfig | undefined;
  /** The clawscope token lane (CLAW_SCOPE_*), when CLAW_SCOPE_URL is set. */
  clawscope: ClawscopeConfig | undefined;
}

export interface LoadedServerConfig {
  config: ServerConfig;
  problems: ConfigProblem[];
}

const JOB = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Read every CLAW_* and JIRA_* setting the servers use, collecting all problems instead of stopping at the
 * first, so one `doctor` run or one refused call names everything that is wrong.
 */
export function loadServerConfig(env: NodeJS.ProcessEnv = process.env): LoadedServerConfig {
  const problems: ConfigProblem[] = [];
  const home = clawHomeFromEnv(env);
  const get = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  const job = get('CLAW_JOB_ID') ?? '';
  if (job === '') problems.push({ variable: 'CLAW_JOB_ID', message: 'is not set: every call must belong to a job' });
  else if (!JOB.test(job)) problems.push({ variable: 'CLAW_JOB_ID', message: 'must be 1-128 letters, digits, dot, dash or underscore' });

  const wpcHash = get('CLAW_WPC') ?? '';
  if (wpcHash === '') problems.push({ variable: 'CLAW_WPC', message: 'is not set: name the WPC in force by its sha256:<hex> address' });
  else if (!isWpcAddress(wpcHash)) problems.push({ variable: 'CLAW_WPC', message: 'is not a sha256:<64 hex> or 43-character base64url address' });

  const tokenFile = get('CLAW_CST_FILE');
  const tokenValue = get('CLAW_CST');
  let token: TokenSource = { kind: 'none' };
  if (tokenFile && tokenValue) problems.push({ variable: 'CLAW_CST_FILE', message: 'and CLAW_CST are both set; set one' });
  else if (tokenFile) token = { kind: 'file', path: resolve(tokenFile) };
  else if (tokenValue) token = { kind: 'env', token: tokenValue };

  const skewRaw = get('CLAW_CLOCK_SKEW_SECONDS');
  let clockSkewSeconds = 60;
  if (skewRaw !== undefined) {
    const parsed = Number(skewRaw);
    if (!Number.isInteger(parsed) || parsed < 0 || parsed > 600) {
      problems.push({ variable: 'CLAW_CLOCK_SKEW_SECONDS', message: 'must be a whole number of seconds from 0 to 600' });
    } else clockSkewSeconds = parsed;
  }

  const pinRaw = get('CLAW_TRUST_SHA256');
  let trustPin: string | undefined;
  if (pinRaw !== undefined) {
    trustPin = pinRaw.startsWith('sha256:') ? pinRaw : `sha256:${pinRaw}`;
    if (!HASH_ADDRESS.test(trustPin)) problems.push({ variable: 'CLAW_TRUST_SHA256', message: 'is not a sha256 hex digest' });
  }

  const revocationUrl = get('CLAW_REVOCATION_URL');
  let jira: JiraConfig | undefined;
  try {
    jira = loadJiraConfig(env);
  } catch (error) {
    const named = isClawError(error) ? error.details?.variable : undefined;
    const variable = typeof named === 'string' ? named : 'JIRA_BASE_URL';
    problems.push({ variable, message: describeError(error).replace(`${variable} `, '') });
  }

  return {
    config: {
      home,
      job,
      wpcHash,
      registry: get('CLAW_REGISTRY') ?? home.registryDir,
      trustFile: get('CLAW_TRUST') ? resolve(get('CLAW_TRUST') as string) : home.trustFile,
      trustPin,
      token,
      audience: get('CLAW_AUDIENCE') ?? 'claw-jira',
      bundleDir: resolve(get('CLAW_BUNDLE_DIR') ?? join(home.bundlesDir, job || 'unassigned')),
      revocation: revocationUrl
        ? { kind: 'url', url: revocationUrl }
        : { kind: 'file', path: resolve(get('CLAW_REVOCATION_FILE') ?? home.revocationFile) },
      clockSkewSeconds,
      jira,
      clawscope: loadClawscopeConfig(get, problems),
    },
    problems,
  };
}
