import { createPublicKey, verify } from 'node:crypto';
import { decide, type Decision } from '../policy/decide.js';
import type { VerifyingKey } from '../keys/ed25519.js';
import type { TrustFile } from '../keys/trust.js';
import type { Receipt } from '../receipts/types.js';
import type { Wpc } from '../wpc/schema.js';
import { isCanonicalBase64url } from '../keys/base64url.js';
import { lineHashes } from './merkle.js';
import { tokenKey, widenWindow } from './sealed.js';

/**
 * The per-line work of `bundle verify`, as a pure function over a run of whole lines of one receipt file, so
 * it runs the same in a worker thread (both cores) or inline. It says whether the run is clean: every line
 * parses, is canonical, is signed by a trusted receipt key, counts `seq` up and links `prev`, with one
 * job/server/session. Anything else goes to the reference implementations on the caller's side
 * (`verifyReceiptChain` for structure, `verifyReceiptSignature` for the lines listed as suspects), which name
 * each problem: this module only has to be right when it says "clean", and it is, because everything it
 * accepts the references accept too. It imports no schema or JOSE library, so a worker starts in milliseconds.
 */
export interface SegmentTask {
  /** Position of the segment in the bundle (files by name, then lines): results are merged in this order. */
  index: number;
  file: string;
  /**
   * Whole lines, each ending in '\n' (a view of the file, shared with worker threads, not copied). The caller
   * knows where the segment starts only once the segments before it are counted, so every line number in a
   * result is relative: 1 is the segment's first line.
   */
  bytes: Uint8Array;
  /** job/server/session of the first line of the file; null when it does not parse (then never clean). */
  identity: { job: string; server: string; session: string } | null;
}

export interface LineProblem {
  step: 'signatures' | 'decisions';
  code: string;
  line: number;
  message: string;
}

export interface TokenUse {
  jti: string;
  token_hash: string;
  sub: string;
  exp: number;
  line: number;
}

export interface SegmentResult {
  index: number;
  file: string;
  count: number;
  /** `seq` and `prev` of the first line (undefined when it does not parse): the caller links them to the run before. */
  firstSeq: number | undefined;
  firstPrev: string | null | undefined;
  lastHash: string | null;
  /** RFC 9162 leaf hashes, 32 bytes per line. */
  leaves: Uint8Array;
  clean: boolean;
  /** Lines signed by a trusted key whose fast check failed: changed, or not canonical. The caller decides exactly. */
  suspects: number[];
  problems: LineProblem[];
  tokens: TokenUse[];
  wpcRefs: string[];
  kids: string[];
  firstTime: string | null;
  lastTime: string | null;
  kinds: { decision: number; outcome: number; event: number };
}

export interface SegmentInit {
  trust: TrustFile;
  /** Policies of the WPCs whose bytes hash to their address (parsed by the caller); decisions are re-run against these. */
  policies: { hash: string; policy: Wpc }[];
}

export interface SegmentContext {
  keys: Map<string, VerifyingKey>;
  wpcs: Map<string, Wpc>;
  /** Reused for every line: hashing and signature input without an allocation per receipt. */
  scratch: { hash: Buffer; body: Buffer };
}

export function segmentContext(init: SegmentInit): SegmentContext {
  const keys = new Map<string, VerifyingKey>();
  for (const entry of init.trust.keys) {
    if (entry.role !== 'receipt') continue;
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: entry.jwk.x }, format: 'jwk' });
    keys.set(entry.kid, { kid: entry.kid, publicKey, publicJwk: entry.jwk });
  }
  const wpcs = new Map(init.policies.map(({ hash, policy }) => [hash, policy]));
  return { keys, wpcs, scratch: { hash: Buffer.alloc(64 * 1024), body: Buffer.alloc(64 * 1024) } };
}

const NEWLINE = 0x0a;
const QUOTE = 0x22;
/** The top-level `sig` member of a canonical receipt line: never the first member, so always after a comma. */
const SIG_MEMBER = Buffer.from(',"sig":"', 'latin1');

