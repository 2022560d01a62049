import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadServerConfig, type ServerConfig } from '../config/server-config.js';
import type { CstVerifier } from '../cst/verify.js';
import { isClawscopeToken, type ClawscopeVerifier } from '../claw/clawscope.js';
import { TokenReader } from '../gate/token-source.js';
import { KillSwitch, readKillSwitch } from '../gate/kill-switch.js';
import { wireGate, type GateWiring } from '../gate/wiring.js';
import { codeOf, describeError } from '../util/errors.js';
import type { VerifiedWpc } from '../wpc/registry.js';
import { parseCommandArgs } from './args.js';
import { checkJira, report, type Add, type Check } from './doctor-checks.js';
import { serveChecks } from './doctor-serve.js';
import { SERVE_FLAG_SPEC } from '../serve/options.js';
import type { CommandSpec } from './io.js';


function nearestExisting(path: string): string {
  let current = path;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

/** The checks a server would make at start and at its first call, run once, reported as one table. */
export const doctorCommand: CommandSpec = {
  name: 'doctor',
  summary: 'check the settings a server would run with: Jira, WPC, CST, bundle folder, clock; with --serve, those of claw-jira serve; exit 1 on any failure',
  usage: 'claw-jira doctor [--json] [--serve [the serve flags: --host, --port, --tls-key, --tls-cert, --behind-tls-proxy, --public-url]]',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, { json: { type: 'boolean' }, serve: { type: 'boolean' }, ...SERVE_FLAG_SPEC });
    const checks: Check[] = [];
    const add = (check: string, status: Check['status'], detail: string) => checks.push({ check, status, detail });
    if (values.serve) {
      await serveChecks(values, io.env, add);
      return report(checks, values.json === true, io);
    }
    const { config, problems } = loadServerConfig(io.env);
    const scratch = mkdtempSync(join(tmpdir(), 'claw-doctor-'));
    let wiring: GateWiring | undefined;
    try {
      // The servers' own start-up path, with a scratch replay store: the doctor must not mark the token as used.
      wiring = await wireGate(config, problems, { replayDir: scratch, jiraOptions: { timeoutMs: Math.min(config.jira?.timeoutMs ?? 10_000, 10_000), retry: { limit: 1 } } });
      for (const problem of wiring.problems) add(problem.step ?? 'start-up', 'FAIL', `${problem.code}: ${problem.message}`);
      for (const warning of wiring.warnings) add(warning.step ?? 'start-up', 'warn', `${warning.code}: ${warning.message}`);
      if (problems.length === 0) add('settings', 'ok', `job ${config.job}, home ${config.home.root}`);
      if (wiring.parent.kind === 'separate') add('OS user', 'ok', `uid ${wiring.parent.uid}, not the user of its parent process (uid ${wiring.parent.parentUid})`);
      if (wiring.parent.kind === 'unknown') add('OS user', 'warn', `cannot tell whether this runs as the agent's user: ${wiring.parent.reason}`);
      if (wiring.trust) add('trust file', 'ok', `${wiring.trust.store.list().length} keys in ${wiring.trust.path}${config.trustPin ? ', matches CLAW_TRUST_SHA256' : ''}`);
      if (wiring.receiptKey) add('receipt key', 'ok', wiring.receiptKey.kid);
      const wpc = wiring.wpc;
      if (wpc) add('WPC', 'ok', `${wpc.hash} verified, signed by ${wpc.signer.kid}`);
      if (wiring.verifier && wpc) await checkToken(config, wpc, wiring.verifier, wiring.scopeVerifier, add);
      if (wiring.jira && config.jira) await checkJira(config, wiring.jira, add);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
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
    killSwitchRow(config, wiring, add);

    return report(checks, values.json === true, io);
  },
};

/**
 * The kill switch as the write server judges it: the record verified against the trust file's policy keys
 * and compared with the newest one the server's journal holds (a forged, garbled or rolled-back file is a
 * FAIL, as the server refuses writes on it). Without a trust file or journal it can only be read unverified.
 */
function killSwitchRow(config: ServerConfig, wiring: GateWiring | undefined, add: Add): void {
  if (!wiring?.trust || !wiring.journal) {
    const kill = readKillSwitch(config.home.killSwitchFile);
    add('kill switch', 'warn', `${kill ? `writes disabled since ${kill.disabled_at}` : 'writes enabled'} (not verified: no trust file or state journal to check it against)`);
    return;
  }
  try {
    const verdict = new KillSwitch(config.home.killSwitchFile, wiring.trust.store, wiring.journal).inspect();
    if (verdict.allowed) add('kill switch', 'ok', 'writes enabled');
    else if (verdict.code === 'WRITES_DISABLED') add('kill switch', 'warn', verdict.message);
    else add('kill switch', 'FAIL', `${verdict.code}: ${verdict.message}`);
  } catch (error) {
    add('kill switch', 'FAIL', `${codeOf(error, 'JOURNAL_INVALID')}: ${describeError(error)}`);
  }
}

async function checkToken(config: ServerConfig, wpc: VerifiedWpc, verifier: CstVerifier, scopeVerifier: ClawscopeVerifier | undefined, add: Add): Promise<void> {
  try {
    const token = new TokenReader(config.token).current();
    if (token === undefined) {
      add('CST', wpc.policy.runtime.require_cst ? 'FAIL' : 'warn', 'no token (CLAW_CST_FILE or CLAW_CST)');
      return;
    }
    // A clawscope token (CLAW_SCOPE_URL set) is checked by its own lane, introspection included.
    const verified = scopeVerifier && isClawscopeToken(token) ? await scopeVerifier.verify(token, wpc) : await verifier.verify(token, wpc);
    const remaining = verified.claims.exp - Math.floor(Date.now() / 1000);
    add('CST', remaining < 60 ? 'warn' : 'ok', `jti ${verified.claims.jti}, ${remaining}s left, scope ${verified.claims.scope.operations.join(',')} on ${verified.claims.scope.projects.join(',')}`);
  } catch (error) {
    add('CST', 'FAIL', `${codeOf(error, '')} ${describeError(error)}`.trim());
  }
}
