/**
 * The state journal: signed, chained, append-only. Each tampering a local user can do to the file (edit a line,
 * cut the tail, reorder, remove one, splice in a line signed by another key) is refused, at open and under a
 * running server; a concurrent writer's appends are read and verified.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKey, signingKeyFromJwk, type SigningKey } from '../../src/keys/ed25519.js';
import { StateJournal, createJournal, type JournalEntry } from '../../src/state/journal.js';

let dir: string;
let file: string;
let key: SigningKey;

async function newKey(): Promise<SigningKey> {
  return signingKeyFromJwk((await generateSigningKey()).privateJwk);
}

const spend = (job: string): JournalEntry => ({ type: 'budget.spend', job, budgets: ['max_writes'] });

async function append(journal: StateJournal, ...entries: JournalEntry[]): Promise<void> {
  await journal.transact(() => ({ entries, result: undefined }));
}

function lines(): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
}

function rewrite(next: string[]): void {
  writeFileSync(file, `${next.join('\n')}\n`);
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'claw-journal-'));
  file = join(dir, 'state', 'journal.jsonl');
  key = await newKey();
  expect(createJournal(file, key)).toBe(true);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('state journal', () => {
  it('folds what it records, and a second handle (another server) reads it back verified', async () => {
    const journal = StateJournal.open(file, key);
    await append(journal, spend('job-a'), spend('job-a'), { type: 'approval.used', job: 'job-a', request_id: 'apr_x', via: 'signed' });
    await append(journal, { type: 'revocation.accepted', iat: 10, hash: 'sha256:a' }, { type: 'kill_switch.seen', state: 'disabled', seq: 5, hash: 'sha256:k' });
    expect(journal.state.budgets.get('job-a')).toEqual({ max_writes: 2 });
    const other = StateJournal.open(file, key);
    expect(other.state.usedApprovals.has('apr_x')).toBe(true);
    expect(other.state.revocation).toEqual({ iat: 10, hash: 'sha256:a' });
    expect(other.state.killSwitch).toMatchObject({ state: 'disabled', seq: 5 });
    // Incremental: what the first handle appends later, the second sees on refresh.
    await append(journal, spend('job-a'));
    other.refresh();
    expect(other.state.budgets.get('job-a')).toEqual({ max_writes: 3 });
    expect(createJournal(file, key)).toBe(false);
  });

  it('concurrent transactions of one server run one at a time: each decides on what the one before it appended', async () => {
    const journal = StateJournal.open(file, key);
    // Each spends only if fewer than 5 units are spent: with 12 racing, exactly 5 may win, whatever the order.
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        journal.transact((state) =>
          (state.budgets.get('job-a')?.max_writes ?? 0) < 5 ? { entries: [spend('job-a')], result: true } : { entries: [], result: false },
        ),
      ),
    );
    expect(results.filter(Boolean).length).toBe(5);
    expect(lines().length).toBe(6);
    // The file is an intact chain another server verifies line by line.
    expect(StateJournal.open(file, key).state.budgets.get('job-a')).toEqual({ max_writes: 5 });
    // A failed transaction does not stop the ones queued after it.
    const failing = journal.transact(() => {
      throw new Error('decide failed');
    });
    const after = journal.transact(() => ({ entries: [spend('job-b')], result: 'ok' }));
    await expect(failing).rejects.toThrow('decide failed');
    await expect(after).resolves.toBe('ok');
  });

  it('refuses a missing journal (deleted), at open and under a running server', async () => {
    const journal = StateJournal.open(file, key);
    unlinkSync(file);
    expect(() => journal.refresh()).toThrow(expect.objectContaining({ code: 'STATE_JOURNAL_MISSING' }));
    expect(() => StateJournal.open(file, key)).toThrow(expect.objectContaining({ code: 'STATE_JOURNAL_MISSING' }));
  });

  it('refuses an edited line (the signature breaks)', async () => {
    const journal = StateJournal.open(file, key);
    await append(journal, spend('job-a'), spend('job-a'));
    const all = lines();
    all[1] = (all[1] as string).replace('"job-a"', '"job-b"');
    rewrite(all);
    expect(() => StateJournal.open(file, key)).toThrow(expect.objectContaining({ code: 'STATE_JOURNAL_INVALID' }));
  });

  it('refuses a journal cut back under a running server, and stays broken when it is put back', async () => {
    const journal = StateJournal.open(file, key);
    await append(journal, spend('job-a'), spend('job-a'));
    const all = lines();
    rewrite(all.slice(0, 2));
    expect(() => journal.refresh()).toThrow(expect.objectContaining({ code: 'STATE_JOURNAL_TRUNCATED' }));
    // The view stays broken: the next call refuses too, even if the file is put back.
    rewrite(all);
    expect(() => journal.refresh()).toThrow(expect.objectContaining({ code: 'STATE_JOURNAL_TRUNCATED' }));
  });

  it('refuses a cut inside a line followed by more lines (a torn line in the middle)', async () => {
    const journal = StateJournal.open(file, key);
    await append(journal, spend('job-a'), spend('job-a'));
    const all = lines();
    all[1] = (all[1] as string).slice(0, 40);
    rewrite(all);
    expect(() => StateJournal.open(file, key)).toThrow(expect.objectContaining({ code: 'STATE_JOURNAL_INVALID' }));
    void journal;
  });

  it('refuses reordered lines and a removed middle line (the chain breaks)', async () => {
    const journal = StateJournal.open(file, key);
    await append(journal, spend('job-a'), spend('job-b'), spend('job-c'));
    const all = lines();
    rewrite([all[0], all[2], all[1], all[3]] as string[]);
    expect(() => StateJournal.open(file, key)).toThrow(expect.objectContaining({ code: 'STATE_JOURNAL_INVALID' }));
    rewrite([all[0], all[1], all[3]] as string[]);
    expect(() => StateJournal.open(file, key)).toThrow(expect.objectContaining({ code: 'STATE_JOURNAL_INVALID' }));
  });

  it('refuses a rewritten tail under a running server and a journal written with another key', async () => {
    const journal = StateJournal.open(file, key);
    await append(journal, spend('job-a'));
    const other = await newKey();
    const foreign = join(dir, 'foreign.jsonl');
    createJournal(foreign, other);
    const forged = StateJournal.open(foreign, other);
    await append(forged, spend('job-a'));
    writeFileSync(file, readFileSync(foreign));
    expect(() => journal.refresh()).toThrow(expect.objectContaining({ code: 'STATE_JOURNAL_INVALID' }));
    expect(() => StateJournal.open(file, key)).toThrow(expect.objectContaining({ code: 'STATE_JOURNAL_INVALID' }));
  });

  it('an append in progress (no newline yet) is read once it is complete', async () => {
    const journal = StateJournal.open(file, key);
    const writer = StateJournal.open(file, key);
    await append(writer, spend('job-a'));
    const last = lines().at(-1) as string;
    // Put the last line back as two halves: the reader sees a partial line first.
    rewrite(lines().slice(0, -1));
    journal.refresh();
    appendFileSync(file, last.slice(0, 30));
    journal.refresh();
    expect(journal.state.budgets.get('job-a')).toBeUndefined();
    appendFileSync(file, `${last.slice(30)}\n`);
    journal.refresh();
    expect(journal.state.budgets.get('job-a')).toEqual({ max_writes: 1 });
  });

  it('an empty file is refused', () => {
    truncateSync(file, 0);
    expect(() => StateJournal.open(file, key)).toThrow(expect.objectContaining({ code: 'STATE_JOURNAL_INVALID' }));
  });
});
