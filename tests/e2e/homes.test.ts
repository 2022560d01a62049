/**
 * Separation of duties and the one start-up path, over the built servers: the layout `init` makes, the
 * refusals a server makes at start (admin key in its home, unsafe permissions, trust pin, same OS user), and
 * doctor saying exactly what the server says.
 */
import { chmodSync, chownSync, copyFileSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { hashAddress } from '../../src/util/canonical.js';
import { World, callTool, toolNames } from './harness.js';

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 11 });
});
afterAll(async () => sim?.close());

/** Every path under `dir` with its mode, e.g. `keys/receipt.private.jwk 600`. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string) => {
    for (const name of readdirSync(current).sort()) {
      const path = join(current, name);
      const st = statSync(path);
      out.push(`${relative(dir, path)} ${(st.mode & 0o777).toString(8)}`);
      if (st.isDirectory()) walk(path);
    }
  };
  walk(dir);
  return out;
}

describe('claw-jira init: a server home and an admin home', () => {
  it('the server home holds only the receipt key, public trust, state and empty folders; admin keys live apart, 0700/0600', async () => {
    const world = await World.create({ wpc: 'seed.json', sim, job: 'layout' });
    try {
      // Before any server ran: exactly what init (plus wpc sign, cst issue) made.
      const home = tree(world.home).filter((entry) => !entry.startsWith('registry/'));
      expect(home).toEqual([
        'approvals 700',
        'bundles 700',
        'keys 700',
        'keys/receipt.private.jwk 600',
        'registry 700',
        'revocations.jws 600',
        'secrets 700',
        'state 700',
        'state/journal.jsonl 600',
        'tokens 700',
        'trust.json 600',
      ]);
      expect(tree(`${world.home}-admin`)).toEqual([
        'approver 700',
        'approver/approver.private.jwk 600',
        'issuer 700',
        'issuer/issuer.private.jwk 600',
        'policy 700',
        'policy/policy.private.jwk 600',
      ]);
      expect(statSync(world.tokenFile).mode & 0o777).toBe(0o600);
    } finally {
      await world.close();
    }
  });

  it('--admin-home puts the admin keys where it says, and every signing command finds them there', async () => {
    const world = await World.create({ wpc: 'seed.json', sim, job: 'admin-flag' });
    try {
      const env = { ...world.baseEnv(), CLAW_HOME: join(world.dir, 'other-home') };
      const admin = join(world.dir, 'people', 'admin');
      const init = await world.cliOk(['init', '--admin-home', admin, '--json'], env);
      const keys = (JSON.parse(init.out) as { keys: Array<{ role: string; private_key: string }> }).keys;
      expect(keys.find((key) => key.role === 'policy')?.private_key).toBe(join(admin, 'policy', 'policy.private.jwk'));
      // Without the flag the default (a sibling of CLAW_HOME) has no key: signing fails and says where to look.
      const wpc = join(world.dir, 'seed-copy.json');
      copyFileSync(join(import.meta.dirname, '..', '..', 'wpc-examples', 'seed.json'), wpc);
      const noKey = await world.cli(['wpc', 'sign', wpc], env);
      expect(noKey.code).toBe(3);
      expect(noKey.err).toMatch(/KEY_UNREADABLE: cannot read the policy key .*other-home-admin.*CLAW_ADMIN_HOME or --admin-home/);
      const hash = (await world.cliOk(['wpc', 'sign', wpc, '--admin-home', admin], env)).out.trim();
      expect((await world.cli(['cst', 'issue', '--wpc', hash, '--job', 'j1'], env)).err).toContain('KEY_UNREADABLE: cannot read the issuer key');
      await world.cliOk(['cst', 'issue', '--wpc', hash, '--job', 'j1', '--admin-home', admin], env);
      await world.cliOk(['cst', 'issue', '--wpc', hash, '--job', 'j1'], { ...env, CLAW_ADMIN_HOME: admin });
    } finally {
      await world.close();
    }
  });

  it('init on a home from before the split moves the admin keys out of CLAW_HOME/keys', async () => {
    const world = await World.create({ wpc: 'seed.json', sim, job: 'legacy' });
    try {
      // An old home kept the issuer key in CLAW_HOME/keys.
      const legacy = join(world.home, 'keys', 'issuer.private.jwk');
      const admin = join(`${world.home}-admin`, 'issuer', 'issuer.private.jwk');
      const bytes = readFileSync(admin);
      renameSync(admin, legacy);
      const refused = await world.connect('read');
      expect((await callTool(refused, 'jira_get_issue', { issue_key: 'ENG-1' })).structured.code).toBe('ADMIN_KEY_IN_SERVER_HOME');
      await refused.close();
      const again = JSON.parse((await world.cliOk(['init', '--json'])).out) as { moved: string[]; created: string[] };
      expect(again.moved).toEqual(['issuer']);
      expect(again.created).toEqual([]);
      expect(readFileSync(admin)).toEqual(bytes);
      expect(readdirSync(join(world.home, 'keys'))).toEqual(['receipt.private.jwk']);
      const ready = await world.connect('read');
      expect(await toolNames(ready)).toContain('jira_get_issue');
      await ready.close();
    } finally {
      await world.close();
    }
  });
});

describe('a server refuses to start on what it must not trust, and doctor says the same', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', sim, job: 'refusals' });
  });
  afterAll(async () => world?.close());

  /** The code a fresh server refuses every call with, and doctor's FAIL rows (code: message). */
  async function serverAndDoctor(overrides: Record<string, string | undefined> = {}): Promise<{ server: string; stderr: string; doctor: string; doctorCode: number }> {
    const server = await world.connect('read', overrides);
    const listed = await toolNames(server);
    const result = await callTool(server, 'jira_get_issue', { issue_key: 'ENG-1' });
    await server.close();
    const doctor = await world.cli(['doctor'], world.serverEnv(overrides));
    expect(listed).toEqual([]);
    return { server: `${String(result.structured.code)}: ${String(result.structured.message)}`, stderr: server.stderr(), doctor: doctor.out, doctorCode: doctor.code };
  }

  it('an admin private key the server can read in its own home: ADMIN_KEY_IN_SERVER_HOME naming the file, in both', async () => {
    const planted = join(world.home, 'keys', 'approver.private.jwk');
    copyFileSync(join(`${world.home}-admin`, 'approver', 'approver.private.jwk'), planted);
    try {
      const seen = await serverAndDoctor();
      expect(seen.server).toContain('ADMIN_KEY_IN_SERVER_HOME');
      expect(seen.server).toContain(planted);
      expect(seen.stderr).toContain(`ADMIN_KEY_IN_SERVER_HOME: this server can read an admin private key in its own home (${planted})`);
      expect(seen.doctorCode).toBe(1);
      expect(seen.doctor).toMatch(/FAIL\s+admin keys\s+ADMIN_KEY_IN_SERVER_HOME: .*approver\.private\.jwk/);
    } finally {
      rmSync(planted);
    }
  });

  it('a group-writable trust file: UNSAFE_PERMISSIONS naming it, and doctor no longer says "ok trust file"', async () => {
    const trust = join(world.home, 'trust.json');
    chmodSync(trust, 0o620);
    try {
      const seen = await serverAndDoctor();
      expect(seen.server).toMatch(/^UNSAFE_PERMISSIONS: .*trust\.json is writable by group or others/);
      expect(seen.doctor).toMatch(/FAIL\s+permissions\s+UNSAFE_PERMISSIONS: .*trust\.json/);
      expect(seen.doctor).not.toMatch(/ok\s+trust file/);
    } finally {
      chmodSync(trust, 0o600);
    }
  });

  it('a pin that does not match: TRUST_PIN_MISMATCH in both; the right pin: ready in both, no pin warning', async () => {
    const wrong = `sha256:${'1'.repeat(64)}`;
    const seen = await serverAndDoctor({ CLAW_TRUST_SHA256: wrong });
    expect(seen.server).toMatch(/^TRUST_PIN_MISMATCH/);
    expect(seen.doctor).toMatch(/FAIL\s+trust file\s+TRUST_PIN_MISMATCH/);
    const pin = hashAddress(readFileSync(join(world.home, 'trust.json')));
    const ok = await world.cli(['doctor'], world.serverEnv({ CLAW_TRUST_SHA256: pin }));
    expect(ok.out).toMatch(/ok\s+trust file\s+.*matches CLAW_TRUST_SHA256/);
    expect(ok.out).not.toContain('TRUST_NOT_PINNED');
    const unpinned = await world.cli(['doctor'], world.serverEnv());
    expect(unpinned.out).toMatch(/warn\s+trust pin\s+TRUST_NOT_PINNED: CLAW_TRUST_SHA256 is not set/);
    expect(unpinned.out).toContain(pin);
  });

  it('a state folder another user owns, or a group-writable parent of CLAW_HOME: refused with the path', async () => {
    const state = join(world.home, 'state');
    // Root may hand the folder to any uid: the test needs no second user for this check.
    if (process.getuid?.() === 0) {
      chownSync(state, 4242, 4242);
      try {
        const seen = await serverAndDoctor();
        expect(seen.server).toMatch(/^UNSAFE_OWNER: /);
        expect(seen.server).toContain(`${state} belongs to uid 4242`);
        expect(seen.doctor).toContain(`UNSAFE_OWNER: ${state} belongs to uid 4242`);
      } finally {
        chownSync(state, 0, 0);
      }
    }
    chmodSync(world.dir, 0o770);
    try {
      const seen = await serverAndDoctor();
      expect(seen.server).toMatch(/^UNSAFE_PERMISSIONS: /);
      expect(seen.server).toContain(`${world.dir} is writable by group or others (mode 0770)`);
    } finally {
      chmodSync(world.dir, 0o700);
    }
    // And the control: the same world, put right, is ready.
    const server = await world.connect('read');
    expect(await toolNames(server)).not.toEqual([]);
    await server.close();
  });

  it('started by a process of its own OS user: a warning on stderr and in doctor; CLAW_REQUIRE_SEPARATE_USER=1 refuses', async () => {
    const warned = await world.connect('read');
    expect(await toolNames(warned)).not.toEqual([]);
    expect(warned.stderr()).toMatch(/warning: SAME_USER_AS_CLIENT: this server runs as the same OS user \(uid \d+\)/);
    // The admin home beside CLAW_HOME is readable by this user too: said, with the paths.
    expect(warned.stderr()).toContain(`warning: ADMIN_KEYS_READABLE: this server's OS user can read admin private keys (${world.home}-admin/policy/policy.private.jwk`);
    const doctor = await world.cli(['doctor'], world.serverEnv());
    expect(doctor.out).toMatch(/warn\s+admin keys\s+ADMIN_KEYS_READABLE/);
    expect(doctor.out).toMatch(/warn\s+OS user\s+SAME_USER_AS_CLIENT/);
    await warned.close();
    const seen = await serverAndDoctor({ CLAW_REQUIRE_SEPARATE_USER: '1' });
    expect(seen.server).toMatch(/^SAME_USER_AS_CLIENT/);
    expect(seen.doctor).toMatch(/FAIL\s+OS user\s+SAME_USER_AS_CLIENT/);
  });
});

