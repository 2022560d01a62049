/**
 * Threat rows "Token replay or leak", "Swapped policy" and "Tampered evidence" (PRODUCT.md), end to end: the
 * built servers over stdio, tokens and policies made by the real CLI, attacks on the files a runtime hands over.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clawHome } from '../../src/config/home.js';
import { issueCst } from '../../src/cst/issue.js';
import { loadSigningKey } from '../../src/keys/store.js';
import { TrustStore } from '../../src/keys/trust.js';
import { verifyReceiptChain } from '../../src/receipts/chain.js';
import { SIM_USERS, startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { sha256Hex } from '../../src/util/canonical.js';
import { LocalRegistryBackend, WpcRegistry } from '../../src/wpc/registry.js';
import { ROOT, World, toolNames, type Connected } from './harness.js';
import { bundleOf, expectAllowed, expectRefused, filesUnder, readText, transcript } from './threat-helpers.js';

let sim: RunningSimulator;
let world: World;
const connections: Connected[] = [];
/** Every token this file made, for the leak check at the end. */
const tokens: string[] = [];

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 42 });
  world = await World.create({ wpc: 'seed.json', sim, job: 'job-tokens' });
  tokens.push(readFileSync(world.tokenFile, 'utf8').trim());
});
afterAll(async () => {
  await world?.close();
  await sim?.close();
});

async function connect(server: 'read' | 'write', env: Record<string, string | undefined> = {}): Promise<Connected> {
  const connected = await world.connect(server, env);
  connections.push(connected);
  return connected;
}

/** A fresh token of this world in its own file, so revoking or expiring it leaves the others alone. */
async function freshToken(name: string, extra: string[] = [], job = world.job): Promise<{ file: string; token: string }> {
  const file = join(world.dir, `${name}.cst`);
  const token = await world.issueToken(extra, file, job);
  tokens.push(token);
  return { file, token };
}

function claimsOf(token: string): { jti: string; exp: number; job: string } {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { jti: string; exp: number; job: string };
}

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

const comment = { issue_key: 'ENG-6', body: 'token check' };

