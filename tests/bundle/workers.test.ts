import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reviewBundle, sealBundle, verifyBundle } from '../../src/bundle/index.js';
import { decide } from '../../src/policy/decide.js';
import { ReceiptLog } from '../../src/receipts/log.js';
import { compileSources, type CompiledTree } from './compiled.js';
import { copyBundle, makeEnv, placeWpc, readLines, Recorder, signedWpc, writeLines, type Env } from './fixture.js';

let env: Env;
let tree: CompiledTree;

beforeAll(async () => {
  env = await makeEnv();
  tree = compileSources();
}, 60_000);
afterAll(() => {
  tree?.dispose();
  env?.cleanup();
});

describe('bundle verify on worker threads', () => {
  let dir: string;
  const file = 'receipts/jira-write-big.jsonl';
  beforeAll(async () => {
    dir = join(env.root, 'bundles', 'big');
    const wpc = await signedWpc(env);
    placeWpc(dir, wpc);
    const log = ReceiptLog.open({ bundleDir: dir, job: 'big', server: 'jira-write', key: env.keys.receipt, session: 'big' });
    const rec = new Recorder(log, wpc, undefined, undefined);
    for (let i = 0; i < 1200; i++) {
      const d = rec.decision('jira_update_issue', { operation: 'issue.update', project: 'ENG', issueType: 'Task', fieldsWrite: i % 7 === 0 ? ['security'] : ['summary'] }, { issue_keys: [`ENG-${i}`] });
      if (d.allowed) rec.outcome(d.hash, 'jira_update_issue', 'issue.update', [`ENG-${i}`], [{ issue: `ENG-${i}`, field: 'summary', before: `s${i}`, after: `t${i}` }]);
    }
    log.close();
    await sealBundle(dir, { key: env.keys.receipt });
  }, 60_000);

  const threads = (d: string) => verifyBundle(d, { trust: env.trust, workers: 2, workerScript: tree.url('bundle/verify-worker.js'), segmentBytes: 7919 });
  const inline = (d: string) => verifyBundle(d, { trust: env.trust, workers: 0 });

  it('gives the same verdict, root and summary as the main thread', async () => {
    const [a, b] = [await threads(dir), await inline(dir)];
    expect(a.ok).toBe(true);
    expect(a.summary.threads).toBe(2);
    expect(b.summary.threads).toBe(0);
    expect({ ...a.summary, threads: 0, elapsed_ms: 0 }).toEqual({ ...b.summary, elapsed_ms: 0 });
  });

  it('names the same places for tampering spread over many segments', async () => {
    const bad = copyBundle(env, dir, 'big-tampered');
    const lines = readLines(bad, file);
    lines[500] = (lines[500] as string).replace('"summary"', '"summarY"');
    lines.splice(1500, 1);
    writeLines(bad, file, lines);
    const [a, b] = [await threads(bad), await inline(bad)];
    expect(a.ok).toBe(false);
    expect(a.problems).toEqual(b.problems);
    expect(a.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ step: 'signatures', code: 'RECEIPT_BAD_SIGNATURE', file, line: 501 }),
        expect.objectContaining({ step: 'chain', code: 'RECEIPT_CHAIN_BROKEN', file, line: 502 }),
        expect.objectContaining({ step: 'chain', code: 'RECEIPT_SEQ_MISMATCH', file, line: 1501 }),
      ]),
    );
  });
});

describe('a write server killed between its decision receipt and its Jira call', () => {
  let server: Server;
  let jira: string;
  let arrived: (() => void) | undefined;
  beforeAll(async () => {
    // A Jira that never answers: the request arriving proves the decision receipt was already durable.
    server = createServer(() => arrived?.());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jira = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('leaves an in-doubt write that review reports, in a bundle that still verifies', async () => {
    const dir = join(env.root, 'bundles', 'crash');
    const wpc = await signedWpc(env);
    placeWpc(dir, wpc);
    const request = { operation: 'issue.update' as const, project: 'ENG', issueType: 'Task', fieldsWrite: ['summary'] };
    const policy = decide(request, wpc.policy);
    const decision = {
      kind: 'decision',
      time: '2025-03-01T10:00:05.000Z',
      tool: 'jira_update_issue',
      operation: 'issue.update',
      args_hash: 'sha256:'.padEnd(71, '1'),
      wpc_hash: wpc.hash,
      request,
      policy_decision: policy,
      decision: { effect: 'allow', stage: 'allowed', reasons: policy.reasons },
      issue_keys: ['ENG-5'],
    };
    const child = join(tree.root, 'crash-child.mjs');
    writeFileSync(
      child,
      `import { ReceiptLog } from './receipts/log.js';
import { loadSigningKey } from './keys/store.js';
import { clawHome } from './config/home.js';
import { request } from 'node:http';
const cfg = JSON.parse(process.env.CRASH_CONFIG);
const key = await loadSigningKey(clawHome(cfg.home), 'receipt');
const log = ReceiptLog.open({ bundleDir: cfg.bundle, job: 'crash', server: 'jira-write', key, session: 'crash' });
log.append({ kind: 'event', time: '2025-03-01T10:00:00.000Z', event: { type: 'server.start', ready: true } });
log.append(cfg.decision);
request(cfg.jira + '/rest/api/3/issue/ENG-5', { method: 'PUT', headers: { 'content-type': 'application/json' } }).on('error', () => {}).end('{"fields":{"summary":"x"}}');
setInterval(() => {}, 1000);
`,
    );
    const proc = spawn(process.execPath, [child], {
      env: { ...process.env, CRASH_CONFIG: JSON.stringify({ home: env.home.root, bundle: dir, decision, jira }) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
    const reached = new Promise<void>((resolve, reject) => {
      arrived = resolve;
      proc.on('exit', () => reject(new Error(`the child exited before calling Jira: ${stderr}`)));
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    await reached;
    proc.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    clearTimeout(timer);

    const review = reviewBundle(dir);
    expect(review.exceptions.filter((e) => e.code === 'IN_DOUBT_WRITE')).toEqual([
      expect.objectContaining({ severity: 'high', file: 'receipts/jira-write-crash.jsonl', line: 2, issues: ['ENG-5'] }),
    ]);
    await sealBundle(dir, { key: env.keys.receipt });
    expect((await verifyBundle(dir, { trust: env.trust })).ok).toBe(true);
  }, 30_000);
});
