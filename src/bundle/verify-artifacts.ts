import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyApproval, type ApprovalClaims } from '../approvals/approvals.js';
import type { TrustStore } from '../keys/trust.js';
import { hashAddress, hashOfJson } from '../util/canonical.js';
import { codeOf, isClawError } from '../util/errors.js';
import { wpcDocumentFromBytes } from '../wpc/document.js';
import type { Wpc } from '../wpc/schema.js';
import { verifyWpcSignature } from '../wpc/signature.js';
import { readApprovals, type ApprovalRecord } from './approvals.js';
import { gatewayCopyNotes, verifyGatewayText, type GatewayKeys } from './gateway.js';
import { BUNDLE, gatewayJwksPath, isSealFile, listAllFiles, listGatewayFiles, listReceiptFiles } from './layout.js';
import { parseManifest, verifyManifestSignature, type Manifest } from './manifest.js';
import type { AddProblem } from './problems.js';
import { SEALED_EVENT } from './seal.js';
import { compareSealed } from './sealed.js';
import { readBundleWpcs } from './wpc-files.js';

/**
 * The steps of `bundle verify` about everything but the receipt lines: the manifest and its signature, the
 * seal receipt, the WPCs, approvals and gateway receipts. Each adds problems; none throws for what it finds.
 */
export async function checkManifest(
  bundleDir: string,
  trust: TrustStore,
  expectManifestHash: string | undefined,
  add: AddProblem,
): Promise<{ manifest: Manifest | undefined; hash: string | null; signer: string | null }> {
  const path = join(bundleDir, BUNDLE.manifest);
  if (!existsSync(path)) {
    add({ step: 'manifest', code: 'MANIFEST_MISSING', file: BUNDLE.manifest, message: 'the bundle is not sealed (no manifest.json)' });
    return { manifest: undefined, hash: null, signer: null };
  }
  const bytes = new Uint8Array(readFileSync(path));
  const hash = hashAddress(bytes);
  const parsed = parseManifest(bytes);
  if (!parsed.ok) add({ step: 'manifest', code: parsed.code, file: BUNDLE.manifest, message: parsed.message });
  let signer: string | null = null;
  const sigPath = join(bundleDir, BUNDLE.manifestSig);
  if (!existsSync(sigPath)) {
    add({ step: 'manifest', code: 'MANIFEST_SIGNATURE_MISSING', file: BUNDLE.manifestSig, message: 'manifest.sig is missing' });
  } else {
    const check = await verifyManifestSignature(readFileSync(sigPath, 'utf8'), bytes, trust);
    if (check.ok) signer = check.payload.kid;
    else add({ step: 'manifest', code: check.code, file: check.code === 'MANIFEST_HASH_MISMATCH' ? BUNDLE.manifest : BUNDLE.manifestSig, message: check.message });
    if (check.ok && parsed.ok && check.payload.job !== parsed.manifest.job) {
      add({ step: 'manifest', code: 'MANIFEST_SIGNATURE_INVALID', file: BUNDLE.manifestSig, message: 'the signature is for another job' });
    }
  }
  if (expectManifestHash !== undefined && expectManifestHash !== hash) {
    add({
      step: 'manifest',
      code: 'MANIFEST_NOT_EXPECTED',
      file: BUNDLE.manifest,
      message: `manifest.json is ${hash}, not the expected ${expectManifestHash}: the bundle was sealed again`,
    });
  }
  return { manifest: parsed.ok ? parsed.manifest : undefined, hash, signer };
}

