/**
 * A gate opened in this process (no bin, no stale dist/): a real home, keys, signed WPC and token made by the
 * real CLI, and the project's Jira simulator on a loopback port, through the e2e World. Tests reach the gate's
 * seams (clock, token source, kill switch, state ports) through GateOptions, as `serve` does.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadServerConfig } from '../../src/config/server-config.js';
import { Gate, type GateOptions, type ServerName } from '../../src/gate/gate.js';
import type { Denial } from '../../src/gate/denial.js';
import { receiptHash, receiptLine } from '../../src/receipts/sign.js';
import type { Receipt } from '../../src/receipts/types.js';
import { World } from '../e2e/harness.js';

export interface OpenGateOptions extends Partial<Pick<GateOptions, 'now' | 'tokens' | 'killSwitch' | 'state' | 'jira'>> {
  /** Environment overrides (e.g. another CLAW_WPC or CLAW_JOB_ID). */
  env?: Record<string, string | undefined>;
}

export class GateWorld {
  readonly #gates: Gate[] = [];

  private constructor(readonly world: World) {}

  static async create(wpc: object, job?: string): Promise<GateWorld> {
    return new GateWorld(await World.create({ wpc, ...(job ? { job } : {}) }));
  }

  get sim() {
    return this.world.sim;
  }

  /** A gate for one server, configured from the environment a runtime would give the bin. */
  async open(server: ServerName, options: OpenGateOptions = {}): Promise<Gate> {
    const { env, ...seams } = options;
    const { config, problems } = loadServerConfig(this.world.serverEnv(env));
    const gate = await Gate.open({ server, config, problems, ...seams });
    this.#gates.push(gate);
    return gate;
  }

  /** Every receipt of a job's bundle, in file then line order. */
  receipts(job = this.world.job): Receipt[] {
    const dir = join(this.world.home, 'bundles', job, 'receipts');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((name) => name.endsWith('.jsonl'))
      .sort()
      .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Receipt));
  }

  /** The receipt with this hash, as the bundle holds it. */
  receipt(hash: string | undefined, job?: string): Receipt | undefined {
    return hash === undefined ? undefined : this.receipts(job).find((receipt) => receiptHash(receiptLine(receipt)) === hash);
  }

  /** The denial's own receipt: a decision receipt that denies with the denial's code and stage. */
  denialReceipt(denial: Denial, job?: string): Receipt {
    const receipt = this.receipt(denial.receipt, job);
    if (!receipt) throw new Error(`no receipt ${String(denial.receipt)} for ${denial.code}`);
    return receipt;
  }

  async close(): Promise<void> {
    for (const gate of this.#gates) await gate.close();
    await this.world.close();
  }
}
