import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  BundleError,
  checkPlanAgainstJira,
  exceptionsAtLeast,
  formatProblem,
  importGatewayReceipts,
  loadGatewayKeys,
  renderReport,
  renderRollbackMarkdown,
  listReceiptFiles,
  resolveBundleDir,
  reviewBundle,
  rollbackPlan,
  sealBundle,
  SEVERITIES,
  verifyBundle,
  writeReport,
  type BundleReview,
  type BundleVerification,
  type GatewayKeys,
  type ReviewOptions,
  type Severity,
} from '../bundle/index.js';
import { loadSigningKey } from '../keys/store.js';
import { findBundleJob, sessionIndexFile } from '../gate/session-index.js';
import { headsDirOf, receiptPublicKey } from '../receipts/heads.js';
import { TrustStore } from '../keys/trust.js';
import { JiraClient } from '../jira/client.js';
import { loadJiraConfig } from '../jira/config.js';
import { HASH_ADDRESS } from '../util/canonical.js';
import { parseCommandArgs, requirePositional } from './args.js';
import { homeOf, trustFileOf } from './common.js';
import { EXIT, UsageError, type CliIo, type CommandSpec } from './io.js';
import { JOB_ID } from '../config/server-config.js';

/**
 * `claw-jira bundle …`: seal, verify, review, rollback-plan, report, import-gateway. Exit codes as everywhere:
 * 0 ok, 1 the check ran and failed (tampering found, exceptions to review), 2 usage, 3 could not run.
 */
function bundleDir(io: CliIo, positionals: string[]): string {
  return resolveBundleDir(requirePositional(positionals, 0, 'dir'), io.cwd, homeOf(io));
}

/**
 * Review and rollback read receipts only: a folder with none is the wrong path, not a clean bundle, and must
 * not let a pipeline step pass.
 */
function bundleWithReceipts(io: CliIo, positionals: string[]): string {
  const dir = bundleDir(io, positionals);
  if (listReceiptFiles(dir).length === 0) throw new BundleError('BUNDLE_NOT_FOUND', `${dir} holds no receipts: not a proof bundle`);
  return dir;
}

