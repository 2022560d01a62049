/**
 * `claw-jira doctor --serve`: the service's settings checked as `serve` would use them, one row per check.
 * Each fault is made for real (a key readable by others, a credential owned by another user, a bind off
 * loopback without TLS, a certificate that is not the key's, a database without the schema or down) and
 * the doctor names it and exits 1.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIM_USERS } from '../../src/sim/index.js';
import { World } from '../e2e/harness.js';
import { postgresUnavailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { serveEnv } from './harness.js';

interface Row {
  check: string;
  status: 'ok' | 'warn' | 'FAIL';
  detail: string;
}

describe('claw-jira doctor --serve', () => {
  let world: World;
  let tokenFile: string;
  const env = (extra: Record<string, string | undefined> = {}) => serveEnv(world, { JIRA_API_TOKEN: undefined, JIRA_API_TOKEN_FILE: tokenFile, ...extra });
  const doctor = async (args: string[] = [], extra: Record<string, string | undefined> = {}) => {
    const result = await world.cli(['doctor', '--serve', '--json', ...args], env(extra));
    const report = JSON.parse(result.out) as { ok: boolean; checks: Row[] };
    return { code: result.code, ...report, row: (check: string) => report.checks.filter((row) => row.check === check) };
  };

  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', job: 'job-doctor' });
    tokenFile = join(world.dir, 'jira-api-token');
    writeFileSync(tokenFile, SIM_USERS.agent.apiToken, { mode: 0o600 });
  });
  afterAll(async () => world?.close());

  it('passes a sound service setup, row by row, and warns of file state and of an inline Jira token', async () => {
    const report = await doctor();
    expect(report.code, JSON.stringify(report.checks)).toBe(0);
    expect(report.ok).toBe(true);
    for (const check of ['listen', 'settings', 'trust file', 'receipt key', 'Jira credential', 'Jira auth', 'bundle folder']) {
      expect(report.row(check).map((row) => row.status), check).toEqual(['ok']);
    }
    expect(report.row('listen')[0]?.detail).toContain('127.0.0.1:8790 (loopback only, plain http)');
    expect(report.row('state database')[0]).toMatchObject({ status: 'warn' });
    const inline = await doctor([], { JIRA_API_TOKEN: SIM_USERS.agent.apiToken, JIRA_API_TOKEN_FILE: undefined });
    expect(inline.row('Jira credential')[0]).toMatchObject({ status: 'warn', detail: expect.stringContaining('prefer JIRA_API_TOKEN_FILE') });
  });

  it('fails a bind off loopback without TLS, a receipt key or Jira credential others can read, and exits 1', async () => {
    const keyFile = join(world.home, 'keys', 'receipt.private.jwk');
    chmodSync(keyFile, 0o644);
    chmodSync(tokenFile, 0o640);
    try {
      const report = await doctor(['--host', '0.0.0.0']);
      expect(report.code).toBe(1);
      expect(report.ok).toBe(false);
      expect(report.row('listen')[0]).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('SERVE_INSECURE_BIND') });
      expect(report.row('receipt key')[0]).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('KEY_PERMISSIONS') });
      expect(report.row('Jira credential')[0]).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('SECRET_PERMISSIONS') });
      // A TLS proxy in front makes the same bind acceptable.
      const proxied = await doctor(['--host', '0.0.0.0', '--behind-tls-proxy', '--public-url', 'https://gate.example.com']);
      expect(proxied.row('listen')[0]).toMatchObject({ status: 'ok', detail: expect.stringContaining('behind a TLS proxy') });
    } finally {
      chmodSync(keyFile, 0o600);
      chmodSync(tokenFile, 0o600);
    }
  });

  it.skipIf(process.getuid?.() !== 0)('fails a Jira credential that belongs to another user (run as the service user)', async () => {
    chownSync(tokenFile, 65534, 65534);
    try {
      const report = await doctor();
      expect(report.row('Jira credential')[0]).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('is owned by uid 65534') });
      expect(report.code).toBe(1);
    } finally {
      chownSync(tokenFile, 0, 0);
    }
  });

  const opensslMissing = (() => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  })();

  it.skipIf(opensslMissing)('checks the TLS pair: valid, a certificate that is not the key\'s, a key others can read', async () => {
    const pair = (name: string) => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=gate.example.com',
        '-keyout', join(world.dir, `${name}.key`), '-out', join(world.dir, `${name}.crt`)], { stdio: 'ignore' });
      chmodSync(join(world.dir, `${name}.key`), 0o600);
    };
    pair('one');
    pair('two');
    const tls = (key: string, cert: string) => ['--host', '0.0.0.0', '--tls-key', join(world.dir, `${key}.key`), '--tls-cert', join(world.dir, `${cert}.crt`)];
    const good = await doctor(tls('one', 'one'));
    expect(good.row('TLS')[0]).toMatchObject({ status: 'ok', detail: expect.stringContaining('CN=gate.example.com') });
    expect(good.row('listen')[0]).toMatchObject({ status: 'ok', detail: expect.stringContaining('TLS here') });
    const mismatched = await doctor(tls('one', 'two'));
    expect(mismatched.row('TLS')[0]).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('TLS_KEY_MISMATCH') });
    chmodSync(join(world.dir, 'one.key'), 0o644);
    const exposed = await doctor(tls('one', 'one'));
    expect(exposed.row('TLS key')[0]).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('SECRET_PERMISSIONS') });
    expect(exposed.code).toBe(1);
  });

  const unavailable = postgresUnavailable();
  describe.skipIf(unavailable !== undefined)('with CLAW_STATE_URL on a real PostgreSQL', () => {
    let db: TestPostgres;
    beforeAll(async () => {
      db = await startPostgres();
    });
    afterAll(() => db?.destroy());

    it('reports the schema and the kill switch; fails a database without the schema, and one that is down', async () => {
      const url = await db.createDatabase('doctor_ok');
      await world.cliOk(['db', 'migrate'], { ...world.baseEnv(), CLAW_STATE_URL: url });
      const ok = await doctor([], { CLAW_STATE_URL: url });
      expect(ok.row('state database')[0]).toMatchObject({ status: 'ok', detail: expect.stringMatching(/schema at version \d+, synchronous_commit on/) });
      expect(ok.row('kill switch')[0]).toMatchObject({ status: 'ok' });
      await world.cliOk(['writes', 'disable', '--reason', 'maintenance'], { ...world.baseEnv(), CLAW_STATE_URL: url });
      expect((await doctor([], { CLAW_STATE_URL: url })).row('kill switch')[0]).toMatchObject({ status: 'warn', detail: expect.stringContaining('maintenance') });

      const fresh = await db.createDatabase('doctor_fresh');
      const outdated = await doctor([], { CLAW_STATE_URL: fresh });
      expect(outdated.row('state database')[0]).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('STATE_SCHEMA_OUTDATED') });
      expect(outdated.code).toBe(1);

      db.stop();
      try {
        const down = await doctor([], { CLAW_STATE_URL: url });
        expect(down.row('state database')[0]).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('STATE_UNAVAILABLE') });
      } finally {
        db.start();
      }
    });
  });
});
