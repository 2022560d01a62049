import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { buildBundle, copyBundle, makeEnv, readLines, writeLines, type BuiltBundle, type Env } from './fixture.js';
import { captureIo } from '../helpers/cli.js';

let env: Env;
let built: BuiltBundle;
const cli = async (...argv: string[]) => {
  const io = captureIo({ CLAW_HOME: env.home.root }, env.root);
  const code = await runCli(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
};

beforeAll(async () => {
  env = await makeEnv();
  built = await buildBundle(env, 'job-cli');
});
afterAll(() => env.cleanup());

describe('claw-jira bundle …', () => {
  it('documents every command', async () => {
    for (const name of ['seal', 'verify', 'review', 'rollback-plan', 'report', 'import-gateway']) {
      const { code, out } = await cli('bundle', name, '--help');
      expect(code).toBe(0);
      expect(out).toContain(`usage: claw-jira bundle ${name} <dir|job>`);
    }
  });

  it('seals by job id from CLAW_HOME, then refuses a second seal in one line', async () => {
    const sealed = await cli('bundle', 'seal', 'job-cli', '--json');
    expect(sealed.code).toBe(0);
    const result = JSON.parse(sealed.out) as { manifest_hash: string; receipts: number; seal_file: string };
    expect(result.manifest_hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.seal_file).toMatch(/^receipts\/seal-.*\.jsonl$/);
    const again = await cli('bundle', 'seal', built.dir);
    expect(again.code).toBe(3);
    expect(again.err).toMatch(/^claw-jira bundle seal: BUNDLE_ALREADY_SEALED: [^\n]+$/);
  });

  it('verify: exit 0, then 1 naming the place, --json for machines, --trust required', async () => {
    const ok = await cli('bundle', 'verify', built.dir, '--trust', env.trustPath);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^VERIFIED job job-cli: \d+ receipts/m);

    const bad = copyBundle(env, built.dir, 'cli-bad');
    const lines = readLines(bad, built.writeFile);
    lines.splice(6, 1);
    writeLines(bad, built.writeFile, lines);
    const failed = await cli('bundle', 'verify', bad, '--trust', env.trustPath);
    expect(failed.code).toBe(1);
    expect(failed.out).toContain(`chain: ${built.writeFile}:7: RECEIPT_SEQ_MISMATCH: expected seq 7, found 8`);
    expect(failed.out).toMatch(/NOT VERIFIED job job-cli: \d+ problem\(s\)$/);

    const json = await cli('bundle', 'verify', bad, '--trust', env.trustPath, '--json');
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.out) as { ok: boolean; problems: { code: string; file: string; line: number }[] };
    expect(parsed.ok).toBe(false);
    expect(parsed.problems[0]).toMatchObject({ code: 'RECEIPT_SEQ_MISMATCH', file: built.writeFile, line: 7 });

    const usage = await cli('bundle', 'verify', built.dir);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('--trust <trust.json> is required');

    const pinned = await cli('bundle', 'verify', built.dir, '--trust', env.trustPath, '--manifest-hash', `sha256:${'0'.repeat(64)}`);
    expect(pinned.code).toBe(1);
    expect(pinned.out).toContain('MANIFEST_NOT_EXPECTED');
  });

  it('review exits 1 on exceptions, 0 when none reach --fail-on', async () => {
    const review = await cli('bundle', 'review', built.dir);
    expect(review.code).toBe(1);
    expect(review.out).toMatch(/^HIGH +ISSUES_CREATED_OVER_THRESHOLD: 2 issues were created/m);
    expect((await cli('bundle', 'review', built.dir, '--fail-on', 'critical')).code).toBe(0);
    expect((await cli('bundle', 'review', built.dir, '--fail-on', 'nope')).code).toBe(2);
    const json = JSON.parse((await cli('bundle', 'review', built.dir, '--json', '--max-issues-created', '9')).out) as { exceptions: { code: string }[] };
    expect(json.exceptions.some((e) => e.code === 'ISSUES_CREATED_OVER_THRESHOLD')).toBe(false);
  });

  it('rollback-plan and report write their files', async () => {
    const plan = join(env.root, 'plan.md');
    expect((await cli('bundle', 'rollback-plan', built.dir, '-o', plan)).code).toBe(0);
    expect(readFileSync(plan, 'utf8')).toContain('# Rollback plan for job `job-cli`');
    expect((await cli('bundle', 'rollback-plan', built.dir, '--format', 'yaml')).code).toBe(2);
    // A plan is built only from a bundle that verifies: a forged receipt gets no plan, unless --no-verify, said loudly.
    const forged = copyBundle(env, built.dir, 'cli-forged');
    const lines = readLines(forged, built.writeFile);
    lines.splice(2, 1);
    writeLines(forged, built.writeFile, lines);
    const refused = await cli('bundle', 'rollback-plan', forged);
    expect(refused.code).toBe(3);
    expect(refused.err).toMatch(/BUNDLE_NOT_VERIFIED: the bundle does not verify/);
    const unchecked = await cli('bundle', 'rollback-plan', forged, '--no-verify');
    expect(unchecked.code).toBe(0);
    expect(unchecked.err).toContain('warning: NOT VERIFIED');
    expect(unchecked.out).toContain('NOT VERIFIED');
    const report = join(env.root, 'report.html');
    const written = await cli('bundle', 'report', built.dir, '-o', report, '--trust', env.trustPath);
    expect(written.code).toBe(0);
    expect(readFileSync(report, 'utf8')).toContain('data-verdict="verified"');
    expect((await cli('bundle', 'report', built.dir)).code).toBe(2);
  });

  it('never prints a stack trace for a missing bundle or bad trust file', async () => {
    const missing = await cli('bundle', 'verify', join(env.root, 'nope'), '--trust', env.trustPath);
    expect(missing.code).toBe(3);
    expect(missing.err).toMatch(/^claw-jira bundle verify: BUNDLE_NOT_FOUND: [^\n]+$/);
    writeFileSync(join(env.root, 'bad-trust.json'), '{"keys":');
    const badTrust = await cli('bundle', 'verify', built.dir, '--trust', join(env.root, 'bad-trust.json'));
    expect(badTrust.code).toBe(3);
    expect(badTrust.err).not.toContain('    at ');
  });
});
