import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { ConfigProblem, ServerConfig } from '../config/server-config.js';
import { parentUser, type ParentUser } from '../config/same-user.js';
import { checkStrictModes, unsafeStat, type TrustedPath } from '../config/strict-modes.js';
import { ReplayStore, type ReplayClaims } from '../cst/replay-store.js';
import { FileRevocationSource, UrlRevocationSource, type RevocationAnchor } from '../cst/revocation.js';
import { CstVerifier } from '../cst/verify.js';
import type { ClawscopeVerifier } from '../claw/clawscope.js';
import { openClawscopeLane } from '../claw/clawscope-config.js';
import { StateJournal, journalFileOf } from '../state/journal.js';
import { journalRevocationAnchor } from '../state/revocation-anchor.js';
import { JiraClient, type JiraClientOptions } from '../jira/client.js';
import type { SigningKey } from '../keys/ed25519.js';
import { adminKeysInServerHome, loadSigningKey, readableAdminKeys } from '../keys/store.js';
import { readTrustFile, type LoadedTrust } from '../keys/trust.js';
import { ClawError, codeOf, describeError } from '../util/errors.js';
import { WpcRegistry, registryBackend, addressHex, LocalRegistryBackend, type VerifiedWpc } from '../wpc/registry.js';

/** One thing that keeps a server from being ready: a stable code, a message naming the path or setting. */
export interface StartupProblem {
  code: string;
  message: string;
  /** The start-up step it belongs to (doctor's row name). */
  step?: string;
}

export interface WiringOptions {
  /** Injected by tests; built from the config otherwise. */
  jira?: JiraClient;
  /** doctor's bounds for its one Jira probe (shorter timeout, no retries). */
  jiraOptions?: Partial<Pick<JiraClientOptions, 'timeoutMs' | 'retry'>>;
  /** doctor passes a scratch folder so checking a token never marks it used. */
  replayDir?: string;
  /** A shared replay store (`serve` on Postgres); otherwise the file store under CLAW_HOME (or replayDir). */
  replay?: ReplayClaims;
  /** A shared revocation high-water mark (`serve` on Postgres); otherwise the server's state journal. */
  revocationAnchor?: RevocationAnchor;
  now?: () => Date;
  /** Injected by tests: who started this process. */
  parent?: ParentUser;
  /** Injected by tests: the uid files must belong to (besides root). */
  uid?: number;
}

/** Everything a gate needs that can be opened before the first call, or the problems that prevented it. */
export interface GateWiring {
  problems: StartupProblem[];
  /** Said on stderr and by doctor, but not a refusal (e.g. same OS user as the client). */
  warnings: StartupProblem[];
  parent: ParentUser;
  trust?: LoadedTrust;
  receiptKey?: SigningKey;
  wpc?: VerifiedWpc;
  /** The registry file the WPC came from, when local: the gate refuses calls once it changes. */
  wpcFile?: string;
  verifier?: CstVerifier;
  /** The clawscope token lane (CLAW_SCOPE_URL set): tokens whose `typ` is `JWT` are verified by it. */
  scopeVerifier?: ClawscopeVerifier;
  /** The server's signed state journal (approvals used, budget spent, newest revocation list and kill switch). */
  journal?: StateJournal;
  jira?: JiraClient;
  /**
   * Whether the server may write below its home and bundle folder: not when the home, the bundle folder or
   * the job id is in doubt (a job id like `../x` must not create anything, anywhere).
   */
  diskSafe: boolean;
}

/** Settings whose problems make the server's own folders unknown: nothing is written then. */
const PATH_SETTINGS = new Set(['CLAW_HOME', 'CLAW_ADMIN_HOME', 'CLAW_JOB_ID', 'CLAW_BUNDLE_DIR']);

/**
 * The one start-up path of both servers and of `doctor`: what one accepts, the other accepts, so doctor can
 * never print "ok" for a trust file the server refuses. Never throws; whatever fails is a problem.
 */