export function checkSegment(task: SegmentTask, ctx: SegmentContext): SegmentResult {
  const buf = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
  const lineCount = countLines(buf);
  const leaves = new Uint8Array(lineCount * 32);
  const problems: LineProblem[] = [];
  const suspects: number[] = [];
  const tokens = new Map<string, TokenUse>();
  const wpcRefs = new Set<string>();
  const kids = new Set<string>();
  const kinds = { decision: 0, outcome: 0, event: 0 };
  let clean = task.identity !== null;
  let firstPrev: string | null | undefined;
  let firstSeq: number | undefined;
  let prevHash: string | null = null;
  const window: { first: string | null; last: string | null } = { first: null, last: null };
  let pos = 0;
  for (let i = 0; i < lineCount; i++) {
    const end = buf.indexOf(NEWLINE, pos);
    const lineBytes = buf.subarray(pos, end);
    pos = end + 1;
    const line = i + 1;
    const hashes = lineHashes(lineBytes, ctx.scratch.hash);
    leaves.set(hashes.leaf, i * 32);
    const hash = `sha256:${hashes.hex}`;
    const expectedPrev = prevHash;
    prevHash = hash;
    let receipt: Receipt;
    try {
      receipt = JSON.parse(lineBytes.toString('utf8')) as Receipt;
      if (typeof receipt !== 'object' || receipt === null || typeof receipt.sig !== 'string') throw new Error('shape');
    } catch {
      clean = false;
      continue;
    }
    if (i === 0) {
      firstPrev = receipt.prev;
      firstSeq = typeof receipt.seq === 'number' ? receipt.seq : undefined;
    } else if (receipt.prev !== expectedPrev) clean = false;
    if (firstSeq === undefined || receipt.seq !== firstSeq + i) clean = false;
    const id = task.identity;
    if (id && (receipt.job !== id.job || receipt.server !== id.server || receipt.session !== id.session)) clean = false;

    const key = typeof receipt.kid === 'string' ? ctx.keys.get(receipt.kid) : undefined;
    if (typeof receipt.kid === 'string') kids.add(receipt.kid);
    if (!key) {
      clean = false;
      problems.push({ step: 'signatures', code: 'RECEIPT_UNKNOWN_KEY', line, message: `signed by key ${String(receipt.kid)}, not a trusted receipt key` });
    } else if (!fastVerify(lineBytes, receipt, key, ctx.scratch.body)) {
      clean = false;
      suspects.push(line);
    }

    if (receipt.kind === 'decision' || receipt.kind === 'outcome' || receipt.kind === 'event') kinds[receipt.kind] += 1;
    if (typeof receipt.time === 'string') widenWindow(window, receipt.time);
    if (typeof receipt.wpc_hash === 'string') wpcRefs.add(receipt.wpc_hash);
    if (receipt.cst) checkToken(receipt.cst, line, tokens);
    if (receipt.kind === 'decision') checkDecision(receipt, line, ctx, problems);
  }
  return {
    index: task.index,
    file: task.file,
    count: lineCount,
    firstSeq,
    firstPrev,
    lastHash: prevHash,
    leaves,
    clean,
    suspects,
    problems,
    tokens: [...tokens.values()],
    wpcRefs: [...wpcRefs],
    kids: [...kids],
    firstTime: window.first,
    lastTime: window.last,
    kinds,
  };
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let at = buf.indexOf(NEWLINE); at !== -1; at = buf.indexOf(NEWLINE, at + 1)) n++;
  return n;
}

/**
 * Verify the signature over the line with its top-level `sig` member cut out, instead of re-canonicalising the
 * parsed receipt (which costs more than the rest of the line's work). Sound: signers only sign canonical bodies
 * without a top-level `sig`, so if the cut bytes verify they are that canonical body; the `sig` member sits
 * where canonical order puts it (checked on the key order), so the whole line is canonical too. Any doubt
 * (a nested `sig`, odd escaping) returns false and the caller decides exactly. The signature must also be
 * spelled canonically, as the reference path requires: a lenient decoder would let one signature be written
 * up to 16 ways, changing the line's hash with no check noticing.
 */
