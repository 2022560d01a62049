import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clawHome } from '../config/home.js';
import { initKeys, loadSigningKey, loadTrust } from '../keys/store.js';
import { issueCst } from '../cst/issue.js';
import { ReplayStore } from '../cst/replay-store.js';
import { FileRevocationSource, revokeInFile } from '../cst/revocation.js';
import type { Scope } from '../cst/scope.js';
import { CstVerifier } from '../cst/verify.js';
import { decide, type DecisionRequest } from '../policy/decide.js';
import { ReceiptLog } from '../receipts/log.js';
import { HeadRecorder } from '../receipts/heads.js';
import type { ReceiptContent } from '../receipts/types.js';
import { wpcDocument, parseWpcJson } from '../wpc/document.js';
import { LocalRegistryBackend, WpcRegistry } from '../wpc/registry.js';
import { signWpcHash } from '../wpc/signature.js';

export interface BenchResult {
  name: string;
  p50_us: number;
  p99_us: number;
  ops_per_s: number;
  target?: string;
}

/** The seed example of issue 2, used when the shipped wpc-examples/seed.json is not beside dist/. */
const SEED_WPC_TEXT =
  '{"wpc_version":"v1","tool":"jira","connection_mode":["official_api","mcp_server"],"allow":{"projects":["ENG","SEC"],"operations":["issue.search","issue.get","issue.create","issue.comment.create"],"fields_write_allowlist":["summary","description","labels","components"]},"deny":{"operations":["project.admin","issue.delete","issue.bulk_edit","workflow.transition"],"fields_write_denylist":["security","assignee","reporter","duedate"]},"runtime":{"require_cst":true,"cst_policy_hash_pin":true,"max_ttl_seconds":1800}}';

function seedText(): string {
  const file = fileURLToPath(new URL('../../wpc-examples/seed.json', import.meta.url));
  return existsSync(file) ? readFileSync(file, 'utf8') : SEED_WPC_TEXT;
}

/** Per-operation latencies (ns) to the figures the lead prints. Throughput is over the wall time of the loop. */
function summarise(name: string, samples: Float64Array, wallNs: number, target?: string): BenchResult {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const round = (us: number) => Math.round(us * 100) / 100;
  return {
    name,
    p50_us: round(at(0.5) / 1000),
    p99_us: round(at(0.99) / 1000),
    ops_per_s: Math.round((samples.length / wallNs) * 1e9),
    ...(target ? { target } : {}),
  };
}

const round2 = (value: number) => Math.round(value * 100) / 100;

function measureSync(name: string, iterations: number, warmup: number, op: (i: number) => void, target?: string): BenchResult {
  for (let i = 0; i < warmup; i++) op(i);
  const samples = new Float64Array(iterations);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    op(i);
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  return summarise(name, samples, Number(process.hrtime.bigint() - start), target);
}

async function measureAsync(
  name: string,
  iterations: number,
  warmup: number,
  op: (i: number) => Promise<unknown>,
  target?: string,
): Promise<BenchResult> {
  for (let i = 0; i < warmup; i++) await op(i);
  const samples = new Float64Array(iterations);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    await op(i);
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  return summarise(name, samples, Number(process.hrtime.bigint() - start), target);
}

/** A mix of allowed and denied calls, as an agent session makes them. */
const REQUESTS: DecisionRequest[] = [
  { operation: 'issue.search' },
  { operation: 'issue.get', project: 'ENG' },
  { operation: 'issue.create', project: 'ENG', issueType: 'Task', fieldsWrite: ['summary', 'description', 'labels'] },
  { operation: 'issue.comment.create', project: 'SEC' },
  { operation: 'issue.create', project: 'ENG', fieldsWrite: ['summary', 'assignee'] },
  { operation: 'issue.delete', project: 'ENG' },
  { operation: 'issue.get', project: 'OPS' },
  { operation: 'workflow.transition', project: 'SEC', fieldsWrite: ['resolution'] },
];

/**
 * Latency of the trust core's hot paths: the policy decision, CST verification (first sight of a token and
 * cached), and a durable receipt append. Everything runs against real keys and files in a temporary folder,
 * which is removed afterwards. Returns figures; never prints.
 */