export async function wireGate(config: ServerConfig, configProblems: readonly ConfigProblem[], options: WiringOptions = {}): Promise<GateWiring> {
  const problems: StartupProblem[] = configProblems.map((problem) => ({
    code: 'CONFIG_INVALID',
    message: `${problem.variable} ${problem.message}`,
    step: `setting ${problem.variable}`,
  }));
  const warnings: StartupProblem[] = [];
  const attempt = async <T>(step: string, fallback: string, fn: () => Promise<T> | T): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (error) {
      problems.push({ code: codeOf(error, fallback), message: describeError(error), step });
      return undefined;
    }
  };
  const wiring: GateWiring = {
    problems,
    warnings,
    parent: options.parent ?? parentUser(),
    diskSafe: !configProblems.some((problem) => PATH_SETTINGS.has(problem.variable)),
  };

  checkUser(wiring, config);
  const adminKeys = adminKeysInServerHome(config.home);
  if (adminKeys.length > 0) {
    problems.push({
      code: 'ADMIN_KEY_IN_SERVER_HOME',
      message: `this server can read an admin private key in its own home (${adminKeys.join(', ')}): move it to CLAW_ADMIN_HOME ('claw-jira init' does) or out of the server's reach`,
      step: 'admin keys',
    });
  }
  const uid = options.uid;
  for (const unsafe of checkStrictModes(trustedPaths(config), uid !== undefined ? { uid } : {})) {
    problems.push({ code: unsafe.code, message: unsafe.message, step: 'permissions' });
  }

  wiring.trust = await attempt('trust file', 'TRUST_UNREADABLE', () => loadTrustFile(config, uid));
  if (wiring.trust && !config.trustPin) {
    warnings.push({
      code: 'TRUST_NOT_PINNED',
      message: `CLAW_TRUST_SHA256 is not set: an edited ${wiring.trust.path} would be trusted; pin it with CLAW_TRUST_SHA256=${wiring.trust.hash}`,
      step: 'trust pin',
    });
  }
  wiring.receiptKey = await attempt('receipt key', 'KEY_UNREADABLE', () => loadSigningKey(config.home, 'receipt'));
  // The server's own signed record of approvals used, budget spent, the newest revocation list and kill
  // switch seen: what the files an attacker can rewrite are checked against. Opening it only reads.
  const receiptKey = wiring.receiptKey;
  if (receiptKey) {
    wiring.journal = await attempt('state journal', 'STATE_JOURNAL_UNAVAILABLE', () => StateJournal.open(journalFileOf(config.home.stateDir), receiptKey));
  }

  const trust = wiring.trust?.store;
  if (trust && config.wpcHash) {
    await attempt('WPC', 'WPC_FAILED', async () => {
      const registry = new WpcRegistry(registryBackend(config.registry), trust);
      wiring.wpc = await registry.get(config.wpcHash);
      if (registry.backend instanceof LocalRegistryBackend) wiring.wpcFile = join(registry.backend.location, `${addressHex(config.wpcHash)}.json`);
    });
  }
  const journal = wiring.journal;
  if (trust && wiring.wpc && config.job && journal) {
    const anchor = options.revocationAnchor ?? journalRevocationAnchor(journal);
    // A plain-http revocation URL to a remote host is refused here (REVOCATION_URL_INSECURE).
    wiring.verifier = await attempt('CST', 'CST_FAILED', () =>
      new CstVerifier({
        trust,
        audience: config.audience,
        job: config.job,
        replay: options.replay ?? new ReplayStore(options.replayDir ?? config.home.replayDir),
        revocation:
          config.revocation.kind === 'url'
            ? new UrlRevocationSource(config.revocation.url, trust, { anchor })
            : new FileRevocationSource(config.revocation.path, trust, { required: true, anchor }),
        clockSkewSeconds: config.clockSkewSeconds,
        ...(options.now ? { now: options.now } : {}),
      }),
    );
  }
  const clawscope = config.clawscope;
  if (clawscope && wiring.wpc && config.job) {
    const lane = {
      audience: config.audience,
      job: config.job,
      replay: options.replay ?? new ReplayStore(options.replayDir ?? config.home.replayDir),
      clockSkewSeconds: config.clockSkewSeconds,
      now: options.now ?? (() => new Date()),
    };
    wiring.scopeVerifier = await attempt('clawscope', 'CLAWSCOPE_KEYS_INVALID', () => openClawscopeLane(clawscope, lane));
  }
  if (options.jira) wiring.jira = options.jira;
  else if (config.jira) {
    const jira = config.jira;
    wiring.jira = await attempt('Jira', 'JIRA_FAILED', () =>
      new JiraClient({ baseUrl: jira.baseUrl, auth: jira.auth, timeoutMs: jira.timeoutMs, maxResponseBytes: jira.maxResponseBytes, ...options.jiraOptions }),
    );
  }
  // The trust file's own check (on its descriptor) repeats the path check word for word: say it once.
  const unique = new Map<string, StartupProblem>();
  for (const problem of problems) if (!unique.has(`${problem.code} ${problem.message}`)) unique.set(`${problem.code} ${problem.message}`, problem);
  wiring.problems = [...unique.values()];
  return wiring;
}

