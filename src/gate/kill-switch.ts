import { readFileSync } from 'node:fs';
import { fileStamp } from '../util/file-stamp.js';
import { z } from 'zod';
import { canonicalBytes, canonicalJson, hashAddress } from '../util/canonical.js';
import { writeFileAtomic } from '../util/files.js';
import { signBytes, verifyBytes, type SigningKey } from '../keys/ed25519.js';
import type { TrustStore } from '../keys/trust.js';
import type { StateJournal } from '../state/journal.js';

/**
 * `claw-jira writes disable` / `writes enable` write one record, signed with the policy key (an admin key the
 * servers never hold), carrying a counter that only grows. A file, not a signal or a socket, so it reaches any
 * number of running servers without restarting them and survives reboots.
 *
 * What a server does with it:
 * - a valid record newer than the newest it has seen is recorded in the server's state journal, then obeyed;
 * - no file: writes are allowed only if the newest record the journal holds is not `disabled` (deleting the
 *   file after `writes disable` keeps writes disabled: only a signed `writes enable` lifts it);
 * - a record that is not signed by a trusted policy key, unreadable or garbled: writes refused (KILL_SWITCH_INVALID);
 * - a valid record older than the newest seen (an old `enable` put back): writes refused (KILL_SWITCH_ROLLBACK).
 */
const KillSwitchSchema = z.strictObject({
  v: z.literal(1),
  state: z.enum(['disabled', 'enabled']),
  /** Milliseconds since the epoch, and always above the previous record's: the rollback check compares it. */
  seq: z.number().int().min(0),
  at: z.string(),
  by: z.string(),
  reason: z.string().max(500).optional(),
  kid: z.string(),
  sig: z.string(),
});
export type KillSwitchRecord = z.infer<typeof KillSwitchSchema>;

export type KillSwitchVerdict =
  | { allowed: true }
  | { allowed: false; code: 'WRITES_DISABLED' | 'KILL_SWITCH_INVALID' | 'KILL_SWITCH_ROLLBACK'; message: string; record?: KillSwitchRecord };

function parseRecord(text: string): KillSwitchRecord | undefined {
  try {
    return KillSwitchSchema.parse(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** The record if it is well-formed and signed by a policy key the trust file names; else undefined. */
export function verifyKillSwitch(text: string, trust: TrustStore): KillSwitchRecord | undefined {
  const record = parseRecord(text);
  if (!record) return undefined;
  const key = trust.get(record.kid, 'policy');
  if (!key) return undefined;
  const { sig, ...body } = record;
  try {
    return verifyBytes(key, canonicalBytes(body), Buffer.from(sig, 'base64url')) ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Sign and write a new record, numbered above the one in place (whatever it says). Used by `claw-jira writes`. */
export function writeKillSwitch(
  file: string,
  key: SigningKey,
  input: { state: 'disabled' | 'enabled'; by: string; reason?: string },
  now: Date = new Date(),
): KillSwitchRecord {
  let previous = 0;
  try {
    previous = parseRecord(readFileSync(file, 'utf8'))?.seq ?? 0;
  } catch {
    previous = 0;
  }
  const body = {
    v: 1 as const,
    state: input.state,
    seq: Math.max(now.getTime(), previous + 1),
    at: now.toISOString(),
    by: input.by,
    ...(input.reason ? { reason: input.reason } : {}),
    kid: key.kid,
  };
  const record: KillSwitchRecord = { ...body, sig: Buffer.from(signBytes(key, canonicalBytes(body))).toString('base64url') };
  writeFileAtomic(file, `${canonicalJson(record)}\n`, { mode: 0o644 });
  return record;
}

/** Writes disabled: since when, by whom, why (what doctor and the status tool show). */
export interface KillSwitchState {
  disabled_at: string;
  by: string;
  reason?: string;
}

/**
 * What the file says without the trust file, for `doctor`: a disabled or unverifiable record reads as
 * "disabled" (it stops writes either way).
 */
export function readKillSwitch(file: string): KillSwitchState | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const record = parseRecord(text);
  if (!record) return { disabled_at: 'unknown', by: 'unknown', reason: 'kill switch file present but not a signed record' };
  if (record.state === 'enabled') return undefined;
  return { disabled_at: record.at, by: record.by, ...(record.reason ? { reason: record.reason } : {}) };
}

/**
 * The server side. Per call it costs a `stat` of the file and of the journal when nothing changed; the file is
 * read and verified again only when its inode, size, mtime or ctime differ (ctime cannot be set back by a user).
 */
export class KillSwitch {
  #stamp: string | undefined;
  #record: KillSwitchRecord | undefined;
  /** The record's address, computed when it is loaded (it changes only with the file's stamp). */
  #hash = '';
  #invalid = false;

  constructor(
    readonly file: string,
    readonly trust: TrustStore,
    readonly journal: StateJournal,
  ) {}

  /**
   * The verdict, with a valid record newer than any this server has seen first made durable in its journal.
   * Throws JournalError when the journal is unusable (the gate refuses with its code).
   */
  async check(): Promise<KillSwitchVerdict> {
    const verdict = this.inspect();
    const record = this.#invalid ? undefined : this.#record;
    const seen = this.journal.state.killSwitch;
    if (record && (!seen || record.seq > seen.seq)) {
      // Durable before it is obeyed or relied on: a later deletion or rollback is judged against it.
      const hash = this.#hash;
      await this.journal.transact((state) =>
        state.killSwitch && state.killSwitch.seq >= record.seq
          ? { entries: [], result: undefined }
          : { entries: [{ type: 'kill_switch.seen', state: record.state, seq: record.seq, hash }], result: undefined },
      );
      return this.check();
    }
    return verdict;
  }

  /**
   * The verdict `check` gives, without recording anything (doctor only looks): a newer record is judged by
   * its own state, as it will be once recorded. Throws JournalError when the journal is unusable.
   */
  inspect(): KillSwitchVerdict {
    const stamp = fileStamp(this.file);
    if (stamp !== this.#stamp) this.#load(stamp);
    this.journal.refresh();
    if (this.#invalid) {
      return { allowed: false, code: 'KILL_SWITCH_INVALID', message: 'the kill switch file is not a record signed by a trusted policy key: writes are refused until an admin runs claw-jira writes enable or disable' };
    }
    const record = this.#record;
    const seen = this.journal.state.killSwitch;
    if (!record) {
      if (seen?.state === 'disabled') {
        return { allowed: false, code: 'WRITES_DISABLED', message: `writes are disabled (recorded by this server's state; the kill switch file was removed, which does not enable writes: run claw-jira writes enable)` };
      }
      return { allowed: true };
    }
    const hash = this.#hash;
    if (seen && (record.seq < seen.seq || (record.seq === seen.seq && hash !== seen.hash))) {
      return { allowed: false, code: 'KILL_SWITCH_ROLLBACK', message: 'the kill switch file is older than one this server already saw (an old record was put back): writes are refused', record };
    }
    if (record.state === 'disabled') {
      return { allowed: false, code: 'WRITES_DISABLED', message: `writes are disabled (since ${record.at}${record.reason ? `: ${record.reason}` : ''})`, record };
    }
    return { allowed: true };
  }

  #load(stamp: string): void {
    this.#stamp = stamp;
    this.#record = undefined;
    this.#invalid = false;
    if (stamp === 'missing') return;
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      this.#invalid = true;
      return;
    }
    this.#record = verifyKillSwitch(text, this.trust);
    if (!this.#record) this.#invalid = true;
    else this.#hash = hashAddress(canonicalJson(this.#record));
  }
}
