import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hashAddress } from '../util/canonical.js';
import { writeFileAtomic } from '../util/files.js';
import type { SigningKey } from '../keys/ed25519.js';
import { TrustStore } from '../keys/trust.js';
import { verifyReceiptChain } from '../receipts/chain.js';
import { ReceiptLog } from '../receipts/log.js';
import { listHeadFiles, receiptPublicKey } from '../receipts/heads.js';
import { readApprovals } from './approvals.js';
import { BundleError } from './errors.js';
import { gatewayKids } from './gateway.js';
import { BUNDLE, gatewayJwksPath, isSealed, listGatewayFiles, listReceiptFiles, SEAL_SERVER, receiptFileName } from './layout.js';
import { manifestBytes, signManifest, type Manifest } from './manifest.js';
import { MerkleBuilder, leafHash, rootAddress } from './merkle.js';
import { lineHashAt, tokenKey, trailingBytes, widenWindow } from './sealed.js';
import { readBundleWpcs } from './wpc-files.js';

export interface SealOptions {
  /** The receipt key (`loadSigningKey(home, 'receipt')`). */
  key: SigningKey;
  now?: Date;
  /**
   * The servers' record of the sessions they opened for this job (`$CLAW_HOME/state/sessions/<job>.jsonl`).
   * Seal refuses a bundle from which a recorded session's receipt file is missing: deleting a whole session
   * before the seal is caught here, where the bundle alone could not show it.
   */
  sessionIndex?: string;
  /**
   * The job the servers recorded for this bundle (`CLAW_JOB_ID` or their head records), and where those
   * records are (`$CLAW_HOME/state/heads`): each recorded session must be in the bundle, at least as long as
   * its recorded head, and have that head at that seq.
   */
  job?: string;
  headsDir?: string;
}

export interface SealResult {
  manifest: Manifest;
  manifestHash: string;
  /** Bundle-relative path of the seal receipt log. */
  sealFile: string;
}

/** The event type of the seal receipt. */
export const SEALED_EVENT = 'bundle.sealed';

/**
 * Seal a bundle: write manifest.json, sign it (manifest.sig), then record the seal as a signed receipt in its
 * own log, receipts/seal-<session>.jsonl, naming the manifest's hash. Refuses a bundle already sealed, and one
 * whose receipt logs are damaged (sealing would certify the damage).
 *
 * Why a seal receipt as well as a signature: a second seal leaves evidence. A new manifest covers every
 * receipt file present, so it covers the first seal's receipt, and verify reports any covered seal file as a
 * re-seal; a manifest swapped without re-sealing no longer matches the hash the seal receipt names.
 */
export async function sealBundle(bundleDir: string, options: SealOptions): Promise<SealResult> {
  if (!existsSync(bundleDir)) throw new BundleError('BUNDLE_NOT_FOUND', `no bundle folder at ${bundleDir}`);
  if (isSealed(bundleDir)) {
    throw new BundleError('BUNDLE_ALREADY_SEALED', 'the bundle is already sealed (manifest.json, manifest.sig or a seal receipt exists)');
  }
  checkReceiptEntries(bundleDir);
  const manifest = await computeManifest(bundleDir, options);
  if (options.job !== undefined && manifest.job !== options.job) {
    throw new BundleError('SEAL_JOB_MISMATCH', `the receipts belong to job ${manifest.job}, but the servers recorded job ${options.job} for this folder`);
  }
  if (options.sessionIndex) checkSessionIndex(bundleDir, options.sessionIndex);
  if (options.headsDir && options.job !== undefined) checkSessionHeads(bundleDir, manifest, options.job, options.headsDir, options.key);
  return writeSeal(bundleDir, manifest, options);
}

/** Server session files are `<server>-<session>.jsonl` regular files; nothing else belongs in `receipts/`. */
const RECEIPT_ENTRY = /^[A-Za-z0-9][A-Za-z0-9._-]*\.jsonl$/;

