/**
 * A private PostgreSQL server for the tests and `npm run bench serve` (never the service itself): a cluster
 * made with Debian's initdb/pg_ctl in a temp folder, listening on a free loopback port, stopped (and its
 * folder removed) at the end. PostgreSQL refuses to run as root, so under root (CI) the cluster runs as a
 * system user: `postgres` (made by the Debian package) or `claw-pg`, created here if neither exists. When no
 * PostgreSQL is installed, callers skip and say why (`.ci/run` installs the `postgresql` package).
 */
import { execFileSync, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const PG_ROOT = '/usr/lib/postgresql';
const SUPERUSER = 'claw';

/** The bin folder of the newest installed PostgreSQL with initdb and pg_ctl, or undefined. */
function binDir(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((name) => existsSync(join(PG_ROOT, name, 'bin', 'initdb')) && existsSync(join(PG_ROOT, name, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(PG_ROOT, versions[0], 'bin') : undefined;
}

/** Why a private cluster cannot run here, or undefined when it can. */
export function postgresUnavailable(): string | undefined {
  if (process.platform === 'win32') return 'PostgreSQL tests need Linux (Debian postgresql package)';
  if (!binDir()) return `no PostgreSQL under ${PG_ROOT} (install Debian's postgresql package; .ci/run does)`;
  if (process.getuid?.() === 0) {
    try {
      runAs();
    } catch (error) {
      return `running as root and cannot get a non-root user for PostgreSQL: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return undefined;
}

/** uid/gid of the non-root user the cluster runs as, when this process runs as root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'claw-pg']) {
    const found = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    if (found.status === 0) {
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { uid: Number(found.stdout.trim()), gid };
    }
  }
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'claw-pg'], { stdio: 'ignore' });
  return runAs();
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface DevPostgres {
  port: number;
  /** A URL on the cluster's `postgres` database (or `db`). */
  url(db?: string): string;
  /** A new empty database; its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stop the server (an outage); `start()` brings it back on the same port. */
  stop(): void;
  start(): void;
  /** Stop and remove everything. */
  destroy(): void;
}

export async function startPostgres(): Promise<DevPostgres> {
  const bin = binDir();
  if (!bin) throw new Error(postgresUnavailable());
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'claw-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const port = await freePort();
  const options: SpawnSyncOptions = { encoding: 'utf8', cwd: dir, ...(user ? { uid: user.uid, gid: user.gid } : {}), env: { PATH: process.env.PATH ?? '', LANG: 'C' } };
  const run = (tool: string, args: string[]) => {
    const result = spawnSync(join(bin, tool), args, options);
    if (result.status !== 0) {
      const serverLog = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
      throw new Error(`${tool} failed (${result.status}): ${String(result.stderr)}${String(result.stdout)}${serverLog}`);
    }
  };
  run('initdb', ['-D', data, '-U', SUPERUSER, '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  // Loopback TCP only, the socket in the private folder; fsync off: test and bench data need not survive a host crash.
  const serverOptions = `-p ${port} -h 127.0.0.1 -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  const start = () => run('pg_ctl', ['-D', data, '-l', log, '-o', serverOptions, '-w', '-t', '60', 'start']);
  const stop = () => run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  start();
  let running = true;
  const url = (db = 'postgres') => `postgres://${SUPERUSER}@127.0.0.1:${port}/${db}`;
  return {
    port,
    url,
    async createDatabase(name) {
      if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${name}`);
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        // An identifier cannot be a parameter; the name is checked against a strict pattern above.
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop() {
      if (running) stop();
      running = false;
    },
    start() {
      if (!running) start();
      running = true;
    },
    destroy() {
      try {
        if (running) stop();
      } finally {
        running = false;
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
