import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { z } from 'zod';
import { hashOfJson, sha256Hex } from '../util/canonical.js';
import { ClawError } from '../util/errors.js';
import { writeAll, writeFileAtomic } from '../util/files.js';
import type { SigningKey } from '../keys/ed25519.js';
import type { TrustStore } from '../keys/trust.js';
import type { StateJournal } from '../state/journal.js';

/**
 * Human approval of one exact call. The gate files a request naming the call (job, tool, hash of the
 * canonical arguments); a human signs an approval of that request with the approver key; the gate accepts it
 * once, for the identical call, before it expires. Nothing the model can send is an approval: approvals
 * arrive through the file system, signed by a key the model never sees.
 */
export const APPROVAL_TYP = 'claw-approval+jws';

export const ApprovalRequestSchema = z.strictObject({
  request_id: z.string().regex(/^apr_[a-z0-9]{20}$/),
  job: z.string(),
  server: z.string(),
  tool: z.string(),
  operation: z.string(),
  args_hash: z.string(),
  args: z.unknown(),
  target: z.strictObject({ project: z.string().optional(), issue_keys: z.array(z.string()) }),
  wpc_hash: z.string(),
  requested_at: z.string(),
});
export type ApprovalRequest = z.infer<typeof ApprovalRequestSchema>;

export const ApprovalClaimsSchema = z.strictObject({
  request_id: z.string(),
  job: z.string(),
  tool: z.string(),
  args_hash: z.string(),
  wpc_hash: z.string(),
  approver: z.string(),
  iat: z.number().int(),
  exp: z.number().int(),
});
export type ApprovalClaims = z.infer<typeof ApprovalClaimsSchema>;

export class ApprovalError extends ClawError {
  constructor(
    code: 'APPROVAL_NOT_FOUND' | 'APPROVAL_INVALID' | 'APPROVAL_EXPIRED' | 'APPROVAL_USED' | 'APPROVAL_STORE_UNAVAILABLE' | 'APPROVAL_REQUESTS_CAPPED',
    message: string,
  ) {
    super(code, message);
    this.name = 'ApprovalError';
  }
}

/** Files of one request share a prefix derived from the call, so the gate finds them without an index. */
function callKey(job: string, tool: string, argsHash: string): string {
  return sha256Hex(`${job}\u0000${tool}\u0000${argsHash}`).slice(0, 24);
}

export interface ApprovedCall {
  request: ApprovalRequest;
  claims: ApprovalClaims;
  approvalJws: string;
  usedAt: string;
}

/** Pending (filed, not used) requests one job may have at a time, unless CLAW_MAX_PENDING_APPROVALS says otherwise. */
export const DEFAULT_MAX_PENDING_APPROVALS = 20;

export interface ApprovalStoreOptions {
  /**
   * The server's signed state journal: the record of which approvals were used. A `.used` marker is only a
   * note for people; deleting it does not make an approval usable again. The CLI (approve, --list) has none.
   */
  journal?: StateJournal;
  /** Cap on pending requests per job; a request beyond it is refused and no file is written. */
  maxPending?: number;
}

export class ApprovalStore {
  readonly #journal: StateJournal | undefined;
  readonly #maxPending: number;

  constructor(
    readonly dir: string,
    options: ApprovalStoreOptions = {},
  ) {
    this.#journal = options.journal;
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING_APPROVALS;
  }

  /** Used per the journal (when the store has one), else per the marker. */
  #used(base: string, requestId: string | undefined): boolean {
    if (this.#journal && requestId !== undefined && this.#journal.state.usedApprovals.has(requestId)) return true;
    return existsSync(`${base}.used`);
  }

