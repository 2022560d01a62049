import { resolve } from 'node:path';
import { canonicalJson } from '../util/canonical.js';
import { initKeys } from '../keys/store.js';
import { createJournal, journalFileOf } from '../state/journal.js';
import { KEY_ROLES } from '../keys/roles.js';
import { chmodSync, existsSync, statSync } from 'node:fs';
import { adminHomeDirs, serverHomeDirs } from '../config/home.js';
import { lintWpc } from '../wpc/lint.js';
import { signRevocationList } from '../cst/revocation.js';
import { writeFileAtomic } from '../util/files.js';
import { diffWpc } from '../wpc/diff.js';
import { parseWpcJson, wpcDocument } from '../wpc/document.js';
import { LocalRegistryBackend, WpcRegistry, b64uAddress, registryBackend } from '../wpc/registry.js';
import { clawWpcForm } from '../claw/clawcontrols.js';
import { didKeyFromJwkX } from '../claw/did-key.js';
import { jcsHashB64u } from '../claw/hash.js';
import { signWpcHash } from '../wpc/signature.js';
import { parseCommandArgs, requirePositional } from './args.js';
import { homeOf, loadWpcArg, readTextFile, registryLocation, signingKey, trustOf } from './common.js';
import { EXIT, UsageError, type CommandSpec } from './io.js';

export const initCommand: CommandSpec = {
  name: 'init',
  summary: 'create CLAW_HOME (receipt key, trust file, registry, state, secrets/, tokens/) and the admin home (policy, issuer, approver keys)',
  usage: 'claw-jira init [--admin-home <dir>] [--json]   (admin home default: <CLAW_HOME>-admin, or CLAW_ADMIN_HOME)',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, { json: { type: 'boolean' } });
    const home = homeOf(io);
    const result = await initKeys(home);
    // Folders made before init was strict (0755) are tightened: every one holds something private.
    for (const dir of [...serverHomeDirs(home), ...adminHomeDirs(home)]) {
      try {
        chmodSync(dir, 0o700);
      } catch {
        // Not ours to change: the servers' permission check names it if it matters.
      }
    }
    // A signed empty revocation list: servers refuse to run without one, so deleting it cannot un-revoke.
    if (!existsSync(home.revocationFile)) {
      const list = { v: 1 as const, iat: Math.floor(Date.now() / 1000), revoked: [] };
      writeFileAtomic(home.revocationFile, `${await signRevocationList(list, await signingKey(home, 'issuer'))}\n`);
    }
    // The servers' signed state journal: servers refuse to run without it, so deleting it cannot reset what
    // they recorded (approvals used, budget spent, newest revocation list and kill switch seen).
    createJournal(journalFileOf(home.stateDir), await signingKey(home, 'receipt'));
    if (values.json) {
      io.out(
        JSON.stringify({
          home: home.root,
          admin_home: home.adminRoot,
          created: result.created,
          kept: result.kept,
          moved: result.moved,
          keys: result.trust.keys.map(({ role, kid }) => ({ role, kid, private_key: home.privateKeyFile(role) })),
        }),
      );
      return EXIT.ok;
    }
    io.out(`CLAW_HOME       ${home.root}   (the servers' home: receipt key, trust file, state)`);
    io.out(`CLAW_ADMIN_HOME ${home.adminRoot}   (policy, issuer and approver keys: keep out of the servers' and the agent's reach)`);
    for (const entry of result.trust.keys) {
      if (!KEY_ROLES.includes(entry.role) || !(result.created.includes(entry.role) || result.kept.includes(entry.role))) continue;
      const state = result.created.includes(entry.role) ? 'created' : result.moved.includes(entry.role) ? 'moved out of CLAW_HOME/keys' : 'kept (existing key never overwritten)';
      io.out(`  ${entry.role.padEnd(8)} ${entry.kid}  ${state}  ${home.privateKeyFile(entry.role)}`);
    }
    io.out(`trust file ${home.trustFile}\nregistry   ${home.registryDir}\nsecrets    ${home.secretsDir}\ntokens     ${home.tokensDir}`);
    return EXIT.ok;
  },
};