describe('threat: token replay or leak', () => {
  it('positive control: the world token works on both servers', async () => {
    const write = await connect('write');
    expect(await toolNames(write)).toEqual(['jira_add_comment', 'jira_create_issue']);
    await expectAllowed(write, 'jira_add_comment', comment);
    await expectAllowed(await connect('read'), 'jira_get_issue', { issue_key: 'ENG-6' });
  });

  it('a token presented by a server of another job is refused (CST_WRONG_JOB), and that server lists no tools', async () => {
    const other = 'job-elsewhere';
    const write = await connect('write', { CLAW_JOB_ID: other });
    expect(await toolNames(write)).toEqual([]);
    await expectRefused(world, write, 'jira_add_comment', comment, 'CST_WRONG_JOB', { bundleDir: bundleOf(world, other), stage: 'cst' });
  });

  it('a token whose first use is recorded under another job is refused as replayed (durable replay store)', async () => {
    // Job binding stops a replay in another job before the store is reached (CST_WRONG_JOB above); the store is the
    // second lock, for a jti seen twice (an issuer reusing ids, a store shared by two homes). Record that first use.
    const { file, token } = await freshToken('replayed');
    const { jti, exp } = claimsOf(token);
    const replayDir = clawHome(world.home).replayDir;
    mkdirSync(replayDir, { recursive: true });
    writeFileSync(join(replayDir, `${sha256Hex(jti)}.json`), JSON.stringify({ job: 'job-first-seen', first_seen: new Date().toISOString(), exp }));
    const read = await connect('read', { CLAW_CST_FILE: file });
    expect(await toolNames(read)).toEqual([]);
    await expectRefused(world, read, 'jira_get_issue', { issue_key: 'ENG-6' }, 'CST_REPLAYED', { stage: 'cst' });
    // The store records real first uses too: the world token's jti is on disk, bound to this job.
    const worldJti = claimsOf(tokens[0] as string).jti;
    expect(JSON.parse(readText(join(replayDir, `${sha256Hex(worldJti)}.json`)))).toMatchObject({ job: world.job });
  });

  it('`claw-jira cst revoke` stops a token on running servers at their next call', async () => {
    const { file } = await freshToken('revoked');
    const write = await connect('write', { CLAW_CST_FILE: file });
    const read = await connect('read', { CLAW_CST_FILE: file });
    await expectAllowed(write, 'jira_add_comment', comment);
    await expectAllowed(read, 'jira_get_issue', { issue_key: 'ENG-6' });
    await world.cliOk(['cst', 'revoke', file, '--reason', 'threat suite']);
    await expectRefused(world, write, 'jira_add_comment', comment, 'CST_REVOKED', { stage: 'cst' });
    await expectRefused(world, read, 'jira_get_issue', { issue_key: 'ENG-6' }, 'CST_REVOKED');
    expect(await toolNames(write)).toEqual([]);
    // Other tokens of the job are untouched.
    const untouched = connections[0] as Connected;
    await expectAllowed(untouched, 'jira_add_comment', comment);
    // Deleting the revocation list does not un-revoke: a server that saw a list refuses every token without one.
    const listFile = clawHome(world.home).revocationFile;
    const list = readText(listFile);
    rmSync(listFile);
    try {
      await expectRefused(world, write, 'jira_add_comment', comment, 'CST_REVOCATION_UNAVAILABLE');
      await expectRefused(world, untouched, 'jira_add_comment', comment, 'CST_REVOCATION_UNAVAILABLE');
    } finally {
      writeFileSync(listFile, list);
    }
    await expectRefused(world, write, 'jira_add_comment', comment, 'CST_REVOKED');
    await expectAllowed(untouched, 'jira_add_comment', comment);
  });

  it('an expired token is refused (no clock skew); a rotated token file takes effect without a restart', async () => {
    const { file, token } = await freshToken('short', ['--ttl', '1']);
    const write = await connect('write', { CLAW_CST_FILE: file, CLAW_CLOCK_SKEW_SECONDS: '0' });
    const wait = claimsOf(token).exp * 1000 - Date.now() + 150;
    if (wait > 0) await sleep(Math.min(wait, 2_500));
    await expectRefused(world, write, 'jira_add_comment', comment, 'CST_EXPIRED', { stage: 'cst' });
    await freshToken('short'); // same file, new token: the runtime rotates it
    await expectAllowed(write, 'jira_add_comment', comment);
  });

  it('a token narrows the policy in force, never widens it: projects, operations and fields outside its scope are refused', async () => {
    const { file } = await freshToken('narrow', ['--projects', 'ENG', '--ops', 'issue.search,issue.get,issue.create', '--fields', 'summary']);
    const read = await connect('read', { CLAW_CST_FILE: file });
    const write = await connect('write', { CLAW_CST_FILE: file });
    expect(await toolNames(write)).toEqual(['jira_create_issue']);
    await expectRefused(world, read, 'jira_get_issue', { issue_key: 'SEC-19' }, 'SCOPE_PROJECT_NOT_GRANTED');
    // A search is confined to the token's projects; naming one the WPC allows but the token does not is refused.
    const search = await expectAllowed(read, 'jira_search_issues', { jql: 'status = Done' });
    expect(search.structured.data).toMatchObject({ jql_sent: '(status = Done) AND project in ("ENG")' });
    await expectRefused(world, read, 'jira_search_issues', { jql: 'project = SEC' }, 'SCOPE_PROJECT_NOT_GRANTED', { stage: 'policy' });
    await expectRefused(world, write, 'jira_add_comment', comment, 'SCOPE_OPERATION_NOT_GRANTED');
    const create = { project_key: 'ENG', issue_type: 'Task', summary: 'scoped' };
    await expectRefused(world, write, 'jira_create_issue', { ...create, description: 'the WPC allows it, the token does not' }, 'SCOPE_FIELD_NOT_GRANTED');
    await expectAllowed(write, 'jira_create_issue', create);
    // Issuing a token wider than the WPC is refused at the source.
    const wider = await world.cli(['cst', 'issue', '--wpc', world.wpcHash, '--job', world.job, '--projects', 'ENG,HR', '--out', join(world.dir, 'wider.cst')]);
    expect(wider.code).not.toBe(0);
    expect(existsSync(join(world.dir, 'wider.cst'))).toBe(false);
  });

  it('a token signed by a key this home does not trust is refused (CST_BAD_SIGNATURE)', async () => {
    // A second claw-jira home signs the same policy (same bytes, same address) and issues a token for this job.
    const otherHome = join(world.dir, 'other-home');
    const env = { ...world.baseEnv(), CLAW_HOME: otherHome };
    await world.cliOk(['init'], env);
    const hash = (await world.cliOk(['wpc', 'sign', join(ROOT, 'wpc-examples', 'seed.json')], env)).out.trim();
    expect(hash).toBe(world.wpcHash);
    const file = join(world.dir, 'foreign.cst');
    await world.cliOk(['cst', 'issue', '--wpc', hash, '--job', world.job, '--sub', 'agent-e2e', '--out', file], env);
    const foreign = readText(file).trim();
    tokens.push(foreign);
    const write = await connect('write', { CLAW_CST_FILE: file });
    expect(await toolNames(write)).toEqual([]);
    await expectRefused(world, write, 'jira_add_comment', comment, 'CST_BAD_SIGNATURE', { stage: 'cst' });

    // The same foreign token relabelled with this home's issuer kid: the signature does not verify.
    const trustedKid = (JSON.parse(Buffer.from((tokens[0] as string).split('.')[0] as string, 'base64url').toString()) as { kid: string }).kid;
    const [, payload, signature] = foreign.split('.');
    const relabelled = `${b64({ alg: 'EdDSA', typ: 'cst+jwt', kid: trustedKid })}.${payload}.${signature}`;
    // A real token with its scope widened after signing, and one that claims `alg: none`.
    const [header, realPayload, realSignature] = (tokens[0] as string).split('.');
    const claims = JSON.parse(Buffer.from(realPayload as string, 'base64url').toString()) as { scope: { projects: string[] } };
    const widened = `${header}.${b64({ ...claims, scope: { ...claims.scope, projects: [...claims.scope.projects, 'HR'] } })}.${realSignature}`;
    const none = `${b64({ alg: 'none', typ: 'cst+jwt', kid: trustedKid })}.${realPayload}.${realSignature}`;
    // Signed with a key this home does trust, but for policies, not tokens (role confusion).
    const home = clawHome(world.home);
    const trust = await TrustStore.load(home.trustFile);
    const wpc = await new WpcRegistry(new LocalRegistryBackend(home.registryDir), trust).get(world.wpcHash);
    const policyKeySigned = (await issueCst(await loadSigningKey(home, 'policy'), { wpc, job: world.job, subject: 'agent-e2e' })).token;
    for (const [name, token] of Object.entries({ relabelled, widened, none, policyKeySigned })) {
      tokens.push(token);
      writeFileSync(file, `${token}\n`);
      await expectRefused(world, write, 'jira_add_comment', { ...comment, body: name }, 'CST_BAD_SIGNATURE');
    }
  });
});