function count(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number`);
  return Number(value);
}

/**
 * The gateway keys verify and report check imported gateway receipts against: --gateway-trust, else
 * CLAW_GATEWAY_TRUST, else the operator's own $CLAW_HOME/gateway-trust.json. Never the copy inside the bundle
 * (whoever forged the receipts would ship his own key there): without one of these, gateway receipts do not verify.
 */
export async function gatewayKeysOf(io: CliIo, path: string | undefined): Promise<GatewayKeys | undefined> {
  const own = join(homeOf(io).root, 'gateway-trust.json');
  const chosen = path ?? io.env.CLAW_GATEWAY_TRUST ?? (existsSync(own) ? own : undefined);
  return chosen === undefined ? undefined : loadGatewayKeys(resolve(io.cwd, chosen));
}

const sealSpec = {
  name: 'bundle seal',
  summary: "seal a job's proof bundle: signed manifest (counts, chain heads, Merkle root, WPCs, tokens, keys) and a seal receipt",
  usage: 'claw-jira bundle seal <dir|job> [--json]',
};
const bundleSealCommand: CommandSpec = {
  ...sealSpec,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
    const dir = bundleDir(io, positionals);
    const home = homeOf(io);
    const key = await loadSigningKey(home, 'receipt');
    const headsDir = headsDirOf(home.stateDir);
    const job = sealJob(io, dir, headsDir, key);
    const sealed = await sealBundle(dir, { key, ...(job !== undefined ? { job, headsDir, sessionIndex: sessionIndexFile(home, job) } : {}) });
    if (job === undefined) {
      io.err('warning: no server on this machine recorded a session for this folder (and CLAW_JOB_ID is not set): its session files were not checked against their servers\' records');
    }
    const m = sealed.manifest;
    if (values.json) {
      io.out(
        JSON.stringify({
          bundle: dir,
          job: m.job,
          manifest_hash: sealed.manifestHash,
          merkle_root: m.receipts.merkle_root,
          receipts: m.receipts.total,
          files: m.receipts.files.length,
          seal_file: sealed.sealFile,
          sealed_at: m.sealed_at,
        }),
      );
      return EXIT.ok;
    }
    io.out(`sealed ${dir}`);
    io.out(`  job          ${m.job} (${m.time_window.first ?? '?'} → ${m.time_window.last ?? '?'})`);
    io.out(`  receipts     ${m.receipts.total} in ${m.receipts.files.length} file(s)`);
    io.out(`  merkle root  ${m.receipts.merkle_root}`);
    io.out(`  manifest     ${sealed.manifestHash}  (signed by receipt key ${key.kid})`);
    io.out(`  seal receipt ${sealed.sealFile}`);
    io.out('Keep the manifest hash outside the bundle (ticket, CI log): `bundle verify --manifest-hash` then detects even a complete re-seal.');
    return EXIT.ok;
  },
};

/** The job whose records seal checks: CLAW_JOB_ID, else the servers' signed head records for this folder. */
function sealJob(io: CliIo, dir: string, headsDir: string, key: Parameters<typeof receiptPublicKey>[0]): string | undefined {
  const named = io.env.CLAW_JOB_ID?.trim();
  if (named) {
    if (!JOB_ID.test(named)) throw new UsageError('CLAW_JOB_ID is not a valid job id');
    return named;
  }
  const jobs = findBundleJob(headsDir, dir, receiptPublicKey(key));
  if (jobs.length > 1) throw new BundleError('BUNDLE_MIXED_JOBS', `the servers recorded ${jobs.length} jobs for this folder (${jobs.join(', ')}): set CLAW_JOB_ID`);
  return jobs[0];
}

const verifySpec = {
  name: 'bundle verify',
  summary: 'verify a proof bundle offline: signatures, chains, counts, Merkle root, WPCs, re-evaluated decisions, tokens, approvals, gateway receipts',
  usage: 'claw-jira bundle verify <dir|job> --trust <trust.json> [--gateway-trust <jwks.json>] [--manifest-hash sha256:<hex>] [--workers N] [--json]',
};
export const bundleVerifyCommand: CommandSpec = {
  ...verifySpec,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      trust: { type: 'string' },
      'gateway-trust': { type: 'string' },
      'manifest-hash': { type: 'string' },
      workers: { type: 'string' },
      json: { type: 'boolean' },
    });
    // The auditor's keys, never the bundle's own keys/trust.json: a forger would ship his own key.
    if (values.trust === undefined) throw new UsageError('--trust <trust.json> is required: the public keys you trust, not the bundle\'s own');
    const expect = values['manifest-hash'];
    if (expect !== undefined && !HASH_ADDRESS.test(expect)) throw new UsageError('--manifest-hash must be sha256:<64 hex>');
    const dir = bundleDir(io, positionals);
    const trust = await TrustStore.load(resolve(io.cwd, values.trust));
    const gatewayTrust = await gatewayKeysOf(io, values['gateway-trust']);
    const workers = count(values.workers, '--workers');
    const result = await verifyBundle(dir, {
      trust,
      ...(gatewayTrust ? { gatewayTrust } : {}),
      ...(expect ? { expectManifestHash: expect } : {}),
      ...(workers !== undefined ? { workers } : {}),
    });
    if (values.json) io.out(JSON.stringify(result));
    else printVerification(io, result);
    return result.ok ? EXIT.ok : EXIT.failed;
  },
};

function printVerification(io: CliIo, result: BundleVerification): void {
  const s = result.summary;
  for (const step of result.steps) {
    io.out(`${step.ok ? '✓' : '✗'} ${step.step}${step.problems > 0 ? ` (${step.problems} problem${step.problems === 1 ? '' : 's'})` : ''}${step.note ? `  ${step.note}` : ''}`);
  }
  for (const problem of result.problems) io.out(`  ${problem.step}: ${formatProblem(problem)}`);
  for (const warning of result.warnings) io.out(`warning: ${warning}`);
  const rate = s.elapsed_ms > 0 ? ` in ${s.elapsed_ms} ms` : '';
  io.out(
    result.ok
      ? `VERIFIED job ${s.job}: ${s.receipts} receipts in ${s.receipt_files} files${rate}, merkle root ${s.merkle_root}, manifest ${s.manifest_hash}`
      : `NOT VERIFIED${s.job ? ` job ${s.job}` : ''}: ${result.problems.length} problem(s)`,
  );
}

function reviewOptions(values: { 'max-issues-created'?: string | undefined; 'max-writes'?: string | undefined; 'max-denials'?: string | undefined }): ReviewOptions {
  const options: ReviewOptions = {};
  const created = count(values['max-issues-created'], '--max-issues-created');
  const writes = count(values['max-writes'], '--max-writes');
  const denials = count(values['max-denials'], '--max-denials');
  if (created !== undefined) options.maxIssuesCreated = created;
  if (writes !== undefined) options.maxWrites = writes;
  if (denials !== undefined) options.maxDenials = denials;
  return options;
}

const thresholdFlags = {
  'max-issues-created': { type: 'string' },
  'max-writes': { type: 'string' },
  'max-denials': { type: 'string' },
} as const;

const reviewSpec = {
  name: 'bundle review',
  summary: 'list the exceptions a human must look at (in-doubt writes, fields outside the allowlist, creates over threshold, denials, approvals, budgets, revocations); exit 1 when there are any',
  usage: `claw-jira bundle review <dir|job> [--max-issues-created N] [--max-writes N] [--max-denials N] [--fail-on ${SEVERITIES.join('|')}] [--json]`,
};
export const bundleReviewCommand: CommandSpec = {
  ...reviewSpec,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { ...thresholdFlags, 'fail-on': { type: 'string' }, json: { type: 'boolean' } });
    const failOn = (values['fail-on'] ?? 'low') as Severity;
    if (!SEVERITIES.includes(failOn)) throw new UsageError(`--fail-on must be one of ${SEVERITIES.join(', ')}`);
    const dir = bundleWithReceipts(io, positionals);
    const review = reviewBundle(dir, reviewOptions(values));
    const failing = exceptionsAtLeast(review, failOn);
    if (values.json) io.out(JSON.stringify({ ...review, failing: failing.length }));
    else printReview(io, review, failing.length, failOn);
    return failing.length > 0 ? EXIT.failed : EXIT.ok;
  },
};

function printReview(io: CliIo, review: BundleReview, failing: number, failOn: Severity): void {
  const s = review.stats;
  io.out(
    `job ${review.job ?? '?'}: ${s.decisions} decisions (${s.allowed} allowed, ${s.denied} denied), ${s.writes_succeeded} writes, ${s.issues_created.length} issues created, ${s.in_doubt} in doubt, ${s.approvals_used} approvals used`,
  );
  for (const e of review.exceptions) {
    const where = e.file ? `  ${e.file}${e.line !== undefined ? `:${e.line}` : ''}` : '';
    io.out(`${e.severity.toUpperCase().padEnd(8)} ${e.code}${e.reason ? ` ${e.reason}` : ''}: ${e.message}${where}`);
  }
  io.out(review.exceptions.length === 0 ? 'no exceptions' : `${review.exceptions.length} exception(s), ${failing} at or above ${failOn}`);
}

const rollbackSpec = {
  name: 'bundle rollback-plan',
  summary: 'the Jira calls that revert each recorded change, newest first (a plan: apply it through the gated write server)',
  usage: 'claw-jira bundle rollback-plan <dir|job> [--trust <trust.json>] [--no-verify] [--format md|json] [--check-jira] [-o <file>]',
};

/**
 * A plan reverts what the receipts say was changed: from a forged bundle it would "revert" changes nobody made.
 * So the bundle is verified first (with the auditor's --trust, else this home's trust file); a bundle that does
 * not verify gets no plan unless --no-verify, and then the plan and stderr say so.
 */
async function verifiedForRollback(io: CliIo, dir: string, trustFlag: string | undefined, skip: boolean): Promise<string | undefined> {
  if (skip) {
    const warning = 'NOT VERIFIED: --no-verify was given, so this plan was built from receipts nobody checked; run `claw-jira bundle verify` before applying it';
    io.err(`warning: ${warning}`);
    return warning;
  }
  const trust = await TrustStore.load(trustFileOf(io, homeOf(io), trustFlag));
  const result = await verifyBundle(dir, { trust });
  // A job still running (or just stopped) has no seal yet: its receipts are verified all the same.
  const problems = result.problems.filter((problem) => problem.code !== 'MANIFEST_MISSING');
  if (problems.length > 0) {
    for (const problem of problems.slice(0, 10)) io.err(`  ${formatProblem(problem)}`);
    throw new BundleError('BUNDLE_NOT_VERIFIED', `the bundle does not verify (${problems.length} problem(s)): no rollback plan; investigate, or pass --no-verify to plan anyway`);
  }
  if (problems.length !== result.problems.length) io.err('note: the bundle is not sealed yet; its receipts verify (signatures, chains, decisions)');
  return undefined;
}
export const bundleRollbackPlanCommand: CommandSpec = {
  ...rollbackSpec,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      format: { type: 'string' },
      'check-jira': { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      trust: { type: 'string' },
      'no-verify': { type: 'boolean' },
    });
    const format = values.format ?? 'md';
    if (format !== 'md' && format !== 'json') throw new UsageError('--format must be md or json');
    const dir = bundleWithReceipts(io, positionals);
    const unverified = await verifiedForRollback(io, dir, values.trust, values['no-verify'] === true);
    const plan = rollbackPlan(dir);
    if (unverified) plan.notes.unshift(unverified);
    if (values['check-jira']) {
      const config = loadJiraConfig(io.env);
      const jira = new JiraClient({ baseUrl: config.baseUrl, auth: config.auth, timeoutMs: config.timeoutMs, maxResponseBytes: config.maxResponseBytes });
      const unreadable = await checkPlanAgainstJira(plan, jira);
      if (unreadable > 0) io.err(`warning: ${unreadable} issue(s) could not be read from Jira; their steps are unchecked`);
    }
    const text = format === 'json' ? JSON.stringify(plan, null, 2) : renderRollbackMarkdown(plan);
    if (values.output) {
      try {
        writeFileSync(resolve(io.cwd, values.output), `${text}\n`);
      } catch {
        throw new BundleError('REPORT_UNWRITABLE', `cannot write ${values.output}`);
      }
      io.out(`rollback plan (${plan.steps.length} steps) written to ${values.output}`);
    } else {
      io.out(text);
    }
    return EXIT.ok;
  },
};

const reportSpec = {
  name: 'bundle report',
  summary: 'one self-contained HTML page: verdict, policy and keys, timeline, denials, writes with before/after, approvals, exceptions; exit 1 when not verified',
  usage: 'claw-jira bundle report <dir|job> -o <report.html> [--trust <trust.json>] [--gateway-trust <jwks.json>] [--max-issues-created N] [--max-writes N] [--max-denials N]',
};
export const bundleReportCommand: CommandSpec = {
  ...reportSpec,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      output: { type: 'string', short: 'o' },
      trust: { type: 'string' },
      'gateway-trust': { type: 'string' },
      ...thresholdFlags,
    });
    if (values.output === undefined) throw new UsageError('-o <report.html> is required');
    const dir = bundleDir(io, positionals);
    const home = homeOf(io);
    const trustPath = trustFileOf(io, home, values.trust);
    const trust = await TrustStore.load(trustPath);
    const gatewayTrust = await gatewayKeysOf(io, values['gateway-trust']);
    const verification = await verifyBundle(dir, { trust, ...(gatewayTrust ? { gatewayTrust } : {}) });
    const review = reviewBundle(dir, reviewOptions(values));
    const out = resolve(io.cwd, values.output);
    writeReport(out, renderReport(dir, verification, review, { trustLabel: trustPath }));
    io.out(`report written to ${out}: ${verification.ok ? 'VERIFIED' : 'NOT VERIFIED'}, ${review.exceptions.length} exception(s)`);
    return verification.ok ? EXIT.ok : EXIT.failed;
  },
};

const importSpec = {
  name: 'bundle import-gateway',
  summary: 'verify model-gateway receipts (clawproxy envelopes: JSONL, a JSON response with _receipt_envelope, an SSE stream; or one compact JWS per line) and add them to an unsealed bundle',
  usage: 'claw-jira bundle import-gateway <dir|job> <receipts> (--trust <jwks.json|allowlist.json> | --signer-did <did:key>...) [--name <name>] [--json]',
};
export const bundleImportGatewayCommand: CommandSpec = {
  ...importSpec,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      trust: { type: 'string' },
      'signer-did': { type: 'string', multiple: true },
      name: { type: 'string' },
      json: { type: 'boolean' },
    });
    const dids = values['signer-did'] ?? [];
    if (values.trust === undefined && dids.length === 0) {
      throw new UsageError("--trust <jwks.json|allowlist.json> or --signer-did <did:key> is required: the gateway's keys you trust");
    }
    const dir = bundleDir(io, positionals);
    const source = resolve(io.cwd, requirePositional(positionals, 1, 'receipts'));
    const keys = await loadGatewayKeys(values.trust === undefined ? undefined : resolve(io.cwd, values.trust), dids);
    try {
      const imported = importGatewayReceipts(dir, source, { keys, ...(values.name ? { name: values.name } : {}) });
      if (values.json) io.out(JSON.stringify({ path: imported.path, jwks_path: imported.jwksPath, count: imported.count, reserialized: imported.reserialized ?? 0 }));
      else {
        io.out(`imported ${imported.count} gateway receipt(s) into ${imported.path} (keys: ${imported.jwksPath})`);
        if (imported.reserialized) io.err(`note: ${imported.reserialized} receipt(s) came from a pretty-printed JSON response and were written compactly (key order and values unchanged)`);
      }
      return EXIT.ok;
    } catch (error) {
      // Receipts that do not verify are a failed check, not a failure to run.
      if (error instanceof BundleError && error.code === 'GATEWAY_INVALID' && Array.isArray(error.details?.problems)) {
        io.err(`claw-jira bundle import-gateway: GATEWAY_INVALID: ${error.message}`);
        return EXIT.failed;
      }
      throw error;
    }
  },
};

export const bundleCommands: CommandSpec[] = [
  bundleSealCommand,
  bundleVerifyCommand,
  bundleReviewCommand,
  bundleRollbackPlanCommand,
  bundleReportCommand,
  bundleImportGatewayCommand,
];
