/** The start-up checks as functions: trust read once, StrictModes, the parent's user, path settings. */
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { settingPath } from '../../src/config/paths.js';
import { parentUser } from '../../src/config/same-user.js';
import { loadServerConfig } from '../../src/config/server-config.js';
import { checkStrictModes } from '../../src/config/strict-modes.js';
import { initKeys } from '../../src/keys/store.js';
import { readTrustFile } from '../../src/keys/trust.js';
import { hashAddress } from '../../src/util/canonical.js';
import { clawHome } from '../../src/config/home.js';
import { removeDir, tempDir } from '../helpers/env.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});
function dir(): string {
  const made = tempDir('claw-startup-');
  dirs.push(made);
  return made;
}

describe('readTrustFile: the bytes checked are the bytes trusted', () => {
  it('a trust file swapped after it was opened changes neither the hash nor the keys', async () => {
    const root = dir();
    const home = clawHome(join(root, 'home'), join(root, 'admin'));
    await initKeys(home);
    const original = (await readTrustFile(home.trustFile)).store.list().map((key) => key.kid);
    // The attacker's trust file: the same roles, his own approver key.
    const other = clawHome(join(root, 'other'), join(root, 'other-admin'));
    await initKeys(other);
    const pin = hashAddress((await import('node:fs')).readFileSync(home.trustFile));
    const loaded = await readTrustFile(home.trustFile, {
      pin,
      // Between the open (and its fstat) and the read: the race the old two-read code lost.
      check: () => renameSync(other.trustFile, home.trustFile),
    });
    expect(loaded.hash).toBe(pin);
    expect(loaded.store.list().map((key) => key.kid)).toEqual(original);
    // And the next start sees the swap: the pin refuses it.
    await expect(readTrustFile(home.trustFile, { pin })).rejects.toMatchObject({ code: 'TRUST_PIN_MISMATCH' });
  });
});

describe('checkStrictModes', () => {
  it('accepts a private folder under root-owned sticky /tmp; names a group-writable folder and an other-owned file', () => {
    const root = dir();
    const file = join(root, 'a', 'trust.json');
    mkdirSync(join(root, 'a'), { mode: 0o700 });
    writeFileSync(file, '{}', { mode: 0o600 });
    expect(checkStrictModes([{ path: file }])).toEqual([]);
    chmodSync(join(root, 'a'), 0o775);
    expect(checkStrictModes([{ path: file }])).toEqual([expect.objectContaining({ code: 'UNSAFE_PERMISSIONS', path: join(root, 'a') })]);
    chmodSync(join(root, 'a'), 0o700);
    // The same folders judged for another uid: every one not root's is then someone else's.
    const foreign = checkStrictModes([{ path: file }], { uid: 4242 });
    if (process.getuid?.() !== 0) expect(foreign.map((entry) => entry.code)).toContain('UNSAFE_OWNER');
    writeFileSync(join(root, 'a', 'x'), 'x');
    chmodSync(join(root, 'a', 'x'), 0o666);
    expect(checkStrictModes([{ path: join(root, 'a'), recursive: true }]).map((entry) => entry.path)).toEqual([join(root, 'a', 'x')]);
  });

  it('a sticky world-writable folder is fine above a trusted path, never as the trusted path itself', () => {
    expect(checkStrictModes([{ path: '/tmp' }]).map((entry) => entry.code)).toEqual(['UNSAFE_PERMISSIONS']);
  });
});

describe('parentUser', () => {
  it('reads the real uid of the parent from /proc/<ppid>/status', () => {
    const uid = process.getuid?.() ?? 0;
    expect(parentUser(77, () => `Name:\tclaude\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`)).toEqual({ kind: 'same', uid, ppid: 77 });
    expect(parentUser(77, () => `Uid:\t${uid + 1}\t0\t0\t0\n`)).toEqual({ kind: 'separate', uid, parentUid: uid + 1, ppid: 77 });
    expect(parentUser(77, () => 'garbage').kind).toBe('unknown');
    expect(parentUser(77, () => {
      throw new Error('ENOENT');
    }).kind).toBe('unknown');
  });
});

describe('path settings', () => {
  it('expands ~/ to HOME, refuses ~user and relative paths (servers), resolves relative paths for the CLI', () => {
    expect(settingPath('~/x/y', { home: '/home/a' })).toEqual({ ok: true, path: '/home/a/x/y' });
    expect(settingPath('~', { home: '/home/a' })).toEqual({ ok: true, path: '/home/a' });
    expect(settingPath('~bob/x', { home: '/home/a' })).toMatchObject({ ok: false });
    expect(settingPath('x/y', {})).toMatchObject({ ok: false, message: expect.stringContaining('relative path (x/y)') });
    expect(settingPath('x/y', { cwd: '/w' })).toEqual({ ok: true, path: '/w/x/y' });
  });

  it('loadServerConfig names each refused path variable, and an invalid job never reaches a path', () => {
    const { config, problems } = loadServerConfig({
      HOME: '/home/a',
      CLAW_HOME: '~/claw',
      CLAW_TRUST: 'trust.json',
      CLAW_REVOCATION_FILE: '~mallory/revocations.jws',
      JIRA_BASE_URL: 'https://example.atlassian.net',
      JIRA_EMAIL: 'a@example.com',
      JIRA_API_TOKEN_FILE: 'token',
      CLAW_JOB_ID: '../x',
      CLAW_WPC: `sha256:${'0'.repeat(64)}`,
    });
    expect(config.home.root).toBe('/home/a/claw');
    expect(config.home.adminRoot).toBe('/home/a/claw-admin');
    expect(problems.map((problem) => problem.variable).sort()).toEqual(['CLAW_JOB_ID', 'CLAW_REVOCATION_FILE', 'CLAW_TRUST', 'JIRA_API_TOKEN', 'JIRA_API_TOKEN_FILE']);
    expect(config.job).toBe('');
    expect(config.bundleDir).toBe('/home/a/claw/bundles/unassigned');
  });
});