describe('threat: swapped policy', () => {
  let second: string;

  beforeAll(async () => {
    // A second, properly signed policy in the same registry, wider than the one the token pins.
    second = await world.signWpc({
      wpc_version: 'v1',
      tool: 'jira',
      allow: { projects: ['ENG', 'SEC', 'HR'], operations: ['issue.get', 'issue.comment.create', 'issue.create', 'issue.update'], fields_write_allowlist: ['summary'] },
    });
  });

  it('a server started on another (valid, signed) WPC than the token pins refuses the token (CST_POLICY_MISMATCH)', async () => {
    const write = await connect('write', { CLAW_WPC: second });
    expect(await toolNames(write)).toEqual([]);
    await expectRefused(world, write, 'jira_add_comment', { issue_key: 'HR-10', body: 'wider policy' }, 'CST_POLICY_MISMATCH', { stage: 'cst' });
  });

  it('a WPC whose signature was swapped or damaged: the server starts, lists nothing, refuses every call', async () => {
    const registry = clawHome(world.home).registryDir;
    const target = await world.signWpc('read-only.json');
    const sigFile = join(registry, `${target.slice('sha256:'.length)}.sig`);
    const genuine = readText(sigFile);
    const donor = readText(join(registry, `${second.slice('sha256:'.length)}.sig`));
    const flipped = genuine.trim().slice(0, -2) + (genuine.trim().endsWith('AA') ? 'BA' : 'AA');
    try {
      for (const forged of [donor, flipped, '']) {
        writeFileSync(sigFile, forged);
        const read = await connect('read', { CLAW_WPC: target });
        expect(await toolNames(read)).toEqual([]);
        await expectRefused(world, read, 'jira_get_issue', { issue_key: 'ENG-6' }, 'WPC_SIGNATURE_INVALID', { stage: 'config' });
      }
    } finally {
      writeFileSync(sigFile, genuine);
    }
  });

  it('a WPC file changed while the server runs is refused, not reloaded, and stays refused', async () => {
    // Its own world: the registry file of the WPC in force is rewritten.
    const own = await World.create({ wpc: 'seed.json', sim, job: 'job-swapped' });
    try {
      tokens.push(readText(own.tokenFile).trim());
      const write = await own.connect('write');
      await expectAllowed(write, 'jira_add_comment', comment);
      const file = join(clawHome(own.home).registryDir, `${own.wpcHash.slice('sha256:'.length)}.json`);
      const original = readText(file);
      const policy = JSON.parse(original) as { allow: { projects: string[]; operations: string[] } };
      const wider = { ...policy, allow: { ...policy.allow, projects: [...policy.allow.projects, 'HR'], operations: [...policy.allow.operations, 'issue.update'] } };
      writeFileSync(file, JSON.stringify(wider));
      await expectRefused(own, write, 'jira_add_comment', comment, 'WPC_CHANGED', { stage: 'wpc' });
      await expectRefused(own, write, 'jira_update_issue', { issue_key: 'HR-10', summary: 'wider' }, 'WPC_CHANGED');
      expect(await toolNames(write)).toEqual([]);
      // A server started now on that address finds bytes that do not hash to it.
      const fresh = await own.connect('write');
      expect(await toolNames(fresh)).toEqual([]);
      await expectRefused(own, fresh, 'jira_add_comment', comment, 'WPC_HASH_MISMATCH');
      // Putting the original back does not bring the running server back: it needs a restart on a signed WPC.
      writeFileSync(file, original);
      await expectRefused(own, write, 'jira_add_comment', comment, 'WPC_CHANGED');
      expect(own.receipts().some((receipt) => receipt.kind === 'event' && receipt.event?.type === 'wpc.changed')).toBe(true);
    } finally {
      await own.close();
    }
  });
});

