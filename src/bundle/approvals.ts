import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { hashAddress } from '../util/canonical.js';
import { listApprovalFiles } from './layout.js';

/**
 * approvals/<request_id>.json as the gate writes it: `{request: {request_id, ...}, approval?: <compact JWS>,
 * used_at?}` (a bare `{request_id, ...}` is read too). The bundle treats the content as opaque evidence: it
 * hashes it into the manifest, lists it for review, and verifies the approval's signature when there is one.
 */
export interface ApprovalRecord {
  path: string;
  sha256: string;
  requestId: string;
  /** The parsed content, or undefined when the file is not JSON. */
  content: Record<string, unknown> | undefined;
  /** The signed approval, when the request was approved. */
  approvalJws?: string;
  approverKid?: string;
  usedAt?: string;
}

export function readApprovals(bundleDir: string): ApprovalRecord[] {
  return listApprovalFiles(bundleDir).map((path) => readApproval(bundleDir, path));
}

function readApproval(bundleDir: string, path: string): ApprovalRecord {
  const bytes = readFileSync(join(bundleDir, path));
  const stem = path.replace(/^.*\//, '').replace(/\.json$/, '');
  let content: Record<string, unknown> | undefined;
  try {
    const json: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) content = json as Record<string, unknown>;
  } catch {
    content = undefined;
  }
  const request = content?.request;
  const nested = typeof request === 'object' && request !== null ? (request as Record<string, unknown>).request_id : undefined;
  const requestId = typeof content?.request_id === 'string' ? content.request_id : typeof nested === 'string' ? nested : stem;
  const record: ApprovalRecord = { path, sha256: hashAddress(bytes), requestId, content };
  const jws = content?.approval;
  if (typeof jws === 'string' && jws.trim() !== '') {
    record.approvalJws = jws.trim();
    try {
      const kid = decodeProtectedHeader(record.approvalJws).kid;
      if (typeof kid === 'string') record.approverKid = kid;
    } catch {
      // Not a JWS: verify reports it.
    }
  }
  if (typeof content?.used_at === 'string') record.usedAt = content.used_at;
  return record;
}