function fastVerify(lineBytes: Buffer, receipt: Receipt, key: VerifyingKey, scratch: Buffer): boolean {
  const at = lineBytes.indexOf(SIG_MEMBER);
  if (at === -1) return false;
  const value = at + SIG_MEMBER.length;
  const after = value + receipt.sig.length + 1;
  // The first `,"sig":"` may be a nested member: then the cut bytes do not verify and the caller decides exactly.
  if (lineBytes.toString('latin1', value, after - 1) !== receipt.sig || lineBytes[after - 1] !== QUOTE) return false;
  if (!isCanonicalBase64url(receipt.sig)) return false;
  const keys = Object.keys(receipt);
  const i = keys.indexOf('sig');
  const before = keys[i - 1];
  const next = keys[i + 1];
  if ((before !== undefined && !(before < 'sig')) || (next !== undefined && !(next > 'sig'))) return false;
  const length = lineBytes.length - (after - at);
  const body = scratch.length >= length ? scratch.subarray(0, length) : Buffer.alloc(length);
  body.set(lineBytes.subarray(0, at), 0);
  body.set(lineBytes.subarray(after), at);
  try {
    return verify(null, body, key.publicKey, Buffer.from(receipt.sig, 'base64url'));
  } catch {
    return false;
  }
}

/** Each distinct (jti, token hash, subject, expiry) once, at its first line; the caller checks consistency. */
function checkToken(cst: NonNullable<Receipt['cst']>, line: number, tokens: Map<string, TokenUse>): void {
  const key = tokenKey(cst);
  if (!tokens.has(key)) tokens.set(key, { jti: cst.jti, token_hash: cst.token_hash, sub: cst.sub, exp: cst.exp, line });
}

/**
 * Re-run the pure decision on the recorded request, WPC and scope: a receipt whose recorded decision is not
 * what the policy gives was not made by the gate, whatever its signature says.
 */
function checkDecision(receipt: Receipt, line: number, ctx: SegmentContext, problems: LineProblem[]): void {
  const recorded = receipt.policy_decision;
  if (recorded && recorded.effect === 'deny' && receipt.decision?.effect === 'allow') {
    problems.push({ step: 'decisions', code: 'DECISION_OVERRIDES_POLICY', line, message: 'the gate allowed a call the policy denied' });
  }
  if (!receipt.request || !recorded) return;
  const wpc = typeof receipt.wpc_hash === 'string' ? ctx.wpcs.get(receipt.wpc_hash) : undefined;
  if (!wpc) {
    problems.push({
      step: 'decisions',
      code: 'DECISION_WPC_MISSING',
      line,
      message: `cannot re-evaluate: WPC ${String(receipt.wpc_hash)} is not in the bundle (or its bytes do not match its hash)`,
    });
    return;
  }
  let again: Decision;
  try {
    again = decide(receipt.request, wpc, receipt.scope);
  } catch {
    problems.push({ step: 'decisions', code: 'DECISION_UNEVALUABLE', line, message: 'the recorded request cannot be evaluated' });
    return;
  }
  if (!sameDecision(again, recorded)) {
    problems.push({
      step: 'decisions',
      code: 'DECISION_MISMATCH',
      line,
      message: `re-evaluating the recorded request under WPC ${receipt.wpc_hash} does not give the recorded decision`,
    });
  }
}

/** Exact equality with a decision as `decide` returns it ({effect, reasons: [{code, rule}]}), without allocating. */
function sameDecision(a: Decision, b: unknown): boolean {
  if (typeof b !== 'object' || b === null) return false;
  const r = b as { effect?: unknown; reasons?: unknown };
  if (r.effect !== a.effect || !Array.isArray(r.reasons) || r.reasons.length !== a.reasons.length || Object.keys(r).length !== 2) return false;
  for (let i = 0; i < a.reasons.length; i++) {
    const x = r.reasons[i] as { code?: unknown; rule?: unknown } | null;
    const y = a.reasons[i] as Decision['reasons'][number];
    if (typeof x !== 'object' || x === null || x.code !== y.code || x.rule !== y.rule || Object.keys(x).length !== 2) return false;
  }
  return true;
}