/**
 * Anything else in `receipts/` (a dot-file, a folder, a file with another suffix) is refused rather than
 * skipped: it is either damage or an attempt to make a check skip the folder.
 */
function checkReceiptEntries(bundleDir: string): void {
  const dir = join(bundleDir, BUNDLE.receipts);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // No receipts folder: BUNDLE_EMPTY below says it better.
  }
  for (const name of names.sort()) {
    let file = false;
    try {
      file = statSync(join(dir, name)).isFile();
    } catch {
      file = false;
    }
    if (!file || !RECEIPT_ENTRY.test(name)) {
      throw new BundleError('BUNDLE_UNEXPECTED_ENTRY', `${BUNDLE.receipts}/${name} is not a receipt file; remove it or find out who put it there; not sealed`);
    }
  }
}

/**
 * Receipts before the seal: each session the servers recorded for this job and this folder must still be in
 * the bundle with at least the receipts they made durable, ending (at that seq) in the head they recorded.
 * Cutting a session back at a line boundary, or replacing its tail, is caught here.
 */
function checkSessionHeads(bundleDir: string, manifest: Manifest, job: string, headsDir: string, key: SigningKey): void {
  const here = realpathSync(bundleDir);
  const byPath = new Map(manifest.receipts.files.map((file) => [file.path, file]));
  for (const { path, record } of listHeadFiles(headsDir, receiptPublicKey(key), job)) {
    if (!record) throw new BundleError('SESSION_HEAD_INVALID', `the session head record ${path} is not signed by this receipt key (edited or damaged); not sealed`);
    if (record.bundle_dir !== here || record.job !== job) continue;
    const sealed = byPath.get(record.file);
    if (!sealed) throw new BundleError('SESSION_MISSING', `the session ${record.file} recorded by its server is missing from the bundle; not sealed`);
    if (sealed.count < record.seq) {
      throw new BundleError(
        'SESSION_TRUNCATED',
        `${record.file} has ${sealed.count} receipt(s) but its server recorded ${record.seq} durable: receipts ${sealed.count + 1}..${record.seq} were removed; not sealed`,
      );
    }
    if (record.seq > 0 && lineHashAt(readFileSync(join(bundleDir, record.file)), record.seq) !== record.head) {
      throw new BundleError('SESSION_HEAD_MISMATCH', `${record.file}:${record.seq} is not the receipt its server recorded as its head (rewritten); not sealed`);
    }
  }
}

function checkSessionIndex(bundleDir: string, index: string): void {
  let text: string;
  try {
    text = readFileSync(index, 'utf8');
  } catch {
    return; // No server recorded a session for this job on this machine (e.g. a bundle sealed elsewhere).
  }
  const here = realpathSync(bundleDir);
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let entry: { bundle_dir?: unknown; file?: unknown };
    try {
      entry = JSON.parse(line) as { bundle_dir?: unknown; file?: unknown };
    } catch {
      continue;
    }
    if (typeof entry.bundle_dir !== 'string' || typeof entry.file !== 'string') continue;
    let sameBundle = false;
    try {
      sameBundle = realpathSync(entry.bundle_dir) === here;
    } catch {
      sameBundle = false;
    }
    if (sameBundle && !existsSync(join(bundleDir, entry.file))) {
      throw new BundleError('SESSION_MISSING', `the session ${entry.file} recorded by its server is missing from the bundle; not sealed`);
    }
  }
}

/**
 * A final line cut by a crash mid-write (RECEIPT_TRUNCATED on the last line and no other problem) does not make
 * a bundle unsealable: the seal records it (length and hash) and verify names it as RECEIPT_TORN_TAIL.
 */
function tornTail(bytes: Buffer, problems: { line: number; code: string }[]): { bytes: number; sha256: string } | undefined {
  if (problems.length !== 1 || problems[0]?.code !== 'RECEIPT_TRUNCATED') return undefined;
  return trailingBytes(bytes);
}