export async function benchCore(): Promise<BenchResult[]> {
  const root = mkdtempSync(join(tmpdir(), 'claw-bench-'));
  try {
    const home = clawHome(root);
    await initKeys(home);
    const trust = await loadTrust(home);
    const [policyKey, issuerKey, receiptKey] = await Promise.all([
      loadSigningKey(home, 'policy'),
      loadSigningKey(home, 'issuer'),
      loadSigningKey(home, 'receipt'),
    ]);
    const document = wpcDocument(parseWpcJson(seedText()));
    const backend = new LocalRegistryBackend(home.registryDir);
    backend.put(document, await signWpcHash(document.hash, policyKey));
    const wpc = await new WpcRegistry(backend, trust).get(document.hash);
    const job = 'bench-job';
    // A revocation list that exists and names other tokens: the verifier checks it on every call.
    for (let i = 0; i < 20; i++) await revokeInFile(home.revocationFile, trust, issuerKey, `revoked-token-${i}-xxxxxxxx`);
    // One revocation source per server, as the gate holds it: a fresh verifier measures a token it has not cached.
    const revocation = new FileRevocationSource(home.revocationFile, trust);
    const verifier = (replay: ReplayStore) => new CstVerifier({ trust, job, replay, revocation });

    const results: BenchResult[] = [];

    const scope: Scope = { operations: ['issue.search', 'issue.get', 'issue.create'], projects: ['ENG'] };
    results.push(
      measureSync(
        'decision (decide, seed WPC, token scope)',
        200_000,
        20_000,
        (i) => void decide(REQUESTS[i % REQUESTS.length] as DecisionRequest, wpc.policy, scope),
        'p99 < 20 µs',
      ),
    );

    const COLD = 2_000;
    const tokens = await Promise.all(Array.from({ length: COLD + 100 }, () => issueCst(issuerKey, { wpc, job, subject: 'bench' })));
    const replayDir = join(root, 'replay');
    mkdirSync(replayDir, { recursive: true });
    // First sight of each token: signature, claims, policy pin, scope, revocation, and the durable replay record.
    results.push(
      await measureAsync(
        'cst verify, first use (new token, fresh verifier, durable replay record)',
        COLD,
        100,
        (i) => verifier(new ReplayStore(replayDir)).verify((tokens[(i + 100) % tokens.length] as { token: string }).token, wpc),
      ),
    );
    // A token this job already recorded, seen by a fresh verifier (a restarted or second server).
    results.push(
      await measureAsync(
        'cst verify, cold (fresh verifier, token already recorded)',
        COLD,
        100,
        (i) => verifier(new ReplayStore(replayDir)).verify((tokens[i % tokens.length] as { token: string }).token, wpc),
        'p99 < 300 µs',
      ),
    );
    const hot = verifier(new ReplayStore(replayDir));
    const hotToken = (tokens[0] as { token: string }).token;
    results.push(await measureAsync('cst verify, cached (same token)', 100_000, 10_000, () => hot.verify(hotToken, wpc), 'p99 < 20 µs'));

    const heads = HeadRecorder.open({ dir: join(root, 'heads') }, { job, server: 'bench', session: 'heads', key: receiptKey, bundleDir: root, file: join(root, 'x.jsonl') });
    results.push(measureSync('session head record (sign, pwrite)', 5_000, 200, (i) => heads.record({ seq: i, head: null, bytes: i * 100, closed: false })));
    heads.close();
    const log = ReceiptLog.open({ bundleDir: join(root, 'bundle'), job, server: 'bench', key: receiptKey });
    const content: ReceiptContent = {
      kind: 'decision',
      time: new Date().toISOString(),
      tool: 'jira_create_issue',
      operation: 'issue.create',
      args_hash: document.hash,
      request: REQUESTS[2],
      policy_decision: decide(REQUESTS[2] as DecisionRequest, wpc.policy),
      decision: { effect: 'allow', stage: 'allowed', reasons: [{ code: 'OPERATION_ALLOWED', rule: 'allow.operations[issue.create]' }] },
      wpc_hash: wpc.hash,
    };
    try {
      results.push(measureSync('receipt append (sign, write, fsync)', 2_000, 50, () => void log.append(content), 'p50 < 500 µs'));
      results.push(measureSync('receipt sign + line (no disk)', 5_000, 200, () => void log.append(content, { durable: false })));
      // Group commit: 8 calls in flight share each fdatasync; the figure per op is one batch of 8 receipts.
      const before = log.syncs;
      const batch = await measureAsync('receipt appendDurable x8 concurrent', 250, 10, () => Promise.all(Array.from({ length: 8 }, () => log.appendDurable(content))));
      results.push({ ...batch, name: `${batch.name} (${round2((log.syncs - before) / (260 * 8))} syncs/receipt)`, ops_per_s: batch.ops_per_s * 8 });
    } finally {
      log.close();
    }
    return results;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
