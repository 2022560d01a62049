import { canonicalJson } from '../util/canonical.js';
import type { TrustStore } from '../keys/trust.js';
import { receiptHash, verifyReceiptSignature } from './sign.js';
import type { Receipt } from './types.js';

export type ChainProblemCode =
  | 'RECEIPT_MALFORMED'
  | 'RECEIPT_NOT_CANONICAL'
  | 'RECEIPT_UNKNOWN_KEY'
  | 'RECEIPT_BAD_SIGNATURE'
  | 'RECEIPT_SEQ_MISMATCH'
  | 'RECEIPT_CHAIN_BROKEN'
  | 'RECEIPT_FOREIGN'
  | 'RECEIPT_TRUNCATED'
  | 'RECEIPT_EMPTY_FILE';

export interface ChainProblem {
  /** 1-based line number in the file. */
  line: number;
  code: ChainProblemCode;
  message: string;
}

export interface ParsedLine {
  line: number;
  text: string;
  hash: string;
  receipt: Receipt;
}

export interface ChainReport {
  ok: boolean;
  count: number;
  /** Hash of the last receipt: the chain head a manifest seals. */
  head: string | null;
  lines: ParsedLine[];
  problems: ChainProblem[];
}

export interface ChainOptions {
  /** Skip signature checks (a caller that verifies signatures itself, e.g. in parallel workers). */
  skipSignatures?: boolean;
}

/**
 * Verify one session's receipt file: every line canonical and signed by a trusted receipt key, `seq`
 * counting 1, 2, 3 with no gap, each `prev` naming the hash of the line before, one job/server/session
 * throughout, and a final newline (a missing one means the file was cut mid-line). Every problem names its
 * line, so "line 7 was deleted" reads as "line 7: expected seq 7, found 8".
 */
export function verifyReceiptChain(text: string, trust: TrustStore, options: ChainOptions = {}): ChainReport {
  const problems: ChainProblem[] = [];
  const lines: ParsedLine[] = [];
  if (text.length === 0) {
    return { ok: false, count: 0, head: null, lines, problems: [{ line: 1, code: 'RECEIPT_EMPTY_FILE', message: 'the receipt file is empty' }] };
  }
  const rawLines = text.split('\n');
  const truncated = rawLines[rawLines.length - 1] !== '';
  if (!truncated) rawLines.pop();
  let prevHash: string | null = null;
  let first: Receipt | undefined;
  rawLines.forEach((raw, index) => {
    const line = index + 1;
    if (truncated && index === rawLines.length - 1) {
      problems.push({ line, code: 'RECEIPT_TRUNCATED', message: 'the last line is incomplete (file truncated or partly written)' });
      return;
    }
    let receipt: Receipt;
    try {
      receipt = JSON.parse(raw) as Receipt;
      if (typeof receipt !== 'object' || receipt === null || typeof receipt.sig !== 'string') throw new Error('shape');
    } catch {
      problems.push({ line, code: 'RECEIPT_MALFORMED', message: 'not a receipt (invalid JSON or missing signature)' });
      prevHash = receiptHash(raw);
      return;
    }
    const hash = receiptHash(raw);
    lines.push({ line, text: raw, hash, receipt });
    if (canonicalJson(receipt) !== raw) {
      problems.push({ line, code: 'RECEIPT_NOT_CANONICAL', message: 'the line is not the canonical form of its receipt (edited)' });
    }
    if (!options.skipSignatures) {
      const key = trust.get(receipt.kid, 'receipt');
      if (!key) {
        problems.push({ line, code: 'RECEIPT_UNKNOWN_KEY', message: `signed by key ${String(receipt.kid)}, not a trusted receipt key` });
      } else if (!verifyReceiptSignature(receipt, key)) {
        problems.push({ line, code: 'RECEIPT_BAD_SIGNATURE', message: 'the signature does not verify (content changed)' });
      }
    }
    if (receipt.seq !== line) {
      problems.push({
        line,
        code: 'RECEIPT_SEQ_MISMATCH',
        message: `expected seq ${line}, found ${String(receipt.seq)} (a receipt was deleted, inserted or reordered)`,
      });
    }
    if (receipt.prev !== prevHash) {
      problems.push({ line, code: 'RECEIPT_CHAIN_BROKEN', message: 'prev does not name the hash of the line before' });
    }
    first ??= receipt;
    if (receipt.job !== first.job || receipt.server !== first.server || receipt.session !== first.session) {
      problems.push({ line, code: 'RECEIPT_FOREIGN', message: 'the receipt belongs to another job, server or session' });
    }
    prevHash = hash;
  });
  const head = lines.length > 0 ? (lines[lines.length - 1]?.hash ?? null) : null;
  return { ok: problems.length === 0, count: lines.length, head, lines, problems };
}