describe('settings that name paths', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', sim, job: 'paths' });
  });
  afterAll(async () => world?.close());

  it('~/ in CLAW_HOME and CLAW_CST_FILE is the user\'s home; a relative path is refused naming its variable', async () => {
    const tilde = await world.connect('read', {
      HOME: world.dir,
      CLAW_HOME: '~/home',
      CLAW_CST_FILE: `~/${relative(world.dir, world.tokenFile)}`,
    });
    expect(await toolNames(tilde)).toContain('jira_get_issue');
    await tilde.close();
    const relativeHome = await world.connect('read', { CLAW_CST_FILE: 'agent.cst' });
    const refused = await callTool(relativeHome, 'jira_get_issue', { issue_key: 'ENG-1' });
    expect(refused.structured.code).toBe('CONFIG_INVALID');
    expect(String(refused.structured.message)).toContain('CLAW_CST_FILE is a relative path (agent.cst)');
    expect(relativeHome.stderr()).toContain('CLAW_CST_FILE is a relative path');
    await relativeHome.close();
  });

  it('a missing token file is named by its resolved path', async () => {
    const missing = join(world.dir, 'tokens', 'nope.cst');
    const server = await world.connect('read', { CLAW_CST_FILE: missing });
    const refused = await callTool(server, 'jira_get_issue', { issue_key: 'ENG-1' });
    expect(refused.structured.code).toBe('CST_MISSING');
    expect(String(refused.structured.message)).toContain(missing);
    await server.close();
  });

  it('CLAW_JOB_ID=../x is refused and nothing is created anywhere, inside or outside the home', async () => {
    const before = tree(world.dir);
    const server = await world.connect('write', { CLAW_JOB_ID: '../escaped' });
    const refused = await callTool(server, 'jira_add_comment', { issue_key: 'ENG-1', body: 'x' });
    expect(refused.structured.code).toBe('CONFIG_INVALID');
    expect(String(refused.structured.message)).toContain('CLAW_JOB_ID');
    await server.close();
    expect(tree(world.dir)).toEqual(before);
    expect(tree(world.dir).some((entry) => entry.includes('escaped'))).toBe(false);
  });
});

