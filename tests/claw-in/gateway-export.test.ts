/**
 * From clawproxy to the Claw auditor: a receipt bound the way `claw-jira run-id` says, imported by
 * `bundle import-gateway`, sealed, exported by `bundle export-claw` byte for byte, and the Claw bundle passes
 * the project's implementation of the reference verifier at the gateway tier. An unbound one would fail it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sealBundle } from '../../src/bundle/index.js';
import { envelopeSigner } from '../../src/claw/envelope.js';
import { runCli } from '../../src/cli/main.js';
import { generateSigningKey, signingKeyFromJwk } from '../../src/keys/ed25519.js';
import { buildBundle, makeEnv, type BuiltBundle, type Env } from '../bundle/fixture.js';
import { captureIo } from '../helpers/cli.js';
import { clawproxyReceiptLine, exportBinding } from './binding.js';

let env: Env;
let built: BuiltBundle;
beforeAll(async () => {
  env = await makeEnv();
  built = await buildBundle(env, 'job-claw-export');
});
afterAll(() => env.cleanup());

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo({ CLAW_HOME: env.home.root }, env.root);
  const code = await runCli(argv, io);
  return { code, out: io.text(), err: io.stderr.join('\n') };
}

it('a bound clawproxy receipt travels into the Claw bundle unchanged and lifts it to the gateway tier', async () => {
  const binding = exportBinding(built.dir);
  const gateway = envelopeSigner(await signingKeyFromJwk((await generateSigningKey()).privateJwk));
  const line = clawproxyReceiptLine(gateway, {
    id: 'rcpt_bound_export',
    timestamp: new Date().toISOString(),
    latency_ms: 640,
    binding: { run_id: binding.run_id, event_hash_b64u: binding.event_hash_b64u, nonce: 'idem-1' },
  });
  const source = join(env.root, 'clawproxy.jsonl');
  writeFileSync(source, `${line}\n`);
  const keys = join(env.root, 'gateway-keys.json');
  writeFileSync(keys, JSON.stringify({ gateway_receipt_signer_dids: [gateway.did] }));
  expect((await cli(['bundle', 'import-gateway', built.dir, source, '--signer-did', gateway.did])).code).toBe(0);
  await sealBundle(built.dir, { key: env.keys.receipt });

  const out = join(env.root, 'claw-bundle.json');
  // The export verifies the bundle first, gateway receipts against the auditor's own keys.
  expect((await cli(['bundle', 'export-claw', built.dir, '-o', out])).err).toMatch(/GATEWAY_TRUST_MISSING/);
  const exported = await cli(['bundle', 'export-claw', built.dir, '-o', out, '--gateway-trust', keys]);
  expect(exported.code, exported.err + exported.out).toBe(0);
  const bundle = JSON.parse(readFileSync(out, 'utf8')) as { payload: { receipts: unknown[] } };
  expect(bundle.payload.receipts.map((r) => JSON.stringify(r))).toEqual([line]);

  const verified = await cli(['bundle', 'verify-claw', out, '--gateway-signer', gateway.did]);
  expect(verified.code, verified.out).toBe(0);
  expect(verified.out).toMatch(/^PASS OK proof_tier=gateway /m);
});
