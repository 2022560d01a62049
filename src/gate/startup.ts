import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ApprovalStore } from '../approvals/approvals.js';
import { ensureRunId } from '../claw/run-id.js';
import type { ServerConfig } from '../config/server-config.js';
import type { SigningKey } from '../keys/ed25519.js';
import type { TrustStore } from '../keys/trust.js';
import { headsDirOf } from '../receipts/heads.js';
import { ReceiptLog } from '../receipts/log.js';
import type { StateJournal } from '../state/journal.js';
import type { ApprovalPort, BudgetStore, KillSwitchCheck, ReceiptSink } from '../state/ports.js';
import { ensureDir, writeFileAtomic } from '../util/files.js';
import { addressHex, type VerifiedWpc } from '../wpc/registry.js';
import { BudgetLedger } from './budgets.js';
import { KillSwitch } from './kill-switch.js';
import { recordSession } from './session-index.js';

/** What the gate opens at start besides the wiring: the session's receipt sink, the bundle's files, the state. */

export type OpenSink = (session: { job: string; server: 'jira-read' | 'jira-write'; runId: string }) => ReceiptSink;

/** The session's receipt sink: the injected one (e.g. Postgres), or a signed log file in the bundle folder. */
export function openReceiptSink(
  config: ServerConfig,
  session: { job: string; server: 'jira-read' | 'jira-write'; key: SigningKey; busy?: () => boolean },
  openSink: OpenSink | undefined,
): ReceiptSink {
  const { job, server, key, busy } = session;
  ensureDir(config.bundleDir);
  const runId = ensureRunId(config.home, job);
  // The sink records its own session (e.g. a row per session in Postgres); `bundle export` writes the folder.
  if (openSink) return openSink({ job, server, runId });
  const log = ReceiptLog.open({ bundleDir: config.bundleDir, job, server, key, heads: { dir: headsDirOf(config.home.stateDir) }, runId, ...(busy ? { busy } : {}) });
  recordSession(config.home, job, { server, session: log.session, bundle_dir: config.bundleDir, file: relative(config.bundleDir, log.file) });
  return log;
}

/** The bundle holds what a verifier needs besides the receipts: the WPC in force and the public keys. */
export function populateBundle(dir: string, wpc: VerifiedWpc | undefined, trust: TrustStore | undefined): void {
  if (wpc) {
    const hex = addressHex(wpc.hash);
    ensureDir(join(dir, 'wpc'));
    if (!existsSync(join(dir, 'wpc', `${hex}.json`))) writeFileAtomic(join(dir, 'wpc', `${hex}.json`), wpc.bytes);
    if (!existsSync(join(dir, 'wpc', `${hex}.sig`))) writeFileAtomic(join(dir, 'wpc', `${hex}.sig`), `${wpc.signature}\n`);
  }
  if (trust) {
    ensureDir(join(dir, 'keys'));
    writeFileAtomic(join(dir, 'keys', 'trust.json'), `${JSON.stringify(trust.toFile(), null, 2)}\n`);
  }
}

/** The job's budgets, approvals and kill switch: each injected port (e.g. Postgres) replaces its file default. */
export function openState(
  config: ServerConfig,
  job: { job: string; trust: TrustStore; journal: StateJournal },
  injected: { budgets?: BudgetStore; approvals?: ApprovalPort } | undefined,
): { budgets: BudgetStore; approvals: ApprovalPort; killSwitch: KillSwitchCheck } {
  const { trust, journal } = job;
  return {
    budgets: injected?.budgets ?? new BudgetLedger(join(config.home.stateDir, 'budgets'), job.job, journal),
    approvals:
      injected?.approvals ??
      new ApprovalStore(config.home.approvalsDir, {
        journal,
        ...(config.maxPendingApprovals !== undefined ? { maxPending: config.maxPendingApprovals } : {}),
      }),
    killSwitch: new KillSwitch(config.home.killSwitchFile, trust, journal),
  };
}
