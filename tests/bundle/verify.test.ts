import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeManifest, isSealFile, listReceiptFiles, manifestBytes, sealBundle, verifyBundle, writeSeal, type BundleProblem, type Manifest } from '../../src/bundle/index.js';
import { generateSigningKey, signingKeyFromJwk } from '../../src/keys/ed25519.js';
import { TrustStore } from '../../src/keys/trust.js';
import { ReceiptLog } from '../../src/receipts/log.js';
import { receiptHash, receiptLine, signReceipt } from '../../src/receipts/sign.js';
import type { Receipt } from '../../src/receipts/types.js';
import { addressHex } from '../../src/wpc/registry.js';
import { decide } from '../../src/policy/decide.js';
import { BASE_WPC, copyBundle, makeEnv, placeWpc, readLines, Recorder, sealedBundle, signedWpc, writeLines, type BuiltBundle, type Env } from './fixture.js';

let env: Env;
let sealed: BuiltBundle;

beforeAll(async () => {
  env = await makeEnv();
  sealed = await sealedBundle(env);
});
afterAll(() => env.cleanup());

function has(problems: BundleProblem[], expected: Partial<BundleProblem>): boolean {
  return problems.some((p) => Object.entries(expected).every(([k, v]) => p[k as keyof BundleProblem] === v));
}

async function tampered(name: string, change: (dir: string) => void | Promise<void>) {
  const dir = copyBundle(env, sealed.dir, name);
  await change(dir);
  const result = await verifyBundle(dir, { trust: env.trust });
  expect(result.ok).toBe(false);
  return { dir, result, problems: result.problems };
}