/** Everything the seal states, computed from the bundle as it is now. Reads only. */
export async function computeManifest(bundleDir: string, options: SealOptions): Promise<Manifest> {
  const now = options.now ?? new Date();
  const noKeys = await TrustStore.fromFile({ version: 1, keys: [] });
  const merkle = new MerkleBuilder();
  const files: Manifest['receipts']['files'] = [];
  const kinds = { decision: 0, outcome: 0, event: 0 };
  const jobs = new Set<string>();
  const receiptKids = new Set<string>();
  const wpcRefs = new Map<string, string>();
  const tokens = new Map<string, Manifest['tokens'][number]>();
  const window: Manifest['time_window'] = { first: null, last: null };

  for (const path of listReceiptFiles(bundleDir)) {
    const bytes = readFileSync(join(bundleDir, path));
    const text = bytes.toString('utf8');
    // Signatures are the verifier's business (with the auditor's keys); structure must be sound to seal.
    const chain = verifyReceiptChain(text, noKeys, { skipSignatures: true });
    const torn = tornTail(bytes, chain.problems);
    const problem = chain.problems.find((p) => !torn || p.code !== 'RECEIPT_TRUNCATED');
    if (problem) throw new BundleError('BUNDLE_DAMAGED', `${path}:${problem.line}: ${problem.code}: ${problem.message}`);
    const fileWindow: Manifest['time_window'] = { first: null, last: null };
    for (const { text: line, receipt, line: n } of chain.lines) {
      merkle.add(leafHash(line));
      jobs.add(receipt.job);
      receiptKids.add(receipt.kid);
      if (receipt.kind in kinds) kinds[receipt.kind] += 1;
      if (typeof receipt.time === 'string') widenWindow(fileWindow, receipt.time);
      if (receipt.wpc_hash) wpcRefs.set(receipt.wpc_hash, `${path}:${n}`);
      if (receipt.cst) {
        const { jti, token_hash, sub, exp } = receipt.cst;
        tokens.set(tokenKey(receipt.cst), { jti, token_hash, sub, exp });
      }
    }
    const head = chain.lines[0]?.receipt;
    if (head && path !== receiptFileName(head.server, head.session)) {
      throw new BundleError('BUNDLE_DAMAGED', `${path}: its receipts belong to ${receiptFileName(head.server, head.session)} (copied or renamed); not sealed`);
    }
    files.push({
      path,
      server: head?.server ?? '',
      session: head?.session ?? '',
      count: chain.count,
      head: chain.head,
      first_time: fileWindow.first,
      last_time: fileWindow.last,
      ...(torn ? { torn_tail: torn } : {}),
    });
    widenWindow(window, fileWindow.first, fileWindow.last);
  }
  if (files.length === 0) throw new BundleError('BUNDLE_EMPTY', 'the bundle has no receipts to seal');
  if (jobs.size !== 1) throw new BundleError('BUNDLE_MIXED_JOBS', `the receipts belong to ${jobs.size} jobs: ${[...jobs].join(', ')}`);

  const { wpcs, strays } = readBundleWpcs(bundleDir);
  if (strays[0]) throw new BundleError('BUNDLE_DAMAGED', `${strays[0]} is not a WPC file (wpc/<hex>.json with wpc/<hex>.sig)`);
  for (const wpc of wpcs) {
    if (hashAddress(wpc.bytes) !== wpc.hash) throw new BundleError('BUNDLE_DAMAGED', `${wpc.path} does not hash to its name`);
    if (wpc.signature === undefined) throw new BundleError('BUNDLE_DAMAGED', `${wpc.path} has no signature (${wpc.sigPath})`);
  }
  for (const [hash, where] of wpcRefs) {
    if (!wpcs.some((wpc) => wpc.hash === hash)) {
      throw new BundleError('BUNDLE_DAMAGED', `${where} names WPC ${hash}, which is not in wpc/: copy it (and its .sig) from the registry`);
    }
  }

  const approvals = readApprovals(bundleDir);
  const gateway = listGatewayFiles(bundleDir).map((path) => {
    const jwksPath = gatewayJwksPath(path);
    if (!existsSync(join(bundleDir, jwksPath))) throw new BundleError('BUNDLE_DAMAGED', `${path} has no ${jwksPath}`);
    const bytes = readFileSync(join(bundleDir, path));
    const text = bytes.toString('utf8');
    return {
      path,
      name: path.slice(`${BUNDLE.gateway}/`.length, -'.jsonl'.length),
      count: text.split('\n').filter((line) => line.trim() !== '').length,
      sha256: hashAddress(bytes),
      jwks_path: jwksPath,
      jwks_sha256: hashAddress(readFileSync(join(bundleDir, jwksPath))),
      kids: gatewayKids(text),
    };
  });
  const trustPath = join(bundleDir, BUNDLE.trustFile);

  return {
    v: 1,
    type: 'claw-jira.bundle-manifest',
    job: [...jobs][0] as string,
    sealed_at: now.toISOString(),
    time_window: window,
    receipts: {
      total: merkle.count,
      merkle_root: rootAddress(merkle.root()),
      leaf_order: 'file-name,line',
      files,
      kinds,
    },
    wpcs: wpcs.map((wpc) => ({
      hash: wpc.hash,
      path: wpc.path,
      sig_path: wpc.sigPath,
      sig_sha256: hashAddress(wpc.signature ?? ''),
      signer_kid: wpc.signerKid,
    })),
    tokens: [...tokens.values()].sort((a, b) => (a.jti < b.jti ? -1 : a.jti > b.jti ? 1 : 0)),
    keys: {
      manifest: options.key.kid,
      receipt: [...receiptKids].sort(),
      policy: [...new Set(wpcs.map((wpc) => wpc.signerKid).filter((kid): kid is string => kid !== null))].sort(),
      approver: [...new Set(approvals.map((a) => a.approverKid).filter((kid): kid is string => kid !== undefined))].sort(),
      gateway: [...new Set(gateway.flatMap((g) => g.kids))].sort(),
      trust_file_sha256: existsSync(trustPath) ? hashAddress(readFileSync(trustPath)) : null,
    },
    approvals: approvals.map((a) => ({ path: a.path, request_id: a.requestId, sha256: a.sha256 })),
    gateway,
  };
}

