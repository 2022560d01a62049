import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadServerConfig, type ServerConfig } from '../config/server-config.js';
import { loadTrustFile } from '../gate/wiring.js';
import { JiraClient } from '../jira/client.js';
import { adminKeysInServerHome, loadSigningKey } from '../keys/store.js';
import { PostgresKillSwitch } from '../state/postgres/kill-switch.js';
import { checkSchema, SCHEMA_VERSION } from '../state/postgres/migrations.js';
import { openStateDb } from '../state/postgres/pool.js';
import { loadServeOptions, type ServeFlags, type ServeOptions } from '../serve/options.js';
import { PER_TOKEN_VARIABLES } from '../serve/service.js';
import { codeOf, describeError } from '../util/errors.js';
import { checkJira, type Add } from './doctor-checks.js';

/** Days of certificate validity left below which the doctor warns. */
const CERT_WARN_DAYS = 14;


/**
 * `doctor --serve`: what `claw-jira serve` would run with, checked without starting it. Run it as the
 * service's own user: every secret (receipt key, TLS key, Jira credential) must belong to that user and be
 * unreadable to anyone else, since the agent hosts must never be able to read them.
 */
export async function serveChecks(flags: ServeFlags, env: NodeJS.ProcessEnv, add: Add): Promise<void> {
  let options: ServeOptions | undefined;
  try {
    options = loadServeOptions(flags, env);
    const exposure = options.tls ? 'TLS here' : options.behindTlsProxy ? `behind a TLS proxy, public URL ${options.publicUrl}` : 'loopback only, plain http';
    add('listen', 'ok', `${options.host}:${options.port} (${exposure})`);
  } catch (error) {
    add('listen', 'FAIL', `${codeOf(error, 'CONFIG_INVALID')}: ${describeError(error)}`);
  }
  if (process.getuid?.() === 0) add('OS user', 'warn', 'running as root: run the service (and this check) as its own dedicated user');

  const { config, problems } = loadServerConfig(env);
  const remaining = problems.filter((problem) => !PER_TOKEN_VARIABLES.has(problem.variable));
  for (const problem of remaining) add('settings', 'FAIL', `CONFIG_INVALID: ${problem.variable} ${problem.message}`);
  if (remaining.length === 0) add('settings', 'ok', `home ${config.home.root}; job, WPC and token come from each request's token`);

  if (options?.tls) checkTls(options.tls, add);
  await checkKeys(config, add);
  checkJiraCredential(env, add);
  if (config.jira) {
    const jira = config.jira;
    try {
      await checkJira(config, new JiraClient({ baseUrl: jira.baseUrl, auth: jira.auth, timeoutMs: Math.min(jira.timeoutMs, 10_000), maxResponseBytes: jira.maxResponseBytes, retry: { limit: 1 } }), add);
    } catch (error) {
      add('Jira auth', 'FAIL', `${codeOf(error, 'JIRA_FAILED')}: ${describeError(error)}`);
    }
  }
  checkBundles(config, add);
  await checkStateDb(options?.stateUrl ?? env.CLAW_STATE_URL, add);
}

/** A secret file is the service user's alone: owned by it, no access for group or others. */
function privateFile(path: string): string | undefined {
  if (process.platform === 'win32') return undefined;
  const stat = statSync(path);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) return `is owned by uid ${stat.uid}, not this user (uid ${uid})`;
  if ((stat.mode & 0o077) !== 0) return `has mode ${(stat.mode & 0o777).toString(8)}: group or others can access it (chmod 600)`;
  return undefined;
}

function checkTls(tls: { keyFile: string; certFile: string }, add: Add): void {
  try {
    const problem = privateFile(tls.keyFile);
    if (problem) add('TLS key', 'FAIL', `SECRET_PERMISSIONS: ${tls.keyFile} ${problem}`);
    const cert = new X509Certificate(readFileSync(tls.certFile));
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(tls.keyFile)))) {
      add('TLS', 'FAIL', `TLS_KEY_MISMATCH: ${tls.keyFile} is not the key of ${tls.certFile}`);
      return;
    }
    const daysLeft = Math.floor((Date.parse(cert.validTo) - Date.now()) / 86_400_000);
    if (daysLeft < 0) add('TLS', 'FAIL', `TLS_CERT_EXPIRED: ${tls.certFile} expired ${cert.validTo}`);
    else add('TLS', daysLeft < CERT_WARN_DAYS ? 'warn' : 'ok', `${cert.subject.replace(/\n/g, ', ')}, valid until ${cert.validTo} (${daysLeft} days)`);
  } catch (error) {
    add('TLS', 'FAIL', `TLS_UNREADABLE: ${describeError(error)}`);
  }
}