export async function checkWpcs(
  bundleDir: string,
  trust: TrustStore,
  manifest: Manifest | undefined,
  add: AddProblem,
): Promise<{ authentic: { hash: string; policy: Wpc }[]; present: Set<string>; signers: Set<string> }> {
  const { wpcs, strays } = readBundleWpcs(bundleDir);
  const authentic: { hash: string; policy: Wpc }[] = [];
  const signers = new Set<string>();
  for (const stray of strays) add({ step: 'wpc', code: 'WPC_UNEXPECTED_FILE', file: stray, message: 'not a WPC file (wpc/<hex>.json with wpc/<hex>.sig)' });
  for (const wpc of wpcs) {
    try {
      authentic.push({ hash: wpc.hash, policy: wpcDocumentFromBytes(wpc.bytes, wpc.hash).policy });
    } catch (error) {
      add({ step: 'wpc', code: codeOf(error, 'WPC_INVALID'), file: wpc.path, message: isClawError(error) ? error.message : 'invalid WPC' });
    }
    if (wpc.signature === undefined || wpc.signature.trim() === '') {
      add({ step: 'wpc', code: 'WPC_SIGNATURE_MISSING', file: wpc.sigPath, message: 'the WPC has no signature' });
    } else {
      try {
        const signer = await verifyWpcSignature(wpc.signature, wpc.hash, trust);
        signers.add(signer.kid);
      } catch (error) {
        add({ step: 'wpc', code: codeOf(error, 'WPC_SIGNATURE_INVALID'), file: wpc.sigPath, message: isClawError(error) ? error.message : 'bad signature' });
      }
    }
  }
  const present = new Set(wpcs.map((w) => w.hash));
  if (manifest) {
    const found = compareSealed(manifest.wpcs, wpcs, (sealed) => sealed.hash, (wpc) => wpc.hash);
    for (const sealed of found.missing) add({ step: 'wpc', code: 'WPC_MISSING', file: sealed.path, message: `WPC ${sealed.hash} was sealed but is gone` });
    for (const { sealed, present: now } of found.matched) {
      if (hashAddress(now.signature ?? '') !== sealed.sig_sha256) {
        add({ step: 'wpc', code: 'WPC_SIGNATURE_CHANGED', file: sealed.sig_path, message: 'the WPC signature file is not the one sealed' });
      }
    }
    for (const wpc of found.added) add({ step: 'wpc', code: 'WPC_ADDED', file: wpc.path, message: 'a WPC that was not sealed' });
  }
  return { authentic, present, signers };
}

/**
 * Exactly one seal receipt outside the manifest, naming this manifest. A seal receipt the manifest covers means
 * the bundle was sealed before and sealed again; one naming another manifest means the manifest was replaced.
 */
export function checkSeal(bundleDir: string, receiptFiles: string[], manifest: Manifest | undefined, manifestHash: string | null, add: AddProblem): void {
  if (!manifest) return;
  const covered = new Set(manifest.receipts.files.map((f) => f.path));
  const seals = receiptFiles.filter(isSealFile);
  let matching = 0;
  for (const path of seals) {
    if (covered.has(path)) {
      add({ step: 'seal', code: 'BUNDLE_RESEALED', file: path, line: 1, message: 'an earlier seal of this bundle is covered by the current manifest: the bundle was sealed twice' });
      continue;
    }
    const lines = readFileSync(join(bundleDir, path), 'utf8').split('\n').filter((l) => l !== '');
    let event: { type?: unknown; manifest_hash?: unknown } | undefined;
    let job: unknown;
    try {
      const receipt = JSON.parse(lines[0] ?? '') as { event?: { type?: unknown; manifest_hash?: unknown }; job?: unknown };
      event = receipt.event;
      job = receipt.job;
    } catch {
      event = undefined;
    }
    if (!event || event.type !== SEALED_EVENT) {
      add({ step: 'seal', code: 'SEAL_MALFORMED', file: path, line: 1, message: `not a ${SEALED_EVENT} receipt` });
      continue;
    }
    if (lines.length > 1) add({ step: 'seal', code: 'RECEIPT_APPENDED', file: path, line: 2, message: 'a seal log holds exactly one receipt' });
    if (job !== manifest.job) add({ step: 'seal', code: 'SEAL_MALFORMED', file: path, line: 1, message: 'the seal receipt is for another job' });
    if (event.manifest_hash === manifestHash) matching += 1;
    else {
      add({
        step: 'seal',
        code: seals.length > 1 ? 'BUNDLE_RESEALED' : 'SEAL_MANIFEST_MISMATCH',
        file: path,
        line: 1,
        message: `this seal names manifest ${String(event.manifest_hash)}, but manifest.json is ${String(manifestHash)}: the manifest was replaced`,
      });
    }
  }
  if (matching === 0 && !seals.some((p) => !covered.has(p))) {
    add({ step: 'seal', code: 'SEAL_MISSING', file: BUNDLE.receipts, message: 'no seal receipt (receipts/seal-*.jsonl) names this manifest' });
  }
}