  #idOf(name: string): string | undefined {
    return /\.(apr_[a-z0-9]{20})\.[a-z.]+$/.exec(name)?.[1];
  }

  #requestFile(request: Pick<ApprovalRequest, 'job' | 'tool' | 'args_hash' | 'request_id'>): string {
    return join(this.dir, `${callKey(request.job, request.tool, request.args_hash)}.${request.request_id}.request.json`);
  }

  #find(requestId: string): string | undefined {
    if (!/^apr_[a-z0-9]{20}$/.test(requestId)) return undefined;
    return this.#list().find((name) => name.endsWith(`.${requestId}.request.json`));
  }

  #list(): string[] {
    try {
      return readdirSync(this.dir);
    } catch {
      return [];
    }
  }

  /** The pending request for this exact call, or a new one. */
  fileRequest(input: Omit<ApprovalRequest, 'request_id' | 'requested_at'>, now: Date = new Date()): ApprovalRequest {
    const prefix = callKey(input.job, input.tool, input.args_hash);
    this.#journal?.refresh();
    const names = this.#list();
    for (const name of names) {
      if (!name.startsWith(`${prefix}.`) || !name.endsWith('.request.json')) continue;
      const base = name.slice(0, -'.request.json'.length);
      if (!this.#used(join(this.dir, base), this.#idOf(name))) return this.readRequestFile(join(this.dir, name));
    }
    // Anyone who can call a write tool can file requests: bound how many wait for a human per job.
    const pending = this.#pendingNames(names).filter((name) => {
      const job = this.#jobOf(name);
      return job === undefined || job === input.job;
    }).length;
    if (pending >= this.#maxPending) {
      throw new ApprovalError(
        'APPROVAL_REQUESTS_CAPPED',
        `job ${input.job} already has ${pending} approval requests waiting for a human (the cap is ${this.#maxPending}): approve or clear them first`,
      );
    }
    const request = newApprovalRequest(input, now);
    try {
      writeFileAtomic(this.#requestFile(request), `${JSON.stringify(request, null, 2)}\n`);
    } catch {
      throw new ApprovalError('APPROVAL_STORE_UNAVAILABLE', `cannot write the approval request in ${this.dir}`);
    }
    return request;
  }

  readRequestFile(file: string): ApprovalRequest {
    try {
      return ApprovalRequestSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    } catch {
      throw new ApprovalError('APPROVAL_INVALID', `approval request ${file} is unreadable`);
    }
  }

  getRequest(requestId: string): ApprovalRequest {
    const name = this.#find(requestId);
    if (!name) throw new ApprovalError('APPROVAL_NOT_FOUND', `no approval request ${requestId.slice(0, 40)}`);
    return this.readRequestFile(join(this.dir, name));
  }

  pending(): ApprovalRequest[] {
    return this.#pendingNames(this.#list()).map((name) => this.readRequestFile(join(this.dir, name)));
  }

  #pendingNames(names: string[]): string[] {
    return names
      .filter((name) => name.endsWith('.request.json'))
      .filter((name) => !this.#used(join(this.dir, name.slice(0, -'.request.json'.length)), this.#idOf(name)));
  }

  /** A request file no longer parses as a request: it still counts against the cap (fail closed). */
  #jobOf(name: string): string | undefined {
    try {
      return this.readRequestFile(join(this.dir, name)).job;
    } catch {
      return undefined;
    }
  }

  /** Sign an approval for a filed request (the `claw-jira approve` command). */
  async approve(requestId: string, key: SigningKey, options: { ttlSeconds: number; approver: string; now?: Date }): Promise<ApprovalClaims> {
    const name = this.#find(requestId);
    if (!name) throw new ApprovalError('APPROVAL_NOT_FOUND', `no approval request ${requestId.slice(0, 40)}`);
    const base = join(this.dir, name.slice(0, -'.request.json'.length));
    if (existsSync(`${base}.used`)) throw new ApprovalError('APPROVAL_USED', `request ${requestId} was already approved and used`);
    const request = this.readRequestFile(join(this.dir, name));
    const { claims, jws } = await signApproval(request, key, options);
    writeFileAtomic(`${base}.approval.jws`, `${jws}\n`);
    return claims;
  }

  /**
   * Close a request that was approved another way (an MCP elicitation), so it is never offered again: recorded
   * in the journal first (durable before the write goes ahead), then the marker for people.
   */
  async markUsed(requestId: string, job: string, now: Date = new Date()): Promise<void> {
    if (this.#journal) {
      await this.#journal.transact(() => ({ entries: [{ type: 'approval.used', job, request_id: requestId, via: 'elicitation' }], result: undefined }), { now });
    }
    const name = this.#find(requestId);
    if (name) writeMarker(join(this.dir, `${name.slice(0, -'.request.json'.length)}.used`), now.toISOString());
  }

  /**
   * Use an approval for this exact call, once. Returns undefined when there is none (the gate then files a
   * request). With a journal (servers), the use is a journal entry made under its lock, durable before the
   * write: of two servers racing on one approval, one records it, and a deleted marker changes nothing. Without
   * one, the `.used` marker, created with O_EXCL, decides.
   */
  async consume(
    call: { job: string; tool: string; args_hash: string; wpc_hash: string },
    trust: TrustStore,
    now: Date = new Date(),
  ): Promise<ApprovedCall | undefined> {
    const prefix = callKey(call.job, call.tool, call.args_hash);
    this.#journal?.refresh();
    for (const name of this.#list()) {
      if (!name.startsWith(`${prefix}.`) || !name.endsWith('.approval.jws')) continue;
      const base = join(this.dir, name.slice(0, -'.approval.jws'.length));
      if (this.#used(base, this.#idOf(name))) continue;
      const jws = readFileSync(join(this.dir, name), 'utf8').trim();
      const claims = await verifyApproval(jws, trust);
      const request = this.readRequestFile(`${base}.request.json`);
      if (!approvalFits(claims, request, call, now)) continue;
      const usedAt = now.toISOString();
      if (this.#journal) {
        // The journal decides, under its lock: of two servers racing on one approval, one records the use.
        const won = await this.#journal.transact((state) =>
          state.usedApprovals.has(claims.request_id)
            ? { entries: [], result: false }
            : { entries: [{ type: 'approval.used', job: call.job, request_id: claims.request_id, via: 'signed' }], result: true },
          { now },
        );
        if (!won) continue;
        writeMarker(`${base}.used`, usedAt);
      } else if (!writeMarker(`${base}.used`, usedAt)) {
        continue;
      }
      return { request, claims, approvalJws: jws, usedAt };
    }
    return undefined;
  }
}