describe('bundle verify: a sealed bundle from real receipts', () => {
  it('verifies every step on an untouched bundle', async () => {
    const result = await verifyBundle(sealed.dir, { trust: env.trust });
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.steps.every((s) => s.ok)).toBe(true);
    expect(result.summary.job).toBe('job-42');
    expect(result.summary.receipts).toBe(readLines(sealed.dir, sealed.readFile).length + readLines(sealed.dir, sealed.writeFile).length + 1);
    expect(result.summary.wpcs).toEqual([sealed.wpc.hash]);
    expect(result.summary.keys.manifest).toBe(env.keys.receipt.kid);
    expect(result.summary.keys.policy).toEqual([env.keys.policy.kid]);
  });

  it('refuses a second seal', async () => {
    await expect(sealBundle(sealed.dir, { key: env.keys.receipt })).rejects.toMatchObject({ code: 'BUNDLE_ALREADY_SEALED' });
  });

  it('names a changed byte in a receipt (bad signature at that line, broken link at the next)', async () => {
    const { problems } = await tampered('byte-receipt', (dir) => {
      const lines = readLines(dir, sealed.writeFile);
      lines[2] = (lines[2] as string).replace('"time":"2025-03-01T10:01:0', '"time":"2025-03-01T10:01:1');
      writeLines(dir, sealed.writeFile, lines);
    });
    expect(has(problems, { step: 'signatures', code: 'RECEIPT_BAD_SIGNATURE', file: sealed.writeFile, line: 3 })).toBe(true);
    expect(has(problems, { step: 'chain', code: 'RECEIPT_CHAIN_BROKEN', file: sealed.writeFile, line: 4 })).toBe(true);
    expect(has(problems, { step: 'merkle', code: 'MERKLE_ROOT_MISMATCH' })).toBe(true);
  });

  it('names a changed byte in a WPC', async () => {
    const wpcFile = `wpc/${addressHex(sealed.wpc.hash)}.json`;
    const { problems } = await tampered('byte-wpc', (dir) => {
      const text = readFileSync(join(dir, wpcFile), 'utf8');
      writeFileSync(join(dir, wpcFile), text.replace('"summary"', '"summarY"'));
    });
    expect(has(problems, { step: 'wpc', code: 'WPC_HASH_MISMATCH', file: wpcFile })).toBe(true);
    // Decisions can no longer be re-run against an authentic policy: each is named.
    expect(has(problems, { step: 'decisions', code: 'DECISION_WPC_MISSING', file: sealed.writeFile, line: sealed.lines.updateDecision })).toBe(true);
  });

  it('names a changed byte in the manifest', async () => {
    const { problems } = await tampered('byte-manifest', (dir) => {
      const text = readFileSync(join(dir, 'manifest.json'), 'utf8');
      writeFileSync(join(dir, 'manifest.json'), text.replace('"sealed_at":"2025-03-01T11', '"sealed_at":"2025-03-01T12'));
    });
    expect(has(problems, { step: 'manifest', code: 'MANIFEST_HASH_MISMATCH', file: 'manifest.json' })).toBe(true);
    expect(has(problems, { step: 'seal', code: 'SEAL_MANIFEST_MISMATCH' })).toBe(true);
  });

  it('names a deleted line', async () => {
    const { problems } = await tampered('deleted-line', (dir) => {
      const lines = readLines(dir, sealed.writeFile);
      lines.splice(3, 1); // line 4
      writeLines(dir, sealed.writeFile, lines);
    });
    expect(has(problems, { step: 'chain', code: 'RECEIPT_SEQ_MISMATCH', file: sealed.writeFile, line: 4 })).toBe(true);
    expect(has(problems, { step: 'chain', code: 'RECEIPT_CHAIN_BROKEN', file: sealed.writeFile, line: 4 })).toBe(true);
    expect(has(problems, { step: 'counts', code: 'RECEIPT_MISSING_LINES', file: sealed.writeFile })).toBe(true);
  });

  it('names two reordered lines', async () => {
    const { problems } = await tampered('reordered', (dir) => {
      const lines = readLines(dir, sealed.writeFile);
      [lines[4], lines[5]] = [lines[5] as string, lines[4] as string];
      writeLines(dir, sealed.writeFile, lines);
    });
    expect(has(problems, { step: 'chain', code: 'RECEIPT_SEQ_MISMATCH', file: sealed.writeFile, line: 5 })).toBe(true);
    expect(has(problems, { step: 'chain', code: 'RECEIPT_SEQ_MISMATCH', file: sealed.writeFile, line: 6 })).toBe(true);
    // Signatures still hold: a reordering is caught by the chain, not by a signature.
    expect(problems.some((p) => p.step === 'signatures')).toBe(false);
  });

  it('names a line appended after sealing, even one properly signed and chained', async () => {
    const lines = readLines(sealed.dir, sealed.writeFile);
    const { problems } = await tampered('appended', (dir) => {
      const last = JSON.parse(lines.at(-1) as string) as Receipt;
      const { sig: _sig, ...body } = last;
      const extra = signReceipt(
        { ...body, seq: last.seq + 1, prev: receiptHash(lines.at(-1) as string), time: '2025-03-01T12:00:00.000Z', event: { type: 'late' } },
        env.keys.receipt,
      );
      appendFileSync(join(dir, sealed.writeFile), `${receiptLine(extra)}\n`);
    });
    expect(has(problems, { step: 'counts', code: 'RECEIPT_APPENDED', file: sealed.writeFile, line: lines.length + 1 })).toBe(true);
    expect(problems.some((p) => p.step === 'chain' || p.step === 'signatures')).toBe(false);
  });

  it('names a receipt file added after sealing', async () => {
    let added = '';
    const { problems } = await tampered('added-file', (dir) => {
      const log = ReceiptLog.open({ bundleDir: dir, job: 'job-42', server: 'jira-write', key: env.keys.receipt, session: '20250301T1200-cccc0003' });
      log.append({ kind: 'event', time: '2025-03-01T12:00:00.000Z', event: { type: 'server.start' } });
      log.close();
      added = 'receipts/jira-write-20250301T1200-cccc0003.jsonl';
    });
    expect(has(problems, { step: 'files', code: 'RECEIPT_FILE_ADDED', file: added })).toBe(true);
  });

  it('names a file truncated mid-line and one cut at a line boundary', async () => {
    const midLine = await tampered('truncated', (dir) => {
      const path = join(dir, sealed.writeFile);
      truncateSync(path, statSync(path).size - 10);
    });
    const n = readLines(sealed.dir, sealed.writeFile).length;
    expect(has(midLine.problems, { step: 'chain', code: 'RECEIPT_TRUNCATED', file: sealed.writeFile, line: n })).toBe(true);
    expect(has(midLine.problems, { step: 'counts', code: 'RECEIPT_MISSING_LINES', file: sealed.writeFile, line: n })).toBe(true);

    const boundary = await tampered('cut', (dir) => {
      writeLines(dir, sealed.writeFile, readLines(dir, sealed.writeFile).slice(0, -2));
    });
    expect(has(boundary.problems, { step: 'counts', code: 'RECEIPT_MISSING_LINES', file: sealed.writeFile, line: n - 1 })).toBe(true);
  });

  it('names a WPC swapped for another validly signed one', async () => {
    const other = await signedWpc(env, { ...BASE_WPC, allow: { ...BASE_WPC.allow, fields_write_allowlist: ['summary', 'labels', 'priority', 'description', 'security'] } });
    const hex = addressHex(sealed.wpc.hash);
    const { problems } = await tampered('swapped-wpc', (dir) => {
      writeFileSync(join(dir, 'wpc', `${hex}.json`), other.bytes);
      writeFileSync(join(dir, 'wpc', `${hex}.sig`), `${other.signature}\n`);
    });
    expect(has(problems, { step: 'wpc', code: 'WPC_HASH_MISMATCH', file: `wpc/${hex}.json` })).toBe(true);
    expect(has(problems, { step: 'wpc', code: 'WPC_SIGNATURE_INVALID', file: `wpc/${hex}.sig` })).toBe(true);

    // Placed under its own address instead: the sealed one is missing, the new one was not sealed.
    const { problems: renamed } = await tampered('swapped-wpc-renamed', (dir) => {
      rmSync(join(dir, 'wpc', `${hex}.json`));
      rmSync(join(dir, 'wpc', `${hex}.sig`));
      writeFileSync(join(dir, 'wpc', `${addressHex(other.hash)}.json`), other.bytes);
      writeFileSync(join(dir, 'wpc', `${addressHex(other.hash)}.sig`), `${other.signature}\n`);
    });
    expect(has(renamed, { step: 'wpc', code: 'WPC_MISSING', file: `wpc/${hex}.json` })).toBe(true);
    expect(has(renamed, { step: 'wpc', code: 'WPC_ADDED', file: `wpc/${addressHex(other.hash)}.json` })).toBe(true);
    expect(has(renamed, { step: 'decisions', code: 'DECISION_WPC_MISSING', file: sealed.writeFile, line: sealed.lines.updateDecision })).toBe(true);
  });

  it('names a receipt signed by an unknown key', async () => {
    const { problems } = await tampered('unknown-key', async (dir) => {
      const stranger = await signingKeyFromJwk((await generateSigningKey()).privateJwk);
      const lines = readLines(dir, sealed.readFile);
      const { sig: _sig, ...body } = JSON.parse(lines[1] as string) as Receipt;
      lines[1] = receiptLine(signReceipt({ ...body, kid: stranger.kid }, stranger));
      writeLines(dir, sealed.readFile, lines);
    });
    expect(has(problems, { step: 'signatures', code: 'RECEIPT_UNKNOWN_KEY', file: sealed.readFile, line: 2 })).toBe(true);
  });

  it('detects a re-seal, and a complete re-seal against the pinned manifest hash', async () => {
    const manifestHash = (await verifyBundle(sealed.dir, { trust: env.trust })).summary.manifest_hash as string;
    const { problems } = await tampered('resealed', async (dir) => {
      const lines = readLines(dir, sealed.writeFile);
      writeLines(dir, sealed.writeFile, lines.slice(0, -1));
      rmSync(join(dir, 'manifest.json'));
      rmSync(join(dir, 'manifest.sig'));
      const manifest = await computeManifest(dir, { key: env.keys.receipt });
      await writeSeal(dir, manifest, { key: env.keys.receipt });
    });
    const oldSeal = listReceiptFiles(sealed.dir).find(isSealFile) as string;
    expect(has(problems, { step: 'seal', code: 'BUNDLE_RESEALED', file: oldSeal, line: 1 })).toBe(true);

    // Everything of the first seal removed: only the hash printed at sealing time tells.
    const dir = copyBundle(env, sealed.dir, 'resealed-clean');
    for (const name of ['manifest.json', 'manifest.sig', oldSeal]) rmSync(join(dir, name));
    await sealBundle(dir, { key: env.keys.receipt });
    expect((await verifyBundle(dir, { trust: env.trust })).ok).toBe(true);
    const pinned = await verifyBundle(dir, { trust: env.trust, expectManifestHash: manifestHash });
    expect(has(pinned.problems, { step: 'manifest', code: 'MANIFEST_NOT_EXPECTED', file: 'manifest.json' })).toBe(true);
  });

  it('names a seal receipt removed and a manifest signed by an untrusted key', async () => {
    const { problems } = await tampered('no-seal', (dir) => {
      for (const f of readdirSync(join(dir, 'receipts'))) if (f.startsWith('seal-')) rmSync(join(dir, 'receipts', f));
    });
    expect(has(problems, { step: 'seal', code: 'SEAL_MISSING' })).toBe(true);

    const onlyPolicy = await TrustStore.fromFile({ version: 1, keys: env.trust.toFile().keys.filter((k) => k.role !== 'receipt') });
    const result = await verifyBundle(sealed.dir, { trust: onlyPolicy });
    expect(has(result.problems, { step: 'manifest', code: 'MANIFEST_UNTRUSTED_SIGNER', file: 'manifest.sig' })).toBe(true);
    expect(has(result.problems, { step: 'signatures', code: 'RECEIPT_UNKNOWN_KEY', file: sealed.writeFile, line: 1 })).toBe(true);
  });

  it('names a changed approval', async () => {
    const file = `approvals/${sealed.approvalId}.json`;
    const { problems } = await tampered('approval', (dir) => {
      const record = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { approval: string };
      const at = record.approval.length - 20;
      record.approval = `${record.approval.slice(0, at)}${record.approval[at] === 'A' ? 'B' : 'A'}${record.approval.slice(at + 1)}`;
      writeFileSync(join(dir, file), JSON.stringify(record));
    });
    expect(has(problems, { step: 'approvals', code: 'APPROVAL_CHANGED', file })).toBe(true);
    expect(has(problems, { step: 'approvals', code: 'APPROVAL_INVALID', file })).toBe(true);
  });

  it('names a deleted receipt file', async () => {
    const { problems } = await tampered('file-gone', (dir) => rmSync(join(dir, sealed.readFile)));
    expect(has(problems, { step: 'files', code: 'RECEIPT_FILE_MISSING', file: sealed.readFile })).toBe(true);
  });
});

