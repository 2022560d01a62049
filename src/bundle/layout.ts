import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ClawHome } from '../config/home.js';
import { RECEIPTS_DIR } from '../receipts/log.js';
import { BundleError } from './errors.js';

/**
 * The one place that names the files of a proof bundle, so seal, verify, review and report never disagree:
 *
 *   receipts/<server>-<session>.jsonl   one hash-chained receipt log per server session
 *   receipts/seal-<session>.jsonl       the seal receipt (written by `bundle seal`, not covered by the manifest)
 *   wpc/<hex>.json, wpc/<hex>.sig       the WPCs in force
 *   keys/trust.json                     the public keys the servers used (informative only)
 *   approvals/<request_id>.json         approval requests and signed approvals
 *   gateway/<name>.jsonl (+ .jwks.json) imported model-gateway receipts and the keys they were checked with
 *   manifest.json, manifest.sig         the seal
 */
export const BUNDLE = {
  receipts: RECEIPTS_DIR,
  wpc: 'wpc',
  keys: 'keys',
  trustFile: 'keys/trust.json',
  approvals: 'approvals',
  gateway: 'gateway',
  manifest: 'manifest.json',
  manifestSig: 'manifest.sig',
} as const;

/** The server name of the seal's own receipt log: its file is `receipts/seal-<session>.jsonl`. */
export const SEAL_SERVER = 'seal';

export function isSealFile(relativePath: string): boolean {
  return relativePath.startsWith(`${BUNDLE.receipts}/${SEAL_SERVER}-`);
}

/** Names in a bundle folder, sorted by UTF-16 code units (the Merkle leaf order is by file name). */
function listNames(dir: string, suffix: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  // Only regular files: a directory named like a receipt file is not one (and must not stop the verifier).
  return names.filter((name) => name.endsWith(suffix) && !name.startsWith('.') && isFile(join(dir, name))).sort(compareNames);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * A session's receipt file is named after what its receipts say: `receipts/<server>-<session>.jsonl`. A copy
 * under another name, or a file renamed to pose as another server, no longer matches.
 */
export function receiptFileName(server: string, session: string): string {
  return `receipts/${server}-${session}.jsonl`;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every receipt file, as a bundle-relative path (`receipts/jira-write-….jsonl`), in Merkle order. */
export function listReceiptFiles(bundleDir: string): string[] {
  return listNames(join(bundleDir, BUNDLE.receipts), '.jsonl').map((name) => `${BUNDLE.receipts}/${name}`);
}

export function listApprovalFiles(bundleDir: string): string[] {
  return listNames(join(bundleDir, BUNDLE.approvals), '.json').map((name) => `${BUNDLE.approvals}/${name}`);
}

export function listGatewayFiles(bundleDir: string): string[] {
  return listNames(join(bundleDir, BUNDLE.gateway), '.jsonl').map((name) => `${BUNDLE.gateway}/${name}`);
}

/** `gateway/<name>.jsonl` → `gateway/<name>.jwks.json`: the keys the receipts were checked with at import. */
export function gatewayJwksPath(receiptsPath: string): string {
  return receiptsPath.replace(/\.jsonl$/, '.jwks.json');
}

/** Files under `wpc/`, each by its bundle-relative path. */
export function listWpcFiles(bundleDir: string): string[] {
  return listNames(join(bundleDir, BUNDLE.wpc), '').map((name) => `${BUNDLE.wpc}/${name}`);
}

/**
 * Files a bundle may hold that no step accounts for are reported, not ignored: an auditor should know that
 * something else was put there.
 */
export function listAllFiles(bundleDir: string, prefix = ''): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(join(bundleDir, prefix));
  } catch {
    return out;
  }
  for (const name of names.sort(compareNames)) {
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    let isDir = false;
    try {
      isDir = statSync(join(bundleDir, rel)).isDirectory();
    } catch {
      continue;
    }
    if (isDir) out.push(...listAllFiles(bundleDir, rel));
    else out.push(rel);
  }
  return out;
}

/**
 * A bundle argument is a folder, or a job id naming `$CLAW_HOME/bundles/<job>`: auditors receive folders,
 * operators think in jobs.
 */
export function resolveBundleDir(arg: string, cwd: string, home?: ClawHome): string {
  const direct = resolve(cwd, arg);
  if (existsSync(direct) && statSync(direct).isDirectory()) return direct;
  if (home && /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(arg)) {
    const byJob = join(home.bundlesDir, arg);
    if (existsSync(byJob) && statSync(byJob).isDirectory()) return byJob;
  }
  throw new BundleError('BUNDLE_NOT_FOUND', `no bundle folder at ${direct}${home ? ` and no job ${arg} in ${home.bundlesDir}` : ''}`);
}

/** Sealed means a manifest, its signature or a seal receipt exists: any of them, since a seal may be partial. */
export function isSealed(bundleDir: string): boolean {
  return (
    existsSync(join(bundleDir, BUNDLE.manifest)) ||
    existsSync(join(bundleDir, BUNDLE.manifestSig)) ||
    listReceiptFiles(bundleDir).some(isSealFile)
  );
}
