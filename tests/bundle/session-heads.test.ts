/**
 * Receipts before the seal, on a real run (the built servers over stdio, the simulator on loopback): each
 * server records its durable head outside the bundle, so a session cut back at a line boundary, a tail
 * replaced, a session deleted or an extra entry in receipts/ is refused by `bundle seal`; a crash is named by
 * review (no closing receipt) and a torn last line by the next start, seal and verify, without making the
 * bundle unsealable. Needs `npm run build`.
 */
import { appendFileSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reviewBundle, verifyBundle } from '../../src/bundle/index.js';
import { clawHome } from '../../src/config/home.js';
import { loadSigningKey } from '../../src/keys/store.js';
import { TrustStore } from '../../src/keys/trust.js';
import { readHeadFile, receiptPublicKey } from '../../src/receipts/heads.js';
import { receiptHash, receiptLine, signReceipt } from '../../src/receipts/sign.js';
import type { Receipt } from '../../src/receipts/types.js';
import { SIM_FIXTURES, startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { SERVER_BIN, World, callTool, type Connected } from '../e2e/harness.js';
import { waitForExit } from '../helpers/wait.js';

const built = existsSync(SERVER_BIN.write) && existsSync(SERVER_BIN.read);

const WPC = {
  wpc_version: 'v1',
  tool: 'jira',
  description: 'session heads test',
  allow: { projects: ['ENG'], operations: ['issue.search', 'issue.get', 'issue.comment.create'] },
  deny: { operations: ['issue.delete'] },
};

async function exited(connected: Connected): Promise<void> {
  await waitForExit(connected.pid);
}

describe.skipIf(!built)('receipts before the seal (real servers)', () => {
  let sim: RunningSimulator;
  let world: World;
  let receipts: string;
  let backup: string;
  let writeFile: string;
  let readFile: string;
  const key = SIM_FIXTURES.issues.todo;

  const seal = () => world.cli(['bundle', 'seal', world.job]);
  /** Tamper with the real bundle (the head records name its folder), seal, then put the receipts back. */
  const tampered = async (change: () => void) => {
    change();
    try {
      return await seal();
    } finally {
      rmSync(receipts, { recursive: true, force: true });
      cpSync(backup, receipts, { recursive: true });
    }
  };

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, seed: 42 });
    world = await World.create({ wpc: WPC, sim, job: 'job-heads' });
    const read = await world.connect('read');
    const write = await world.connect('write');
    expect((await callTool(read, 'jira_get_issue', { issue_key: key })).isError).toBe(false);
    // Concurrent calls share syncs; each still has its own durable receipts, in order.
    const comments = await Promise.all([1, 2, 3, 4].map((i) => callTool(write, 'jira_add_comment', { issue_key: key, body: `note ${i}` })));
    expect(comments.every((c) => !c.isError)).toBe(true);
    await read.close();
    await write.close();
    await exited(read);
    await exited(write);
    receipts = join(world.bundleDir, 'receipts');
    backup = join(world.dir, 'receipts-backup');
    cpSync(receipts, backup, { recursive: true });
    const names = readdirSync(receipts);
    writeFile = `receipts/${names.find((n) => n.startsWith('jira-write-')) as string}`;
    readFile = `receipts/${names.find((n) => n.startsWith('jira-read-')) as string}`;
  }, 90_000);
  afterAll(async () => {
    await world?.close();
    await sim?.close();
  });

  const lines = (file: string) => readFileSync(join(world.bundleDir, file), 'utf8').split('\n').slice(0, -1);

  it('a clean stop writes the closing receipt and marks the signed head record closed', async () => {
    const last = JSON.parse(lines(writeFile).at(-1) as string) as Receipt;
    expect(last.event?.type).toBe('server.stop');
    const session = last.session;
    const receiptKey = await loadSigningKey(clawHome(world.home), 'receipt');
    const record = readHeadFile(join(world.home, 'state', 'heads', world.job, `jira-write-${session}.head`), receiptPublicKey(receiptKey));
    expect(record).toMatchObject({ seq: lines(writeFile).length, head: receiptHash(lines(writeFile).at(-1) as string), closed: true, file: writeFile });
    expect(reviewBundle(world.bundleDir).exceptions.filter((e) => e.code === 'SESSION_NOT_CLOSED')).toEqual([]);
  });

  it('a clean stop lets a call in flight finish: its outcome receipt comes before the closing receipt', async () => {
    const read = await world.connect('read');
    await callTool(read, 'jira_get_issue', { issue_key: key });
    // Send the call and close stdin at once, as a client that quits mid-call does.
    const pending = callTool(read, 'jira_search_issues', { jql: 'project = ENG', max_results: 5 }).catch(() => undefined);
    await read.close();
    await pending;
    await exited(read);
    const file = readdirSync(receipts).filter((n) => n.startsWith('jira-read-') && !readdirSync(backup).includes(n))[0] as string;
    const session = lines(`receipts/${file}`).map((line) => JSON.parse(line) as Receipt);
    const searchOutcome = session.findIndex((r) => r.kind === 'outcome' && r.tool === 'jira_search_issues');
    expect(searchOutcome).toBeGreaterThan(0);
    expect(session.at(-1)?.event?.type).toBe('server.stop');
    expect(searchOutcome).toBeLessThan(session.length - 1);
    // This session is part of the bundle now: the later tampering tests restore it with the rest.
    cpSync(receipts, backup, { recursive: true });
  });

  it('a session cut back at a line boundary is refused: SESSION_TRUNCATED', async () => {
    const result = await tampered(() => {
      const kept = lines(writeFile).slice(0, -3);
      writeFileSync(join(world.bundleDir, writeFile), `${kept.join('\n')}\n`);
    });
    expect(result.code).toBe(3);
    expect(result.err).toMatch(/SESSION_TRUNCATED: receipts\/jira-write-\S+ has \d+ receipt\(s\) but its server recorded \d+ durable/);
  });

  it('a tail replaced by a re-signed one is refused: SESSION_HEAD_MISMATCH', async () => {
    const receiptKey = await loadSigningKey(clawHome(world.home), 'receipt');
    const result = await tampered(() => {
      const all = lines(writeFile);
      const last = JSON.parse(all.at(-1) as string) as Receipt;
      const { sig: _sig, ...body } = last;
      all[all.length - 1] = receiptLine(signReceipt({ ...body, time: '2000-01-01T00:00:00.000Z' }, receiptKey));
      writeFileSync(join(world.bundleDir, writeFile), `${all.join('\n')}\n`);
    });
    expect(result.err).toMatch(/SESSION_HEAD_MISMATCH/);
  });

  it('a whole session deleted is refused: SESSION_MISSING (the job comes from the records, not a file name)', async () => {
    const result = await tampered(() => rmSync(join(world.bundleDir, readFile)));
    expect(result.code).toBe(3);
    expect(result.err).toMatch(/SESSION_MISSING: the session receipts\/jira-read-\S+ recorded by its server is missing/);
  });

  it('a dot-file or a folder in receipts/ is refused: BUNDLE_UNEXPECTED_ENTRY', async () => {
    const dot = await tampered(() => writeFileSync(join(receipts, '.aaa.jsonl'), ''));
    expect(dot.err).toMatch(/BUNDLE_UNEXPECTED_ENTRY: receipts\/\.aaa\.jsonl/);
    const both = await tampered(() => {
      writeFileSync(join(receipts, '.0'), '');
      rmSync(join(world.bundleDir, readFile));
    });
    expect(both.code).toBe(3);
    expect(both.err).toMatch(/BUNDLE_UNEXPECTED_ENTRY/);
  });

  it('a killed server: review flags the missing closing receipt; a torn last line is named at start, sealed and named by verify', async () => {
    const write = await world.connect('write');
    expect((await callTool(write, 'jira_add_comment', { issue_key: key, body: 'before the crash' })).isError).toBe(false);
    process.kill(write.pid as number, 'SIGKILL');
    await exited(write);
    const killed = readdirSync(receipts).filter((n) => n.startsWith('jira-write-') && `receipts/${n}` !== writeFile)[0] as string;
    expect(reviewBundle(world.bundleDir).exceptions).toEqual(
      expect.arrayContaining([expect.objectContaining({ code: 'SESSION_NOT_CLOSED', severity: 'medium', file: `receipts/${killed}` })]),
    );
    // The crash tore the line being written: half a receipt at the end of the file.
    const torn = '{"args_hash":"sha256:00","decision":{"eff';
    appendFileSync(join(receipts, killed), torn);
    const present = new Set(readdirSync(receipts));
    const next = await world.connect('read');
    expect((await callTool(next, 'jira_get_issue', { issue_key: key })).isError).toBe(false);
    await next.close();
    await exited(next);
    expect(next.stderr()).toContain(`RECEIPT_TORN_TAIL: receipts/${killed} ends in a ${torn.length}-byte line torn by a crash`);
    const startFile = readdirSync(receipts).find((n) => !present.has(n)) as string;
    const startEvents = lines(`receipts/${startFile}`).map((line) => JSON.parse(line) as Receipt);
    expect(startEvents.some((r) => r.event?.type === 'receipts.torn_tail' && r.event.code === 'RECEIPT_TORN_TAIL' && r.event.file === `receipts/${killed}`)).toBe(true);

    const sealed = await seal();
    expect(sealed.code, sealed.err).toBe(0);
    const manifest = JSON.parse(readFileSync(join(world.bundleDir, 'manifest.json'), 'utf8')) as { receipts: { files: { path: string; torn_tail?: unknown }[] } };
    expect(manifest.receipts.files.find((f) => f.path === `receipts/${killed}`)?.torn_tail).toMatchObject({ bytes: torn.length });
    const trust = await TrustStore.load(join(world.home, 'trust.json'));
    const verified = await verifyBundle(world.bundleDir, { trust });
    expect(verified.problems).toEqual([]);
    expect(verified.warnings).toEqual(expect.arrayContaining([expect.stringContaining(`RECEIPT_TORN_TAIL: receipts/${killed} ends in ${torn.length} bytes`)]));
    // The torn tail is sealed as found: changing it afterwards is named.
    appendFileSync(join(receipts, killed), 'x');
    const changed = await verifyBundle(world.bundleDir, { trust });
    expect(changed.problems.map((p) => p.code)).toContain('RECEIPT_TORN_TAIL_CHANGED');
  }, 60_000);
});