/**
 * Write manifest.json and manifest.sig (each created exclusively: an existing one is never replaced), then the
 * seal receipt. A crash in between leaves a manifest without a seal receipt, which verify reports.
 */
export async function writeSeal(bundleDir: string, manifest: Manifest, options: SealOptions): Promise<SealResult> {
  const now = options.now ?? new Date();
  const bytes = manifestBytes(manifest);
  const manifestHash = hashAddress(bytes);
  const jws = await signManifest(bytes, manifest, options.key, now);
  try {
    writeFileAtomic(join(bundleDir, BUNDLE.manifest), bytes, { exclusive: true });
    writeFileAtomic(join(bundleDir, BUNDLE.manifestSig), `${jws}\n`, { exclusive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new BundleError('BUNDLE_ALREADY_SEALED', 'the bundle is already sealed');
    throw new BundleError('BUNDLE_UNREADABLE', `cannot write the manifest in ${bundleDir}`);
  }
  const session = `${now.toISOString().replace(/[:.-]/g, '').slice(0, 15)}-${randomBytes(4).toString('hex')}`;
  const log = ReceiptLog.open({ bundleDir, job: manifest.job, server: SEAL_SERVER, key: options.key, session });
  try {
    log.append({
      kind: 'event',
      time: now.toISOString(),
      event: {
        type: SEALED_EVENT,
        manifest_hash: manifestHash,
        merkle_root: manifest.receipts.merkle_root,
        receipt_count: manifest.receipts.total,
      },
    });
  } finally {
    log.close();
  }
  return { manifest, manifestHash, sealFile: `${BUNDLE.receipts}/${SEAL_SERVER}-${session}.jsonl` };
}