describe('bundle verify: what a lying gate would record (validly signed)', () => {
  it('re-runs each decision and names the ones the policy does not give, and inconsistent tokens', async () => {
    const dir = join(env.root, 'bundles', 'liar');
    const wpc = await signedWpc(env);
    placeWpc(dir, wpc);
    const log = ReceiptLog.open({ bundleDir: dir, job: 'liar', server: 'jira-write', key: env.keys.receipt, session: 's' });
    const cst = { jti: 'jti-aaaaaaaaaaaaaaaa', token_hash: `sha256:${'a'.repeat(64)}`, sub: 'agent', exp: 2_000_000_000 };
    const rec = new Recorder(log, wpc, cst, undefined);
    rec.decision('jira_get_issue', { operation: 'issue.get', project: 'ENG', issueType: 'Task' });
    const request = { operation: 'issue.update' as const, project: 'ENG', issueType: 'Task', fieldsWrite: ['security'] };
    const honest = decide(request, wpc.policy);
    const base = { kind: 'decision' as const, time: rec.time(), tool: 'jira_update_issue', operation: 'issue.update' as const, wpc_hash: wpc.hash, request };
    // Line 2: the recorded policy decision is not what the policy gives.
    log.append({ ...base, cst, policy_decision: { effect: 'allow', reasons: [] }, decision: { effect: 'allow', stage: 'allowed', reasons: [] } });
    // Line 3: the honest policy decision, overridden by the gate.
    log.append({ ...base, cst, policy_decision: honest, decision: { effect: 'allow', stage: 'allowed', reasons: [] } });
    // Line 4: the same token id with another token hash.
    log.append({ ...base, cst: { ...cst, token_hash: `sha256:${'b'.repeat(64)}` }, policy_decision: honest, decision: { effect: 'deny', stage: 'policy', reasons: honest.reasons } });
    log.close();
    await sealBundle(dir, { key: env.keys.receipt });
    const { problems } = await verifyBundle(dir, { trust: env.trust });
    const file = 'receipts/jira-write-s.jsonl';
    expect(problems.filter((p) => p.step === 'decisions')).toEqual([
      expect.objectContaining({ code: 'DECISION_MISMATCH', file, line: 2 }),
      expect.objectContaining({ code: 'DECISION_OVERRIDES_POLICY', file, line: 3 }),
    ]);
    expect(has(problems, { step: 'tokens', code: 'TOKEN_INCONSISTENT', file, line: 4 })).toBe(true);
  });

  it('refuses to seal a damaged or empty bundle', async () => {
    const damaged = copyBundle(env, sealed.dir, 'seal-damaged');
    for (const f of ['manifest.json', 'manifest.sig', listReceiptFiles(damaged).find(isSealFile) as string]) rmSync(join(damaged, f));
    const lines = readLines(damaged, sealed.writeFile);
    lines.splice(1, 1);
    writeLines(damaged, sealed.writeFile, lines);
    await expect(sealBundle(damaged, { key: env.keys.receipt })).rejects.toMatchObject({
      code: 'BUNDLE_DAMAGED',
      message: expect.stringContaining(`${sealed.writeFile}:2: RECEIPT_SEQ_MISMATCH`),
    });
    const empty = join(env.root, 'bundles', 'empty');
    mkdirSync(empty, { recursive: true });
    await expect(sealBundle(empty, { key: env.keys.receipt })).rejects.toMatchObject({ code: 'BUNDLE_EMPTY' });
  });
});