function checkUser(wiring: GateWiring, config: ServerConfig): void {
  const parent = wiring.parent;
  if (parent.kind !== 'same') return;
  // Outside its home, so not a refusal; but whoever runs as this user (the agent's shell) can sign with them.
  const adminKeys = readableAdminKeys(config.home);
  if (adminKeys.length > 0) {
    wiring.warnings.push({
      code: 'ADMIN_KEYS_READABLE',
      message: `this server's OS user can read admin private keys (${adminKeys.join(', ')}): so can an agent with a shell as this user`,
      step: 'admin keys',
    });
  }
  const problem: StartupProblem = {
    code: 'SAME_USER_AS_CLIENT',
    message:
      `this server runs as the same OS user (uid ${parent.uid}) as the process that started it (pid ${parent.ppid}): ` +
      'an agent with a shell as that user can read its Jira credential and receipt key; run it as its own user (README: Deployment)',
    step: 'OS user',
  };
  if (config.requireSeparateUser) wiring.problems.push(problem);
  else wiring.warnings.push(problem);
}

/** Every file and folder the server trusts (relies on not being changed by anyone else). */
function trustedPaths(config: ServerConfig): TrustedPath[] {
  const home = config.home;
  const paths: TrustedPath[] = [
    { path: home.root },
    { path: config.trustFile },
    { path: home.keysDir },
    { path: home.privateKeyFile('receipt') },
    { path: home.stateDir, recursive: true },
    { path: home.approvalsDir, recursive: true },
  ];
  if (!/^https?:\/\//i.test(config.registry)) paths.push({ path: config.registry, recursive: true });
  if (config.revocation.kind === 'file') paths.push({ path: config.revocation.path });
  if (config.token.kind === 'file') paths.push({ path: config.token.path });
  return paths;
}

/**
 * The trust file as every gate loads it (modes and owner checked on the descriptor, then pinned and parsed from
 * the same bytes): `serve` checks it once at start with this, so a bad trust file stops the service.
 */
export function loadTrustFile(config: ServerConfig, uid?: number): Promise<LoadedTrust> {
  return readTrustFile(config.trustFile, { ...(config.trustPin ? { pin: config.trustPin } : {}), check: (path, stat) => checkOpenedFile(path, stat, uid) });
}

/** The same rules on the descriptor the trust file is read through: what was checked is what is parsed. */
function checkOpenedFile(path: string, stat: Stats, uid: number | undefined): void {
  if (process.platform === 'win32' || typeof process.geteuid !== 'function') return;
  const unsafe = unsafeStat(path, stat, uid ?? process.geteuid());
  if (unsafe) throw new ClawError(unsafe.code, unsafe.message);
}
