import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadServerConfig } from '../config/server-config.js';
import { ReplayStore } from '../cst/replay-store.js';
import { FileRevocationSource, UrlRevocationSource } from '../cst/revocation.js';
import { CstVerifier } from '../cst/verify.js';
import { isClawscopeToken } from '../claw/clawscope.js';
import { openClawscopeLane } from '../claw/clawscope-config.js';
import { JiraClient } from '../jira/client.js';
import { TrustStore } from '../keys/trust.js';
import { loadSigningKey } from '../keys/store.js';
import { TokenReader } from '../gate/token-source.js';
import { readKillSwitch } from '../gate/kill-switch.js';
import { describeError } from '../util/errors.js';
import { WpcRegistry, registryBackend, type VerifiedWpc } from '../wpc/registry.js';
import { parseCommandArgs } from './args.js';
import { EXIT, type CommandSpec } from './io.js';

interface Check {
  check: string;
  status: 'ok' | 'warn' | 'FAIL';
  detail: string;
}

function nearestExisting(path: string): string {
  let current = path;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

/** The checks a server would make at start and at its first call, run once, reported as one table. */
export const doctorCommand: CommandSpec = {
  name: 'doctor',
  summary: 'check the settings a server would run with: Jira, WPC, CST, bundle folder, clock; exit 1 on any failure',
  usage: 'claw-jira doctor [--json]',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, { json: { type: 'boolean' } });
    const { config, problems } = loadServerConfig(io.env);
    const checks: Check[] = [];
    const add = (check: string, status: Check['status'], detail: string) => checks.push({ check, status, detail });
    for (const problem of problems) add(`setting ${problem.variable}`, 'FAIL', problem.message);
    if (problems.length === 0) add('settings', 'ok', `job ${config.job}, home ${config.home.root}`);

    let trust: TrustStore | undefined;
    try {
      trust = await TrustStore.load(config.trustFile);
      add('trust file', 'ok', `${trust.list().length} keys in ${config.trustFile}`);
    } catch (error) {
      add('trust file', 'FAIL', describeError(error));
    }
    try {
      const key = await loadSigningKey(config.home, 'receipt');
      add('receipt key', 'ok', key.kid);
    } catch (error) {
      add('receipt key', 'FAIL', describeError(error));
    }

    let wpc: VerifiedWpc | undefined;
    if (trust && config.wpcHash) {
      try {
        wpc = await new WpcRegistry(registryBackend(config.registry), trust).get(config.wpcHash);
        add('WPC', 'ok', `${wpc.hash} verified, signed by ${wpc.signer.kid}`);
      } catch (error) {
        add('WPC', 'FAIL', describeError(error));
      }
    }

    if (trust && wpc && config.job) {
      const scratch = mkdtempSync(join(tmpdir(), 'claw-doctor-'));
      try {
        const token = new TokenReader(config.token).current();
        if (token === undefined) {
          add('CST', wpc.policy.runtime.require_cst ? 'FAIL' : 'warn', 'no token (CLAW_CST_FILE or CLAW_CST)');
        } else {
          // A scratch replay store: the doctor must not mark the token as used.
          const lane = { audience: config.audience, job: config.job, replay: new ReplayStore(scratch), clockSkewSeconds: config.clockSkewSeconds, now: () => new Date() };
          // A clawscope token (CLAW_SCOPE_URL set) is checked by its own lane, introspection included.
          const verifier = config.clawscope && isClawscopeToken(token) ? openClawscopeLane(config.clawscope, lane) : new CstVerifier({
            trust,
            audience: config.audience,
            job: config.job,
            replay: new ReplayStore(scratch),
            revocation: config.revocation.kind === 'url' ? new UrlRevocationSource(config.revocation.url, trust) : new FileRevocationSource(config.revocation.path, trust, { required: true }),
            clockSkewSeconds: config.clockSkewSeconds,
          });
          const verified = await verifier.verify(token, wpc);
          const remaining = verified.claims.exp - Math.floor(Date.now() / 1000);
          add('CST', remaining < 60 ? 'warn' : 'ok', `jti ${verified.claims.jti}, ${remaining}s left, scope ${verified.claims.scope.operations.join(',')} on ${verified.claims.scope.projects.join(',')}`);
        }
      } catch (error) {
        add('CST', 'FAIL', `${(error as { code?: string }).code ?? ''} ${describeError(error)}`.trim());
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    }

    // The doctor only looks: it probes the bundle folder if it exists, else the nearest folder the server
    // would create it in, and creates nothing.
    const probeDir = nearestExisting(config.bundleDir);
    try {
      const probe = join(probeDir, `.doctor-${process.pid}`);
      writeFileSync(probe, 'probe');
      rmSync(probe);
      add('bundle folder', 'ok', probeDir === config.bundleDir ? `${config.bundleDir} writable` : `${config.bundleDir} can be created (in ${probeDir})`);
    } catch {
      add('bundle folder', 'FAIL', `${config.bundleDir} is not writable`);
    }
    const kill = readKillSwitch(config.home.killSwitchFile);
    add('kill switch', kill ? 'warn' : 'ok', kill ? `writes disabled since ${kill.disabled_at}` : 'writes enabled');

    if (config.jira) {
      const jira = new JiraClient({ baseUrl: config.jira.baseUrl, auth: config.jira.auth, timeoutMs: Math.min(config.jira.timeoutMs, 10_000), retry: { limit: 1 } });
      try {
        const me = await jira.myself();
        add('Jira auth', 'ok', `${config.jira.baseUrl} as ${me.data.displayName ?? me.data.accountId}`);
        const info = await jira.serverInfo();
        const serverTime = (info.data as { serverTime?: unknown }).serverTime;
        if (typeof serverTime === 'string' && !Number.isNaN(Date.parse(serverTime))) {
          const skew = Math.round((Date.now() - Date.parse(serverTime)) / 1000);
          add('clock skew', Math.abs(skew) > config.clockSkewSeconds ? 'FAIL' : 'ok', `${skew}s against Jira (tolerance ${config.clockSkewSeconds}s)`);
        } else add('clock skew', 'warn', 'Jira did not report its time');
      } catch (error) {
        add('Jira auth', 'FAIL', `${(error as { code?: string }).code ?? ''} ${describeError(error)}`.trim());
      }
    }

    const failed = checks.some((check) => check.status === 'FAIL');
    if (values.json) io.out(JSON.stringify({ ok: !failed, checks }));
    else {
      const width = Math.max(...checks.map((check) => check.check.length));
      for (const check of checks) io.out(`${check.status.padEnd(4)}  ${check.check.padEnd(width)}  ${check.detail}`);
      io.out(failed ? 'doctor: problems found' : 'doctor: all checks passed');
    }
    return failed ? EXIT.failed : EXIT.ok;
  },
};