/** Step layout: the bundle has receipts; a file outside the layout is not covered by the seal, and is named. */
export function checkLayout(bundleDir: string, add: AddProblem, warnings: string[]): string[] {
  const receiptFiles = listReceiptFiles(bundleDir);
  if (receiptFiles.length === 0) add({ step: 'layout', code: 'BUNDLE_NO_RECEIPTS', file: BUNDLE.receipts, message: 'the bundle has no receipt files' });
  for (const file of listAllFiles(bundleDir)) {
    if (!LAYOUT.test(file)) warnings.push(`${file} is not part of the bundle layout and is not covered by the seal`);
  }
  return receiptFiles;
}

const LAYOUT = /^(receipts\/[^/]+\.jsonl|wpc\/[^/]+|keys\/trust\.json|approvals\/[^/]+\.json|gateway\/[^/]+\.(jsonl|jwks\.json)|claw\/[^/]+\.json|manifest\.(json|sig))$/;

/** Step wpc: every WPC a receipt names is in the bundle. */
export function checkWpcReferences(referenced: ReadonlySet<string>, present: ReadonlySet<string>, add: AddProblem): void {
  for (const hash of referenced) {
    if (!present.has(hash)) {
      add({ step: 'wpc', code: 'WPC_MISSING', file: `${BUNDLE.wpc}/${hash.slice(7)}.json`, message: `receipts name WPC ${hash}, which is not in the bundle` });
    }
  }
}

/**
 * Step files: keys/trust.json is the one sealed (or absent as sealed). It is informative only, so a receipt key
 * it lists that the auditor's own trust lacks is a warning, not a failure.
 */
export function checkTrustFile(bundleDir: string, manifest: Manifest | undefined, trust: TrustStore, add: AddProblem, warnings: string[]): void {
  if (manifest) {
    const path = join(bundleDir, BUNDLE.trustFile);
    const sealedHash = manifest.keys.trust_file_sha256;
    const sealed = sealedHash === null ? [] : [{ path: BUNDLE.trustFile, sha256: sealedHash }];
    const present = existsSync(path) ? [{ path: BUNDLE.trustFile, sha256: hashAddress(readFileSync(path)) }] : [];
    const found = compareSealed(sealed, present, (f) => f.path, (f) => f.path);
    if (found.missing.length + found.added.length > 0 || found.matched.some((m) => m.sealed.sha256 !== m.present.sha256)) {
      add({ step: 'files', code: 'KEYS_CHANGED', file: BUNDLE.trustFile, message: 'keys/trust.json is not the one sealed' });
    }
  }
  for (const key of bundleReceiptKeys(bundleDir)) {
    if (!trust.get(key, 'receipt')) warnings.push(`keys/trust.json lists receipt key ${key}, which your --trust does not trust`);
  }
}

function bundleReceiptKeys(bundleDir: string): string[] {
  try {
    const file = JSON.parse(readFileSync(join(bundleDir, BUNDLE.trustFile), 'utf8')) as { keys?: { role?: string; kid?: string }[] };
    return (file.keys ?? []).filter((k) => k.role === 'receipt' && typeof k.kid === 'string').map((k) => k.kid as string);
  } catch {
    return [];
  }
}

/** What an allowed decision receipt says about the approval it ran on. */
interface CitedApproval {
  file: string;
  line: number;
  request_id: string;
  tool: string;
  args_hash: string;
  wpc_hash: string;
  via: string;
}