/** A new request for a person to approve: the call, a fresh id, and when it was filed. */
export function newApprovalRequest(input: Omit<ApprovalRequest, 'request_id' | 'requested_at'>, now: Date): ApprovalRequest {
  return { ...input, request_id: `apr_${randomBytes(13).toString('hex').slice(0, 20)}`, requested_at: now.toISOString() };
}

/** Sign a single-use approval of one filed request with the approver key (`claw-jira approve`, on files or the database). */
export async function signApproval(
  request: ApprovalRequest,
  key: SigningKey,
  options: { ttlSeconds: number; approver: string; now?: Date },
): Promise<{ claims: ApprovalClaims; jws: string }> {
  // What the approver was shown (the arguments) must be what gets signed (their hash): a request edited to
  // show one call while naming another is refused.
  if (hashOfJson(request.args) !== request.args_hash) {
    throw new ApprovalError('APPROVAL_INVALID', `request ${request.request_id} was altered: its arguments do not match its argument hash`);
  }
  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const claims: ApprovalClaims = {
    request_id: request.request_id,
    job: request.job,
    tool: request.tool,
    args_hash: request.args_hash,
    wpc_hash: request.wpc_hash,
    approver: options.approver,
    iat,
    exp: iat + options.ttlSeconds,
  };
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'EdDSA', typ: APPROVAL_TYP, kid: key.kid })
    .sign(key.privateKey);
  return { claims, jws };
}

/** A verified approval counts for this call only if it names this very request and call, and has not expired. */
export function approvalFits(
  claims: ApprovalClaims,
  request: ApprovalRequest,
  call: { job: string; tool: string; args_hash: string; wpc_hash: string },
  now: Date,
): boolean {
  const bound =
    claims.request_id === request.request_id &&
    claims.job === call.job &&
    claims.tool === call.tool &&
    claims.args_hash === call.args_hash &&
    request.args_hash === call.args_hash &&
    claims.wpc_hash === call.wpc_hash;
  return bound && claims.exp > Math.floor(now.getTime() / 1000);
}

/** Create a `.used` marker with O_EXCL; false when it exists already (or cannot be made). */
function writeMarker(file: string, usedAt: string): boolean {
  try {
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeAll(fd, usedAt);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch {
    return false;
  }
}

export async function verifyApproval(jws: string, trust: TrustStore): Promise<ApprovalClaims> {
  try {
    const header = decodeProtectedHeader(jws);
    if (header.alg !== 'EdDSA' || header.typ !== APPROVAL_TYP || typeof header.kid !== 'string') throw new Error('header');
    const key = trust.get(header.kid, 'approver');
    if (!key) throw new Error('untrusted');
    const { payload } = await compactVerify(jws, key.publicKey, { algorithms: ['EdDSA'] });
    return ApprovalClaimsSchema.parse(JSON.parse(new TextDecoder().decode(payload)));
  } catch {
    throw new ApprovalError('APPROVAL_INVALID', 'the approval is not signed by a trusted approver key');
  }
}

export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
}
