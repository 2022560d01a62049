import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { receiptHash } from '../receipts/sign.js';
import type { Receipt } from '../receipts/types.js';
import { wpcDocumentFromBytes } from '../wpc/document.js';
import type { Wpc } from '../wpc/schema.js';
import { readApprovals, type ApprovalRecord } from './approvals.js';
import { BundleError } from './errors.js';
import { readGatewayEntries, type GatewayEntry } from './gateway.js';
import { BUNDLE, isSealFile, listGatewayFiles, listReceiptFiles } from './layout.js';
import { parseManifest, type Manifest } from './manifest.js';
import { readBundleWpcs } from './wpc-files.js';

export interface LoadedReceipt {
  file: string;
  line: number;
  /** `sha256:` of the line: what an outcome's `decision_ref` names. */
  hash: string;
  receipt: Receipt;
}

/**
 * What a bundle says, read as is: review, rollback-plan and report work on this. Nothing here is verified
 * (that is `verifyBundle`'s job, and the report shows its verdict beside the content).
 */
export interface BundleContents {
  dir: string;
  job: string | null;
  /** Server receipts (seal receipts excluded), by file name, then line. */
  receipts: LoadedReceipt[];
  byHash: Map<string, LoadedReceipt>;
  /** Policies whose bytes hash to their address. */
  wpcs: Map<string, Wpc>;
  approvals: ApprovalRecord[];
  gateway: { path: string; entries: GatewayEntry[] }[];
  manifest: Manifest | undefined;
  /** Lines that are not receipts (damaged or cut), so a reader knows the view is partial. */
  unreadable: { file: string; line: number }[];
}

export function loadBundle(dir: string): BundleContents {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BundleError('BUNDLE_NOT_FOUND', `no bundle folder at ${dir}`);
  const receipts: LoadedReceipt[] = [];
  const unreadable: { file: string; line: number }[] = [];
  for (const file of listReceiptFiles(dir)) {
    if (isSealFile(file)) continue;
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    lines.forEach((text, i) => {
      try {
        const receipt = JSON.parse(text) as Receipt;
        if (typeof receipt !== 'object' || receipt === null || typeof receipt.kind !== 'string') throw new Error('shape');
        receipts.push({ file, line: i + 1, hash: receiptHash(text), receipt });
      } catch {
        unreadable.push({ file, line: i + 1 });
      }
    });
  }
  const wpcs = new Map<string, Wpc>();
  for (const wpc of readBundleWpcs(dir).wpcs) {
    try {
      wpcs.set(wpc.hash, wpcDocumentFromBytes(wpc.bytes, wpc.hash).policy);
    } catch {
      // Not authentic: review reports writes it cannot check.
    }
  }
  let manifest: Manifest | undefined;
  if (existsSync(join(dir, BUNDLE.manifest))) {
    const parsed = parseManifest(new Uint8Array(readFileSync(join(dir, BUNDLE.manifest))));
    if (parsed.ok) manifest = parsed.manifest;
  }
  return {
    dir,
    job: manifest?.job ?? receipts[0]?.receipt.job ?? null,
    receipts,
    byHash: new Map(receipts.map((r) => [r.hash, r])),
    wpcs,
    approvals: readApprovals(dir),
    gateway: listGatewayFiles(dir).map((path) => ({ path, entries: readGatewayEntries(readFileSync(join(dir, path), 'utf8')) })),
    manifest,
    unreadable,
  };
}

/** Newest first by recorded time; ties (same millisecond) by position, later lines first. */
export function newestFirst(a: LoadedReceipt, b: LoadedReceipt): number {
  const ta = a.receipt.time ?? '';
  const tb = b.receipt.time ?? '';
  if (ta !== tb) return ta < tb ? 1 : -1;
  if (a.file !== b.file) return a.file < b.file ? 1 : -1;
  return b.line - a.line;
}