describe('CLI input: one line with a stable code, never a schema dump', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create({ wpc: 'seed.json', sim, job: 'cli-input' });
  });
  afterAll(async () => world?.close());

  it.each([
    [['--job', '../evil'], 'INPUT_INVALID: --job must be'],
    [['--job', 'ok', '--ttl', '12abc'], 'INPUT_INVALID: --ttl must be a positive whole number'],
    [['--job', 'ok', '--ttl', '-5'], 'USAGE_INVALID: '],
    [['--job', 'ok', '--bogus'], "USAGE_INVALID: Unknown option '--bogus'"],
    [['--job', 'ok', '--sub', ''], 'INPUT_INVALID: --sub'],
    [['--job', 'ok', '--ops', 'issue.frobnicate'], 'INPUT_INVALID: invalid scope'],
  ])('cst issue %j', async (flags, expected) => {
    const result = await world.cli(['cst', 'issue', '--wpc', world.wpcHash, ...flags]);
    expect(result.code).toBe(2);
    expect(result.err.trim().split('\n')).toHaveLength(1);
    expect(result.err).toContain(expected);
    expect(result.err).not.toMatch(/^\s*[[{]/m);
    expect(result.err).not.toContain('"code":');
  });

  it('cst revoke of a jti that starts with "-": both --jti <jti> and -- <jti> revoke it, and the server refuses the token', async () => {
    // 1 in 64 jtis starts with '-': issue until one does (bounded), as a user eventually would.
    let token = '';
    let jti = '';
    const file = join(world.dir, 'dash.cst');
    for (let i = 0; i < 1500 && !jti.startsWith('-'); i++) {
      token = await world.issueToken([], file);
      jti = (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { jti: string }).jti;
    }
    expect(jti.startsWith('-')).toBe(true);
    const plain = await world.cli(['cst', 'revoke', jti]);
    expect(plain.code).toBe(2);
    const usage = await world.cli(['cst', 'revoke', '--help']);
    expect(usage.out).toContain('cst revoke --jti <jti>, or cst revoke -- <jti>');
    const server = await world.connect('read', { CLAW_CST_FILE: file });
    expect((await callTool(server, 'jira_get_issue', { issue_key: 'ENG-1' })).isError).toBe(false);
    expect((await world.cli(['cst', 'revoke', '--jti', jti])).out).toContain(`revoked ${jti}`);
    expect((await world.cli(['cst', 'revoke', '--', jti])).out).toContain(`revoked ${jti}`);
    expect((await callTool(server, 'jira_get_issue', { issue_key: 'ENG-1' })).structured.code).toBe('CST_REVOKED');
    await server.close();
  });
});

