import type { BundleContents } from './contents.js';
import type { ReviewException } from './review-types.js';
import { EVENT } from '../gate/codes.js';

/**
 * A session whose last receipt is not its closing receipt ended without a clean stop: the server crashed, was
 * killed, lost its disk, or is still running. Its last calls deserve a look (an allowed write without an
 * outcome is flagged separately as in doubt).
 */
export function unclosedSessions(contents: BundleContents): ReviewException[] {
  const last = new Map<string, BundleContents['receipts'][number]>();
  for (const r of contents.receipts) {
    const seen = last.get(r.file);
    if (!seen || r.line > seen.line) last.set(r.file, r);
  }
  const out: ReviewException[] = [];
  for (const [file, r] of last) {
    // The closing receipt is written by every clean stop (stdin closed, SIGTERM, SIGINT).
    if (r.receipt.kind === 'event' && r.receipt.event?.type === EVENT.SERVER_STOP) continue;
    out.push({
      severity: 'medium',
      code: 'SESSION_NOT_CLOSED',
      message: `the session ended without its closing receipt (crash, kill, full disk, or still running); its last receipt is line ${r.line}`,
      file,
      line: r.line,
    });
  }
  return out;
}
