import { join, resolve } from 'node:path';
import { HASH_ADDRESS } from '../util/canonical.js';
import { describeError, isClawError } from '../util/errors.js';
import { loadJiraConfig, type JiraConfig } from '../jira/config.js';
import { clawHome, defaultAdminRoot, type ClawHome } from './home.js';
import { settingPath, type PathOptions } from './paths.js';
import { loadClawscopeConfig, type ClawscopeConfig } from '../claw/clawscope-config.js';
import { isWpcAddress } from '../wpc/registry.js';
import type { ConfigProblem } from './problem.js';

export type { ConfigProblem } from './problem.js';

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
  /** CLAW_REQUIRE_SEPARATE_USER=1: refuse to run as the same OS user as the parent process (the agent's). */
  requireSeparateUser?: boolean;
  /** CLAW_MAX_PENDING_APPROVALS: approval requests one job may have waiting (default 20). */
  maxPendingApprovals?: number;
  /** The clawscope token lane (CLAW_SCOPE_*), when CLAW_SCOPE_URL is set. */
  clawscope: ClawscopeConfig | undefined;
}

export interface LoadedServerConfig {
  config: ServerConfig;
  problems: ConfigProblem[];
}

/** A job id names folders and files: letters, digits, dot, dash, underscore, never a path. */
export const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const JOB = JOB_ID;

/**
 * Read every CLAW_* and JIRA_* setting the servers use, collecting all problems instead of stopping at the
 * first, so one `doctor` run or one refused call names everything that is wrong.
 */
export function loadServerConfig(env: NodeJS.ProcessEnv = process.env, cwd?: string): LoadedServerConfig {
  const problems: ConfigProblem[] = [];
  const get = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const pathOptions: PathOptions = { ...(env.HOME ? { home: env.HOME } : {}), ...(cwd !== undefined ? { cwd } : {}) };
  // A path setting that is refused leaves its default in place: the problem keeps the server from being ready.
  const path = (name: string): string | undefined => {
    const value = get(name);
    if (value === undefined) return undefined;
    const resolved = settingPath(value, pathOptions);
    if (resolved.ok) return resolved.path;
    problems.push({ variable: name, message: resolved.message });
    return undefined;
  };
  const homeRoot = path('CLAW_HOME') ?? resolve(cwd ?? process.cwd(), '.claw');
  const home = clawHome(homeRoot, path('CLAW_ADMIN_HOME') ?? defaultAdminRoot(homeRoot));

  // An invalid job id names no folder: it is never used in a path (`../x` must not create anything outside).
  const rawJob = get('CLAW_JOB_ID') ?? '';
  let job = rawJob;
  if (rawJob === '') problems.push({ variable: 'CLAW_JOB_ID', message: 'is not set: every call must belong to a job' });
  else if (!JOB.test(rawJob)) {
    problems.push({ variable: 'CLAW_JOB_ID', message: 'must be 1-128 letters, digits, dot, dash or underscore' });
    job = '';
  }

  const wpcHash = get('CLAW_WPC') ?? '';
  if (wpcHash === '') problems.push({ variable: 'CLAW_WPC', message: 'is not set: name the WPC in force by its sha256:<hex> address' });
  else if (!isWpcAddress(wpcHash)) problems.push({ variable: 'CLAW_WPC', message: 'is not a sha256:<64 hex> or 43-character base64url address' });

  const tokenFile = get('CLAW_CST_FILE');
  const tokenValue = get('CLAW_CST');
  let token: TokenSource = { kind: 'none' };
  if (tokenFile && tokenValue) problems.push({ variable: 'CLAW_CST_FILE', message: 'and CLAW_CST are both set; set one' });
  else if (tokenFile) {
    const file = path('CLAW_CST_FILE');
    if (file !== undefined) token = { kind: 'file', path: file };
  }
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

  const separate = get('CLAW_REQUIRE_SEPARATE_USER');
  if (separate !== undefined && separate !== '0' && separate !== '1') problems.push({ variable: 'CLAW_REQUIRE_SEPARATE_USER', message: 'must be 1 or 0' });

  const revocationUrl = get('CLAW_REVOCATION_URL');
  const maxPendingRaw = get('CLAW_MAX_PENDING_APPROVALS');
  let maxPendingApprovals: number | undefined;
  if (maxPendingRaw !== undefined) {
    const parsed = Number(maxPendingRaw);
    if (!/^\d+$/.test(maxPendingRaw) || parsed < 1 || parsed > 1000) {
      problems.push({ variable: 'CLAW_MAX_PENDING_APPROVALS', message: 'must be a whole number from 1 to 1000' });
    } else maxPendingApprovals = parsed;
  }
  let jira: JiraConfig | undefined;
  try {
    jira = loadJiraConfig(jiraEnv(env, pathOptions, problems));
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
      registry: (/^https?:\/\//i.test(get('CLAW_REGISTRY') ?? '') ? get('CLAW_REGISTRY') : path('CLAW_REGISTRY')) ?? home.registryDir,
      trustFile: path('CLAW_TRUST') ?? home.trustFile,
      trustPin,
      token,
      audience: get('CLAW_AUDIENCE') ?? 'claw-jira',
      bundleDir: path('CLAW_BUNDLE_DIR') ?? join(home.bundlesDir, job || 'unassigned'),
      revocation: revocationUrl
        ? { kind: 'url', url: revocationUrl }
        : { kind: 'file', path: path('CLAW_REVOCATION_FILE') ?? home.revocationFile },
      clockSkewSeconds,
      jira,
      requireSeparateUser: separate === '1',
      ...(maxPendingApprovals !== undefined ? { maxPendingApprovals } : {}),
      clawscope: loadClawscopeConfig(get, problems),
    },
    problems,
  };
}

/**
 * The JIRA_*_FILE secrets are paths too: the same `~` expansion and relative-path refusal as the CLAW_*
 * paths, applied before the Jira config reads them (a refused one is dropped, so Jira is reported unset).
 */
function jiraEnv(env: NodeJS.ProcessEnv, options: PathOptions, problems: ConfigProblem[]): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const name of Object.keys(env).filter((key) => /^JIRA_[A-Z_]+_FILE$/.test(key))) {
    const value = env[name];
    if (value === undefined || value.trim() === '') continue;
    const resolved = settingPath(value, options);
    if (resolved.ok) out[name] = resolved.path;
    else {
      problems.push({ variable: name, message: resolved.message });
      delete out[name];
    }
  }
  return out;
}