export const keysListCommand: CommandSpec = {
  name: 'keys list',
  summary: 'list the key pairs and trusted public keys',
  usage: 'claw-jira keys list [--json]',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, { json: { type: 'boolean' } });
    const home = homeOf(io);
    const trust = await trustOf(io, home);
    const rows = trust.list().map((key) => {
      const file = home.privateKeyFile(key.role);
      let privateKey = 'absent';
      if (existsSync(file)) privateKey = `${file} (mode ${(statSync(file).mode & 0o777).toString(8)})`;
      return { role: key.role, kid: key.kid, did: key.did, private_key: privateKey };
    });
    if (values.json) io.out(JSON.stringify(rows));
    else for (const row of rows) io.out(`${row.role.padEnd(8)} ${row.kid}  ${row.did}  private: ${row.private_key}`);
    return EXIT.ok;
  },
};

export const wpcLintCommand: CommandSpec = {
  name: 'wpc lint',
  summary: 'check a WPC file: schema errors and likely mistakes, each with its JSON path',
  usage: 'claw-jira wpc lint <file> [--strict] [--json]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { strict: { type: 'boolean' }, json: { type: 'boolean' } });
    const file = requirePositional(positionals, 0, 'file');
    // An unreadable file is "could not run" (exit 3); text that is not a WPC is a lint failure (exit 1).
    const text = readTextFile(io, file, 'WPC file');
    let problems;
    try {
      problems = lintWpc(parseWpcJson(text));
    } catch (error) {
      problems = [{ severity: 'error' as const, path: '$', message: error instanceof Error ? error.message : 'unreadable' }];
    }
    const errors = problems.filter((problem) => problem.severity === 'error').length;
    const failed = errors > 0 || (values.strict === true && problems.length > 0);
    if (values.json) io.out(JSON.stringify({ ok: !failed, problems }));
    else {
      for (const problem of problems) io.out(`${problem.severity}: ${problem.path}: ${problem.message}`);
      io.out(failed ? `${file}: ${problems.length} problem(s)` : `${file}: ok${problems.length ? ` (${problems.length} warning(s))` : ''}`);
    }
    return failed ? EXIT.failed : EXIT.ok;
  },
};

export const wpcHashCommand: CommandSpec = {
  name: 'wpc hash',
  summary: 'print both address forms of a WPC (sha256:<hex>, then the same digest as Claw base64url); of a Claw WPC v1 form, its clawcontrols address too',
  usage: 'claw-jira wpc hash <file> [--canonical | --claw-form [--registry <dir>] [--trust <file>]] [--json]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      canonical: { type: 'boolean' },
      'claw-form': { type: 'boolean' },
      registry: { type: 'string' },
      trust: { type: 'string' },
      json: { type: 'boolean' },
    });
    const value = parseWpcJson(readTextFile(io, requirePositional(positionals, 0, 'file'), 'WPC file'));
    // A Claw WPC v1 (or the {"wpc": …} body POSTed to clawcontrols) is addressed by its own JCS hash.
    const claw = carriedClawWpc(value);
    const document = wpcDocument(claw ? claw.carried : value);
    if (values.canonical) {
      io.out(canonicalJson(document.source));
      return EXIT.ok;
    }
    if (values['claw-form']) {
      // The Claw form carries the author's signature: the WPC must be signed in the registry.
      const home = homeOf(io);
      const registry = new WpcRegistry(registryBackend(registryLocation(io, home, values.registry)), await trustOf(io, home, values.trust));
      const verified = await registry.get(document.hash);
      const key = registry.trust.get(verified.signer.kid, 'policy');
      if (!key) throw new UsageError('the WPC signer is not a policy key of the trust file');
      const form = clawWpcForm(verified, didKeyFromJwkX(key.publicJwk.x));
      io.err(`clawcontrols address (policy_hash_b64u) ${jcsHashB64u(form)}`);
      io.out(JSON.stringify({ wpc: form }));
      return EXIT.ok;
    }
    const forms = { sha256: document.hash, b64u: b64uAddress(document.hash), ...(claw ? { clawcontrols: jcsHashB64u(claw.form) } : {}) };
    if (values.json) io.out(JSON.stringify(forms));
    else {
      io.out(forms.sha256);
      io.out(forms.b64u);
      if (forms.clawcontrols) io.out(forms.clawcontrols);
    }
    return EXIT.ok;
  },
};

/** The Jira WPC inside a Claw WPC v1 form (bare, or as the `{"wpc": …}` registry body), if the value is one. */
function carriedClawWpc(value: unknown): { form: unknown; carried: unknown } | undefined {
  const record = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
  const top = record(value);
  const form = top && 'wpc' in top && Object.keys(top).length === 1 ? record(top.wpc) : top;
  if (form?.policy_version !== '1') return undefined;
  const carried = record(record(form.metadata)?.claw_jira)?.wpc;
  if (carried === undefined) throw new UsageError('this Claw WPC v1 carries no claw-jira WPC (metadata.claw_jira.wpc)');
  return { form, carried };
}

