import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveBundleDir } from '../bundle/layout.js';
import { ClawError } from '../util/errors.js';
import { exportClawBundle } from '../claw/export-files.js';
import { gatewayKeysOf } from './bundle.js';
import { verifyClawBundle } from '../claw/verify-bundle.js';
import { runAnchorEvent } from '../claw/run-anchor.js';
import { ensureRunId } from '../claw/run-id.js';
import { loadSigningKey, loadTrust } from '../keys/store.js';
import { parseCommandArgs, requirePositional } from './args.js';
import { homeOf, splitList, trustFileOf } from './common.js';
import { EXIT, UsageError, type CommandSpec } from './io.js';
import { JOB_ID } from '../config/server-config.js';

/**
 * `claw-jira bundle export-claw` and `bundle verify-claw`: the sealed bundle as a Clawsig proof bundle for
 * Claw's verifier, and claw-jira's own implementation of that verifier's rules.
 */
const bundleExportClawCommand: CommandSpec = {
  name: 'bundle export-claw',
  summary: 'export a sealed bundle as a Clawsig proof bundle v1 (signed by the receipt key as did:key) and its trust_pulse.v1 summary',
  usage: 'claw-jira bundle export-claw <dir|job> [-o bundle.json] [--trust <trust.json>] [--gateway-trust <keys.json>] [--side-effect-receipts] [--omit-unbound-gateway] [--json]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      output: { type: 'string', short: 'o' },
      trust: { type: 'string' },
      'gateway-trust': { type: 'string' },
      'side-effect-receipts': { type: 'boolean' },
      'omit-unbound-gateway': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const home = homeOf(io);
    const dir = resolveBundleDir(requirePositional(positionals, 0, 'dir'), io.cwd, home);
    const key = await loadSigningKey(home, 'receipt');
    const trust = await loadTrust(home, trustFileOf(io, home, values.trust));
    const gatewayTrust = await gatewayKeysOf(io, values['gateway-trust']);
    const result = await exportClawBundle(dir, {
      key,
      trust,
      ...(gatewayTrust ? { gatewayTrust } : {}),
      sideEffectReceipts: values['side-effect-receipts'] === true,
      omitUnboundGateway: values['omit-unbound-gateway'] === true,
      ...(values.output ? { output: resolve(io.cwd, values.output) } : {}),
    });
    if (values.json) {
      io.out(JSON.stringify({ bundle: dir, run_id: result.runId, agent_did: result.agentDid, files: result.files, outputs: result.outputs, parts: result.verification.length, omitted_gateway: result.omittedGateway }));
      return EXIT.ok;
    }
    io.out(`exported ${dir} for Claw's verifier`);
    io.out(`  run_id     ${result.runId}`);
    io.out(`  agent_did  ${result.agentDid}`);
    io.out(`  parts      ${result.verification.length} (each PASS under claw-jira's implementation of the verifier's rules, proof tier ${result.verification.map((v) => v.proof_tier).join(', ')})`);
    for (const file of [...result.files, ...result.outputs]) io.out(`  wrote      ${file}`);
    if (result.omittedGateway > 0) io.out(`  omitted    ${result.omittedGateway} gateway receipt(s) not bound to this run`);
    io.out('A Claw auditor runs: npx @clawbureau/clawverify-cli verify proof-bundle --input <bundle.json>');
    return EXIT.ok;
  },
};

/** The verifier CLI's allowlist config: `{"config_version": "1", "allowlists": {"gateway_receipt_signer_dids": [...]}}`. */
function gatewayDidsFromConfig(path: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new ClawError('CLAW_CONFIG_INVALID', `cannot read the verifier config ${path}`);
  }
  const config = parsed as { config_version?: unknown; allowlists?: { gateway_receipt_signer_dids?: unknown } };
  const dids = config.allowlists?.gateway_receipt_signer_dids;
  if (config.config_version !== '1' || (dids !== undefined && (!Array.isArray(dids) || !dids.every((d) => typeof d === 'string')))) {
    throw new ClawError('CLAW_CONFIG_INVALID', `${path} is not a clawverify config (config_version "1", allowlists.gateway_receipt_signer_dids)`);
  }
  return (dids as string[] | undefined) ?? [];
}

const bundleVerifyClawCommand: CommandSpec = {
  name: 'bundle verify-claw',
  summary: "check a Clawsig proof bundle with claw-jira's implementation of the reference verifier's rules; exit 1 on FAIL",
  usage: 'claw-jira bundle verify-claw <bundle.json> [--config <clawverify.config.json>] [--gateway-signer <did,...>] [--json]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { config: { type: 'string' }, 'gateway-signer': { type: 'string' }, json: { type: 'boolean' } });
    const file = resolve(io.cwd, requirePositional(positionals, 0, 'bundle.json'));
    let input: unknown;
    try {
      input = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      throw new ClawError('FILE_UNREADABLE', `cannot read ${file} as JSON`);
    }
    if (values.config !== undefined && values['gateway-signer'] !== undefined) throw new UsageError('give --config or --gateway-signer, not both');
    // Same sources as the reference CLI: a config file, else GATEWAY_RECEIPT_SIGNER_DIDS.
    const dids = values.config !== undefined ? gatewayDidsFromConfig(resolve(io.cwd, values.config)) : splitList(values['gateway-signer'] ?? io.env.GATEWAY_RECEIPT_SIGNER_DIDS);
    const result = verifyClawBundle(input, dids ? { gatewaySignerDids: dids } : {});
    if (values.json) io.out(JSON.stringify(result));
    else {
      for (const step of result.steps) io.out(`${step.ok ? '✓' : '✗'} ${step.step}`);
      io.out(result.status === 'PASS' ? `PASS OK proof_tier=${result.proof_tier} run_id=${result.run_id ?? '-'} events=${result.counts.events} tool_receipts=${result.counts.tool_receipts} gateway_receipts=${result.counts.gateway_receipts}` : `FAIL ${result.reason_code} at ${result.step}: ${result.reason}`);
    }
    return result.status === 'PASS' ? EXIT.ok : EXIT.failed;
  },
};


const runIdCommand: CommandSpec = {
  name: 'run-id',
  summary: "the job's Claw run id and its anchor event hash: what a harness sends clawproxy as X-Run-Id and X-Event-Hash",
  usage: 'claw-jira run-id <job> [--json]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
    const job = requirePositional(positionals, 0, 'job');
    if (!JOB_ID.test(job)) throw new UsageError('job must be 1-128 letters, digits, dot, underscore or dash');
    // Created here when no server has started the job yet: the harness may ask before the first tool call.
    const runId = ensureRunId(homeOf(io), job);
    const anchor = runAnchorEvent(job, runId, new Date().toISOString());
    if (values.json) io.out(JSON.stringify({ job, run_id: runId, event_hash_b64u: anchor.event_hash_b64u }));
    else io.out(`X-Run-Id: ${runId}\nX-Event-Hash: ${anchor.event_hash_b64u}`);
    return EXIT.ok;
  },
};

export const clawExportCommands: CommandSpec[] = [bundleExportClawCommand, bundleVerifyClawCommand, runIdCommand];