/**
 * Allowed decisions that cite an approval. Only lines that mention one are parsed, so a large bundle costs a
 * text scan, not a second full parse.
 */
function citedApprovals(bundleDir: string, receiptFiles: readonly string[]): CitedApproval[] {
  const cited: CitedApproval[] = [];
  for (const file of receiptFiles) {
    let text: string;
    try {
      text = readFileSync(join(bundleDir, file), 'utf8');
    } catch {
      continue;
    }
    for (let at = text.indexOf('"approval":{'); at !== -1; at = text.indexOf('"approval":{', at + 1)) {
      const start = text.lastIndexOf('\n', at) + 1;
      const end = text.indexOf('\n', at);
      const lineText = text.slice(start, end === -1 ? undefined : end);
      try {
        const receipt = JSON.parse(lineText) as {
          kind?: string;
          tool?: string;
          args_hash?: string;
          wpc_hash?: string;
          decision?: { effect?: string };
          approval?: { request_id?: string; approval_id?: string; via?: string };
        };
        const approval = receipt.approval;
        if (receipt.kind !== 'decision' || receipt.decision?.effect !== 'allow' || !approval?.approval_id || !approval.request_id) continue;
        cited.push({
          file,
          line: text.slice(0, start).split('\n').length,
          request_id: approval.request_id,
          tool: receipt.tool ?? '',
          args_hash: receipt.args_hash ?? '',
          wpc_hash: receipt.wpc_hash ?? '',
          via: approval.via ?? 'signed',
        });
      } catch {
        // Not a parseable receipt: the chain step names it.
      }
    }
  }
  return cited;
}