describe('bundle verify: each sealed-vs-present comparison names its tampering', () => {
  /** manifest.json rewritten, canonically (its signature and the seal receipt then no longer match, which verify names too). */
  function editManifest(dir: string, change: (manifest: Manifest) => void): void {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    change(manifest);
    writeFileSync(join(dir, 'manifest.json'), manifestBytes(manifest));
  }

  it('a token presented by the receipts but not sealed, and one sealed but presented by none', async () => {
    const { problems } = await tampered('tokens-swapped', (dir) =>
      editManifest(dir, (m) => {
        m.tokens = [{ jti: 'jti-nobody-presented', token_hash: `sha256:${'c'.repeat(64)}`, sub: 'agent', exp: 1 }];
      }),
    );
    expect(has(problems, { step: 'tokens', code: 'TOKEN_NOT_SEALED' })).toBe(true);
    expect(has(problems, { step: 'tokens', code: 'TOKEN_NOT_FOUND', file: 'manifest.json' })).toBe(true);
    expect(has(problems, { step: 'manifest', code: 'MANIFEST_HASH_MISMATCH' })).toBe(true);
  });

  it('a chain head that is not the sealed one, at the same count', async () => {
    const count = readLines(sealed.dir, sealed.writeFile).length;
    const { problems } = await tampered('head-swapped', (dir) =>
      editManifest(dir, (m) => {
        const file = m.receipts.files.find((f) => f.path === sealed.writeFile);
        if (file) file.head = `sha256:${'d'.repeat(64)}`;
      }),
    );
    expect(has(problems, { step: 'counts', code: 'RECEIPT_HEAD_MISMATCH', file: sealed.writeFile, line: count })).toBe(true);
  });

  it('keys/trust.json changed after sealing', async () => {
    const { problems } = await tampered('trust-changed', (dir) => {
      const path = join(dir, 'keys', 'trust.json');
      writeFileSync(path, `${readFileSync(path, 'utf8').trimEnd()} \n`);
    });
    expect(problems).toEqual([expect.objectContaining({ step: 'files', code: 'KEYS_CHANGED', file: 'keys/trust.json' })]);
  });

  it("a WPC's signature file replaced after sealing", async () => {
    const sigFile = `wpc/${addressHex(sealed.wpc.hash)}.sig`;
    const { problems } = await tampered('wpc-sig-changed', (dir) => {
      writeFileSync(join(dir, sigFile), `${readFileSync(join(dir, sigFile), 'utf8').trim()}\n\n`);
    });
    expect(has(problems, { step: 'wpc', code: 'WPC_SIGNATURE_CHANGED', file: sigFile })).toBe(true);
  });

  it('an approval file added after sealing', async () => {
    const { problems } = await tampered('approval-added', (dir) => {
      const source = join(dir, 'approvals', `${sealed.approvalId}.json`);
      writeFileSync(join(dir, 'approvals', 'req-added-later.json'), readFileSync(source));
    });
    expect(has(problems, { step: 'approvals', code: 'APPROVAL_ADDED', file: 'approvals/req-added-later.json' })).toBe(true);
  });
});