export const wpcSignCommand: CommandSpec = {
  name: 'wpc sign',
  summary: 'validate, canonicalise, sign with the policy key and publish a WPC to the registry; prints its address',
  usage: 'claw-jira wpc sign <file> [--registry <dir>]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { registry: { type: 'string' } });
    const file = requirePositional(positionals, 0, 'file');
    const value = parseWpcJson(readTextFile(io, file, 'WPC file'));
    const errors = lintWpc(value).filter((problem) => problem.severity === 'error');
    if (errors.length > 0) {
      for (const problem of errors) io.err(`error: ${problem.path}: ${problem.message}`);
      io.err(`${file}: not signed (run 'claw-jira wpc lint ${file}')`);
      return EXIT.failed;
    }
    const home = homeOf(io);
    const document = wpcDocument(value);
    const key = await signingKey(home, 'policy');
    const signature = await signWpcHash(document.hash, key);
    const location = registryLocation(io, home, values.registry);
    if (/^https?:/i.test(location)) {
      io.err('the HTTPS registry is read-only: sign into a local folder with --registry and upload <hex>.json and <hex>.sig');
      return EXIT.usage;
    }
    new LocalRegistryBackend(resolve(io.cwd, location)).put(document, signature);
    io.err(`signed by policy key ${key.kid}; stored in ${resolve(io.cwd, location)}`);
    io.out(document.hash);
    return EXIT.ok;
  },
};

export const wpcVerifyCommand: CommandSpec = {
  name: 'wpc verify',
  summary: 'fetch a WPC by address and verify its bytes, canonical form and signature against the trust file',
  usage: 'claw-jira wpc verify <sha256:hex> [--registry <dir|url>] [--trust <file>]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { registry: { type: 'string' }, trust: { type: 'string' } });
    const hash = requirePositional(positionals, 0, 'sha256:hex');
    const home = homeOf(io);
    const registry = new WpcRegistry(registryBackend(registryLocation(io, home, values.registry)), await trustOf(io, home, values.trust));
    try {
      const verified = await registry.get(hash);
      io.out(`ok: ${verified.hash} signed by policy key ${verified.signer.kid} at ${new Date(verified.signer.iat * 1000).toISOString()}`);
      return EXIT.ok;
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'WPC_INVALID';
      io.out(`FAILED ${code}: ${error instanceof Error ? error.message : ''}`);
      return EXIT.failed;
    }
  },
};

export const wpcDiffCommand: CommandSpec = {
  name: 'wpc diff',
  summary: 'show the scope delta between two WPCs (files or addresses); exit 1 when B is wider than A',
  usage: 'claw-jira wpc diff <A> <B> [--json]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' }, registry: { type: 'string' } });
    const home = homeOf(io);
    const [argA, argB] = [requirePositional(positionals, 0, 'A'), requirePositional(positionals, 1, 'B')];
    const a = await loadWpcArg(io, home, argA, values.registry);
    const b = await loadWpcArg(io, home, argB, values.registry);
    const diff = diffWpc(a.policy, b.policy);
    if (values.json) {
      io.out(JSON.stringify({ a: a.hash, b: b.hash, ...diff }));
    } else {
      io.out(`A ${a.hash}\nB ${b.hash}`);
      if (diff.scope.length + diff.rules.length + diff.runtime.length === 0) io.out('no difference in scope');
      for (const delta of diff.scope) {
        for (const value of delta.added) io.out(`+ ${delta.name}: ${value}`);
        for (const value of delta.removed) io.out(`- ${delta.name}: ${value}`);
      }
      for (const delta of diff.rules) {
        for (const value of delta.added) io.out(`  rule + ${delta.name}: ${value}`);
        for (const value of delta.removed) io.out(`  rule - ${delta.name}: ${value}`);
      }
      for (const change of diff.runtime) io.out(`~ ${change.name}: ${JSON.stringify(change.before)} -> ${JSON.stringify(change.after)}`);
      io.out(diff.widened ? 'scope WIDENED: B permits something A did not' : 'scope not widened');
    }
    return diff.widened ? EXIT.failed : EXIT.ok;
  },
};