async function checkKeys(config: ServerConfig, add: Add): Promise<void> {
  try {
    const loaded = await loadTrustFile(config);
    add('trust file', 'ok', `${loaded.store.list().length} keys in ${loaded.path}${config.trustPin ? ', matches CLAW_TRUST_SHA256' : ', not pinned (CLAW_TRUST_SHA256)'}`);
  } catch (error) {
    add('trust file', 'FAIL', `${codeOf(error, 'TRUST_UNREADABLE')}: ${describeError(error)}`);
  }
  const keyFile = config.home.privateKeyFile('receipt');
  try {
    const key = await loadSigningKey(config.home, 'receipt');
    const problem = privateFile(keyFile);
    add('receipt key', problem ? 'FAIL' : 'ok', problem ? `SECRET_PERMISSIONS: ${keyFile} ${problem}` : `${key.kid}, ${keyFile} private to this user`);
  } catch (error) {
    add('receipt key', 'FAIL', `${codeOf(error, 'KEY_UNREADABLE')}: ${describeError(error)}`);
  }
  // The service signs receipts only: a policy, issuer or approver key within its reach would let it mint its own.
  const admin = adminKeysInServerHome(config.home);
  if (admin.length > 0) add('admin keys', 'FAIL', `ADMIN_KEY_IN_SERVER_HOME: the service can read ${admin.join(', ')}: move them to CLAW_ADMIN_HOME`);
}

function checkJiraCredential(env: NodeJS.ProcessEnv, add: Add): void {
  const files = Object.keys(env).filter((name) => /^JIRA_[A-Z_]+_FILE$/.test(name) && (env[name] ?? '').trim() !== '');
  for (const name of files) {
    const path = (env[name] as string).trim();
    try {
      const problem = privateFile(path);
      add('Jira credential', problem ? 'FAIL' : 'ok', problem ? `SECRET_PERMISSIONS: ${name} ${path} ${problem}` : `${name} ${path} private to this user`);
    } catch {
      add('Jira credential', 'FAIL', `SECRET_UNREADABLE: ${name} ${path} cannot be read`);
    }
  }
  for (const name of ['JIRA_API_TOKEN', 'JIRA_BEARER_TOKEN'].filter((variable) => (env[variable] ?? '').trim() !== '')) {
    add('Jira credential', 'warn', `${name} is in the environment: prefer ${name}_FILE (a systemd credential or a mounted secret), which child processes and crash reports do not carry`);
  }
}

function checkBundles(config: ServerConfig, add: Add): void {
  const dir = config.home.bundlesDir;
  try {
    if (!existsSync(dir)) {
      add('bundle folder', 'warn', `${dir} does not exist yet: the service creates it (its parent must be writable)`);
      return;
    }
    const probe = join(dir, `.doctor-${process.pid}`);
    writeFileSync(probe, 'probe');
    rmSync(probe);
    add('bundle folder', 'ok', `${dir} writable`);
  } catch {
    add('bundle folder', 'FAIL', `BUNDLE_UNWRITABLE: ${dir} is not writable by this user`);
  }
}

async function checkStateDb(url: string | undefined, add: Add): Promise<void> {
  if (url === undefined || url.trim() === '') {
    add('state database', 'warn', 'no CLAW_STATE_URL: file state under CLAW_HOME, correct for one replica on one host only');
    return;
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // openStateDb names the problem below without repeating the URL (it may hold a password).
  }
  if (parsed?.password) add('state database', 'warn', 'CLAW_STATE_URL carries a password: prefer a PGPASSFILE readable by the service user only');
  let db;
  try {
    db = openStateDb(url, { max: 1, connectTimeoutMs: 5000 });
    await checkSchema(db);
    const [setting] = await db.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
    add('state database', 'ok', `${parsed?.host ?? 'reachable'}${parsed?.pathname ?? ''}: schema at version ${SCHEMA_VERSION}, synchronous_commit ${setting?.synchronous_commit ?? 'unknown'}`);
    const kill = await new PostgresKillSwitch(db).read();
    add('kill switch', kill ? 'warn' : 'ok', kill ? `writes disabled in the database since ${kill.disabled_at}${kill.reason ? ` (${kill.reason})` : ''}` : 'writes enabled (database)');
  } catch (error) {
    add('state database', 'FAIL', `${codeOf(error, 'STATE_UNAVAILABLE')}: ${describeError(error)}`);
  } finally {
    await db?.close().catch(() => undefined);
  }
}