export async function checkApprovals(
  bundleDir: string,
  trust: TrustStore,
  manifest: Manifest | undefined,
  add: AddProblem,
  receiptFiles: readonly string[],
): Promise<number> {
  const records = readApprovals(bundleDir);
  if (manifest) {
    const found = compareSealed(manifest.approvals, records, (sealed) => sealed.path, (record) => record.path);
    for (const record of found.added) add({ step: 'approvals', code: 'APPROVAL_ADDED', file: record.path, message: 'an approval file that was not sealed' });
    for (const { sealed, present } of found.matched) {
      if (sealed.sha256 !== present.sha256) add({ step: 'approvals', code: 'APPROVAL_CHANGED', file: present.path, message: 'the approval file is not the one sealed' });
    }
    for (const sealed of found.missing) add({ step: 'approvals', code: 'APPROVAL_MISSING', file: sealed.path, message: 'a sealed approval file is gone' });
  }
  const byRequest = new Map<string, { record: ApprovalRecord; claims?: ApprovalClaims }>();
  for (const record of records) {
    if (record.content === undefined) add({ step: 'approvals', code: 'APPROVAL_MALFORMED', file: record.path, message: 'not a JSON object' });
    // The file is named after its request, and the request's arguments are the ones its hash names.
    const stem = record.path.replace(/^.*\//, '').replace(/\.json$/, '');
    if (stem !== record.requestId) {
      add({ step: 'approvals', code: 'APPROVAL_MISMATCH', file: record.path, message: `the file holds request ${record.requestId}, not ${stem}` });
    }
    const request = (record.content?.request ?? record.content) as { args?: unknown; args_hash?: unknown } | undefined;
    if (request && 'args' in request && request.args_hash !== hashOfJson(request.args)) {
      add({ step: 'approvals', code: 'APPROVAL_MISMATCH', file: record.path, message: 'the recorded arguments do not hash to the recorded args_hash (edited)' });
    }
    let claims: ApprovalClaims | undefined;
    if (record.approvalJws) {
      try {
        claims = await verifyApproval(record.approvalJws, trust);
        if (claims.request_id !== record.requestId || (manifest && claims.job !== manifest.job) || (request && claims.args_hash !== request.args_hash)) {
          add({ step: 'approvals', code: 'APPROVAL_MISMATCH', file: record.path, message: 'the signed approval is for another request, job or call' });
        }
      } catch {
        add({ step: 'approvals', code: 'APPROVAL_INVALID', file: record.path, message: 'the approval is not signed by a trusted approver key' });
      }
    }
    byRequest.set(record.requestId, { record, ...(claims ? { claims } : {}) });
  }
  // Every call that ran on a signed approval has that approval in the bundle, for exactly that call.
  for (const cite of citedApprovals(bundleDir, receiptFiles)) {
    const found = byRequest.get(cite.request_id);
    if (!found) {
      add({ step: 'approvals', code: 'APPROVAL_MISSING', file: cite.file, line: cite.line, message: `the call ran on approval ${cite.request_id}, which is not in the bundle` });
      continue;
    }
    if (cite.via === 'elicitation') continue;
    const claims = found.claims;
    if (!claims) {
      add({ step: 'approvals', code: 'APPROVAL_MISSING', file: cite.file, line: cite.line, message: `approval ${cite.request_id} has no valid signed approval` });
    } else if (claims.tool !== cite.tool || claims.args_hash !== cite.args_hash || claims.wpc_hash !== cite.wpc_hash) {
      add({ step: 'approvals', code: 'APPROVAL_MISMATCH', file: cite.file, line: cite.line, message: `approval ${cite.request_id} was signed for another call` });
    }
  }
  return records.length;
}

export async function checkGateway(
  bundleDir: string,
  gatewayTrust: GatewayKeys | undefined,
  manifest: Manifest | undefined,
  add: AddProblem,
  warnings: string[],
): Promise<{ files: number; receipts: number }> {
  const files = listGatewayFiles(bundleDir);
  const found = compareSealed(manifest?.gateway ?? [], files, (sealed) => sealed.path, (path) => path);
  const sealedAs = new Map(found.matched.map(({ sealed, present }) => [present, sealed]));
  if (manifest) {
    for (const path of found.added) add({ step: 'gateway', code: 'GATEWAY_ADDED', file: path, message: 'gateway receipts that were not sealed' });
    for (const sealed of found.missing) add({ step: 'gateway', code: 'GATEWAY_MISSING', file: sealed.path, message: 'sealed gateway receipts are gone' });
  }
  let receipts = 0;
  for (const path of files) {
    const bytes = readFileSync(join(bundleDir, path));
    const jwksPath = gatewayJwksPath(path);
    const sealed = sealedAs.get(path);
    if (sealed && sealed.sha256 !== hashAddress(bytes)) add({ step: 'gateway', code: 'GATEWAY_CHANGED', file: path, message: 'the gateway receipt file is not the one sealed' });
    // The sealed JWKS copy is part of the evidence whichever keys the signatures are checked against.
    let jwksBytes: Buffer | undefined;
    try {
      jwksBytes = readFileSync(join(bundleDir, jwksPath));
    } catch {
      jwksBytes = undefined;
    }
    if (sealed && jwksBytes && sealed.jwks_sha256 !== hashAddress(jwksBytes)) {
      add({ step: 'gateway', code: 'GATEWAY_KEYS_CHANGED', file: jwksPath, message: 'the gateway JWKS is not the one sealed' });
    }
    // The bundle's copy of the gateway keys is informative only: a forger ships his own key there. Receipts are
    // checked against the operator's or auditor's own key set, and without one they do not verify.
    if (!gatewayTrust) {
      add({ step: 'gateway', code: 'GATEWAY_TRUST_MISSING', file: path, message: 'no gateway key set of your own to check these receipts against: pass --gateway-trust, set CLAW_GATEWAY_TRUST or write $CLAW_HOME/gateway-trust.json (the bundle\'s copy is not trusted)' });
      continue;
    }
    const keys = gatewayTrust;
    if (jwksBytes) warnings.push(...gatewayCopyNotes(path, jwksPath, jwksBytes, keys));
    const { entries, problems } = verifyGatewayText(bytes.toString('utf8'), keys);
    receipts += entries.length;
    for (const p of problems) add({ step: 'gateway', code: p.code, file: path, line: p.line, message: p.message });
  }
  return { files: files.length, receipts };
}