describe('threat: tampered evidence (receipt file of a real session)', () => {
  it('deleting or editing a line of a receipt file fails the chain check, naming the line', async () => {
    const trust = await TrustStore.load(clawHome(world.home).trustFile);
    const files = filesUnder(join(world.bundleDir, 'receipts')).filter((path) => path.endsWith('.jsonl'));
    const text = files.map(readText).find((content) => content.split('\n').length > 4) as string;
    expect(text).toBeDefined();
    expect(verifyReceiptChain(text, trust).problems).toEqual([]);
    const lines = text.split('\n');
    const deleted = [...lines.slice(0, 1), ...lines.slice(2)].join('\n');
    const afterDelete = verifyReceiptChain(deleted, trust);
    expect(afterDelete.ok).toBe(false);
    expect(afterDelete.problems[0]?.line).toBe(2);
    // Still canonical JSON, one character of its time changed: only the signature can tell.
    const edited = lines.map((line, index) => (index === 2 ? line.replace(/"time":"(\d)/, (_m, d: string) => `"time":"${d === '1' ? '2' : '1'}`) : line)).join('\n');
    expect(edited).not.toBe(text);
    const afterEdit = verifyReceiptChain(edited, trust);
    expect(afterEdit.ok).toBe(false);
    expect(afterEdit.problems[0]?.line).toBe(3);
  });
});

describe('threat: token leak (runs last: greps everything the file produced)', () => {
  it('no token, and not the Jira API token, appears in any tool output, stderr, receipt or file under CLAW_HOME', async () => {
    expect(tokens.length).toBeGreaterThan(8);
    expect(transcript.length).toBeGreaterThan(20);
    const secrets = [...new Set(tokens), SIM_USERS.agent.apiToken];
    const places: Array<[string, string]> = [
      ...transcript.map((text, index): [string, string] => [`tool result ${index}`, text]),
      ...connections.map((connected, index): [string, string] => [`stderr of server ${index}`, connected.stderr()]),
      ...filesUnder(world.home).map((path): [string, string] => [path, readText(path)]),
    ];
    expect(places.some(([where]) => where.endsWith('.jsonl'))).toBe(true);
    for (const [where, text] of places) {
      for (const secret of secrets) {
        // Each token's signature part alone is enough to tell a leak (the header is shared by all tokens).
        expect(text.includes(secret) || text.includes(secret.split('.')[2] ?? secret), `a secret leaked into ${where}`).toBe(false);
      }
    }
    expect(existsSync(world.tokenFile)).toBe(true);
  });
});
