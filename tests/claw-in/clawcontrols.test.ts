/**
 * clawcontrols as claw-jira's WPC registry, against a fake clawcontrols on loopback (its API as PROTOCOL.md §2.3
 * states it): the Jira WPC travels as a Claw WPC v1 whose metadata carries it and its author's signature; the
 * registry's envelope is checked against the did pinned in CLAW_REGISTRY's fragment; a WPC signed by the
 * registry alone is refused. End to end: the built write server loads its WPC from the fake registry.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clawWpcForm } from '../../src/claw/clawcontrols.js';
import { didKeyFromJwkX } from '../../src/claw/did-key.js';
import { createEnvelope } from '../../src/claw/envelope.js';
import { jcsHashB64u } from '../../src/claw/hash.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { WpcRegistry, b64uAddress, registryBackend, wpcClawAddresses } from '../../src/wpc/registry.js';
import { makeEnv, type CoreEnv } from '../core/helpers/env.js';
import { seedWpc } from '../core/helpers/seed.js';
import { signWpcHash } from '../../src/wpc/signature.js';
import { World } from '../e2e/harness.js';
import { expectAllowed, expectRefused } from '../e2e/threat-helpers.js';
import { newEnvelopeSigner, startFakeClawcontrols, type FakeClawcontrols } from './fake-clawcontrols.js';

let fake: FakeClawcontrols;
let env: CoreEnv;
let authorDid: string;

beforeAll(async () => {
  fake = await startFakeClawcontrols();
  env = await makeEnv();
  authorDid = didKeyFromJwkX(env.keys.policy.publicJwk.x);
});
afterAll(async () => {
  await fake.close();
  env.cleanup();
});

function registry(did = fake.did): WpcRegistry {
  return new WpcRegistry(registryBackend(`${fake.url}#${did}`), env.trust);
}

async function published(form: Record<string, unknown>): Promise<string> {
  const { status, body } = await fake.publish(form);
  expect([200, 201]).toContain(status);
  return body.policy_hash_b64u as string;
}

describe('clawcontrols registry backend', () => {
  it('loads a WPC by its Claw address: same policy, same claw-jira hash, the registry named', async () => {
    const address = await published(clawWpcForm(env.seed, authorDid));
    expect(address).toBe(jcsHashB64u(clawWpcForm(env.seed, authorDid)));
    const wpc = await registry().get(address);
    expect(wpc.hash).toBe(env.seed.hash);
    expect(wpc.policy).toEqual(env.seed.policy);
    expect(wpc.signer.kid).toBe(env.keys.policy.kid);
    expect(wpc.claw).toEqual({ policy_hash_b64u: address, registry_did: fake.did });
    // A clawscope token may pin either: the registry address, or the digest's base64url form.
    expect(wpcClawAddresses(wpc)).toEqual([b64uAddress(env.seed.hash), address]);
  });

  it('a WPC signed by the registry only is refused (WPC_AUTHOR_SIGNATURE_MISSING)', async () => {
    const form = clawWpcForm(env.seed, authorDid) as { metadata: { claw_jira: Record<string, unknown> } };
    const { signature: _signature, ...carried } = form.metadata.claw_jira;
    expect(_signature).toBeDefined();
    const address = await published({ ...form, metadata: { claw_jira: carried } });
    await expect(registry().get(address)).rejects.toMatchObject({ code: 'WPC_AUTHOR_SIGNATURE_MISSING' });
  });

  it('the author must be a trusted policy key, and the one issuer_did names', async () => {
    const stranger = await newEnvelopeSigner();
    await expect(registry().get(await published(clawWpcForm({ ...env.seed, signature: 'e30.e30.AAAA' }, authorDid)))).rejects.toMatchObject({ code: 'WPC_SIGNATURE_INVALID' });
    // Signed by the issuer key (trusted, but not for policies).
    const byIssuer = await signWpcHash(env.seed.hash, env.keys.issuer);
    await expect(registry().get(await published(clawWpcForm({ ...env.seed, signature: byIssuer }, authorDid)))).rejects.toMatchObject({ code: 'WPC_UNTRUSTED_SIGNER' });
    await expect(registry().get(await published(clawWpcForm(env.seed, stranger.did)))).rejects.toMatchObject({ code: 'WPC_ISSUER_MISMATCH' });
  });

  it('the registry envelope: pinned signer, its signature, its hash, the requested address', async () => {
    const form = clawWpcForm(env.seed, authorDid);
    const address = await published(form);
    await expect(registry((await newEnvelopeSigner()).did).get(address)).rejects.toMatchObject({ code: 'WPC_REGISTRY_SIGNER_NOT_ALLOWED' });

    const other = await newEnvelopeSigner();
    const fakeAddress = 'A'.repeat(43);
    // Another key's signature presented under the pinned did.
    const forged = { ...createEnvelope('work_policy_contract', form, other, { issuedAt: new Date().toISOString(), hashMode: 'jcs' }), signer_did: fake.did };
    fake.serve(fakeAddress, 200, { ok: true, policy_hash_b64u: fakeAddress, envelope: { ...forged, payload_hash_b64u: fakeAddress } });
    await expect(registry().get(fakeAddress)).rejects.toMatchObject({ code: 'WPC_HASH_MISMATCH' });
    const signedAddress = forged.payload_hash_b64u;
    fake.serve(signedAddress, 200, { ok: true, policy_hash_b64u: signedAddress, envelope: forged });
    await expect(registry().get(signedAddress)).rejects.toMatchObject({ code: 'WPC_REGISTRY_SIGNATURE_INVALID' });
    // The registry answers for another policy than asked.
    const real = createEnvelope('work_policy_contract', form, fake.signer, { issuedAt: new Date().toISOString(), hashMode: 'jcs' });
    const asked = 'B'.repeat(43);
    fake.serve(asked, 200, { ok: true, policy_hash_b64u: asked, envelope: real });
    await expect(registry().get(asked)).rejects.toMatchObject({ code: 'WPC_HASH_MISMATCH' });
    // A payload changed after the registry signed it (same address claimed).
    const changed = { ...real, payload: { ...form, policy_id: 'claw-jira.changed' } };
    fake.serve(real.payload_hash_b64u, 200, { ok: true, policy_hash_b64u: real.payload_hash_b64u, envelope: changed });
    await expect(registry().get(real.payload_hash_b64u)).rejects.toMatchObject({ code: 'WPC_HASH_MISMATCH' });
  });

  it('not found, corrupted, not a Claw WPC carrying a claw-jira WPC', async () => {
    await expect(registry().get('C'.repeat(43))).rejects.toMatchObject({ code: 'WPC_NOT_FOUND' });
    const form = { ...clawWpcForm(env.seed, authorDid), policy_id: 'claw-jira.corrupt-me' };
    const address = await published(form);
    fake.corrupt(address);
    await expect(registry().get(address)).rejects.toMatchObject({ code: 'WPC_UNREADABLE', message: expect.stringContaining('WPC_CORRUPTED') });
    const bare = await published({ policy_version: '1', policy_id: 'plain-claw', issuer_did: authorDid });
    await expect(registry().get(bare)).rejects.toMatchObject({ code: 'WPC_ENVELOPE_INVALID' });
    expect(() => registryBackend(`http://clawcontrols.example.com#${fake.did}`)).toThrow(/https/);
  });

  it('a local registry takes either address form of the same digest', async () => {
    const local = new WpcRegistry(registryBackend(env.home.registryDir), env.trust);
    expect((await local.get(b64uAddress(env.seed.hash))).hash).toBe(env.seed.hash);
  });
});

describe('end to end: the write server loads its WPC from clawcontrols', () => {
  let sim: RunningSimulator;
  let world: World;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, seed: 42 });
    world = await World.create({ wpc: 'seed.json', sim, job: 'job-controls' });
  });
  afterAll(async () => {
    await world?.close();
    await sim?.close();
  });

  it('wpc hash prints both forms; --claw-form is what clawcontrols stores; CLAW_WPC names it; a registry-only WPC is refused', async () => {
    const file = join(world.dir, 'seed.json');
    writeFileSync(file, JSON.stringify(seedWpc()));
    const forms = (await world.cliOk(['wpc', 'hash', file])).out.trim().split('\n');
    expect(forms).toEqual([world.wpcHash, b64uAddress(world.wpcHash)]);
    const claw = await world.cliOk(['wpc', 'hash', file, '--claw-form']);
    const body = JSON.parse(claw.out) as { wpc: Record<string, unknown> };
    const address = await published(body.wpc);
    expect(claw.err).toContain(address);
    // The Claw form file itself hashes to the registry address too.
    const formFile = join(world.dir, 'claw-form.json');
    writeFileSync(formFile, claw.out);
    expect((await world.cliOk(['wpc', 'hash', formFile])).out.trim().split('\n')).toEqual([world.wpcHash, b64uAddress(world.wpcHash), address]);

    const reg = `${fake.url}#${fake.did}`;
    const token = join(world.dir, 'controls.cst');
    await world.issueToken(['--registry', reg], token, world.job, address);
    const write = await world.connect('write', { CLAW_REGISTRY: reg, CLAW_WPC: address, CLAW_CST_FILE: token });
    await expectAllowed(write, 'jira_add_comment', { issue_key: 'ENG-6', body: 'policy from clawcontrols' });
    // The bundle holds the WPC under its claw-jira address, with the author's signature: verify needs nothing else.
    expect(world.receipts().some((r) => r.wpc_hash === world.wpcHash)).toBe(true);

    const { signature: _s, ...carried } = (body.wpc.metadata as { claw_jira: Record<string, unknown> }).claw_jira;
    expect(_s).toBeDefined();
    const registryOnly = await published({ ...body.wpc, metadata: { claw_jira: carried } });
    const refused = await world.connect('write', { CLAW_REGISTRY: reg, CLAW_WPC: registryOnly, CLAW_CST_FILE: token });
    await expectRefused(world, refused, 'jira_add_comment', { issue_key: 'ENG-6', body: 'x' }, 'WPC_AUTHOR_SIGNATURE_MISSING');
  });
});