describe('file modes', () => {
  it('approval requests and the bundle\'s files are 0600 in 0700 folders', async () => {
    const world = await World.create({
      wpc: { wpc_version: 'v1', tool: 'jira', allow: { projects: ['ENG'], operations: ['issue.get', 'issue.comment.create'] }, approval: { operations: ['issue.comment.create'] } },
      sim,
      job: 'modes',
    });
    try {
      const server = await world.connect('write');
      const first = await callTool(server, 'jira_add_comment', { issue_key: 'ENG-6', body: 'needs approval' });
      expect(first.structured.code).toBe('APPROVAL_REQUIRED');
      await world.cliOk(['approve', String(first.structured.approval_request_id), '--yes']);
      await server.close();
      const entries = [...tree(join(world.home, 'approvals')).map((entry) => `approvals/${entry}`), ...tree(world.bundleDir)]
        // The receipt log's own file mode belongs to the receipt log (see its own tests).
        .filter((entry) => !entry.startsWith('receipts'));
      expect(entries.length).toBeGreaterThan(4);
      // The admin CLI's own receipts folder (approve receipts the signature there).
      expect(statSync(join(world.home, 'admin')).mode & 0o777).toBe(0o700);
      for (const entry of entries) expect(entry).toMatch(/ (600|700)$/);
    } finally {
      await world.close();
    }
  });
});
