import { AsyncLocalStorage } from 'node:async_hooks';
import { join } from 'node:path';
import type { ServerConfig } from '../config/server-config.js';
import type { ReplayClaims } from '../cst/replay-store.js';
import { Gate, type GateOptions, type ServerName } from '../gate/gate.js';
import type { KillSwitchState } from '../gate/kill-switch.js';
import type { CallExecutor } from '../servers/factory.js';
import type { PostgresGateState } from '../state/postgres/gate-state.js';
import { codeOf, describeError } from '../util/errors.js';
import type { TokenRoute } from './bearer.js';

/** Gates kept open at once unless CLAW_SERVE_MAX_GATES says otherwise. */
const MAX_GATES = 256;

/** A gate in the pool, and how many requests hold it now. */
interface Pooled {
  gate: Promise<Gate>;
  leases: number;
  /** Out of the pool (evicted, or not ready): closed once the last request holding it lets go. */
  retired: boolean;
}

/** A request's hold on a gate: the gate is not closed before `release()` (called once the response is done). */
export interface GateLease {
  gate: Gate;
  release(): void;
}

/**
 * One gate per (endpoint, job, WPC): each job keeps its own bundle folder, receipt sessions and budgets, and
 * each WPC is fetched from the registry by hash and verified once, when its gate opens. The gate reads its
 * token from the request in flight, never from a file or the environment. Beyond `maxGates` the least
 * recently used gate leaves the pool (its session ends, a new one opens on demand), but it is closed only
 * when no request holds it: eviction never refuses a call in flight, whatever stage it is at.
 */
export class GatePool {
  readonly #gates = new Map<string, Pooled>();
  /** Every gate not yet closed, in the pool or retired and still held. */
  readonly #open = new Set<Pooled>();

  constructor(
    readonly base: ServerConfig,
    readonly audienceOf: (server: ServerName) => string,
    readonly replay: ReplayClaims | undefined,
    /** State on Postgres (CLAW_STATE_URL): every gate's budgets, approvals, revocation mark and receipts. */
    readonly state: PostgresGateState | undefined,
    readonly maxGates: number = MAX_GATES,
  ) {}

  /** The gate for this route, opened on first use, held until the lease is released. A gate that is not ready is returned once and not kept. */
  async get(server: ServerName, route: TokenRoute, context: RequestContext): Promise<GateLease> {
    const key = `${server}|${route.job}|${route.wpcHash}`;
    let pooled = this.#gates.get(key);
    if (pooled) {
      // Re-inserting keeps the map in least-recently-used order.
      this.#gates.delete(key);
      this.#gates.set(key, pooled);
    } else {
      pooled = { gate: this.#openGate(server, route, context), leases: 0, retired: false };
      this.#gates.set(key, pooled);
      this.#open.add(pooled);
    }
    // Held before anything awaits, so an eviction while the gate opens cannot close it under this request.
    const held = pooled;
    held.leases += 1;
    this.#evict();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      held.leases -= 1;
      if (held.retired && held.leases === 0) this.#close(held);
    };
    let gate: Gate;
    try {
      gate = await held.gate;
    } catch (error) {
      this.#retire(key, held);
      release();
      throw error;
    }
    // A gate that is not ready (its bundle folder unwritable, say) may be fixed later: the next request tries again.
    if (!gate.ready) this.#retire(key, held);
    return { gate, release };
  }

  #retire(key: string, pooled: Pooled): void {
    if (this.#gates.get(key) === pooled) this.#gates.delete(key);
    pooled.retired = true;
  }

  async #openGate(server: ServerName, route: TokenRoute, context: RequestContext): Promise<Gate> {
    const state = await this.#stateOf(route.job);
    const gate = await Gate.open({
      server,
      config: {
        ...this.base,
        job: route.job,
        wpcHash: route.wpcHash,
        audience: this.audienceOf(server),
        bundleDir: join(this.base.home.bundlesDir, route.job),
        token: { kind: 'none' },
      },
      problems: [],
      tokens: { current: () => context.current()?.token },
      killSwitch: { current: () => context.current()?.killSwitch },
      ...(this.replay ? { replay: this.replay } : {}),
      ...(state ? { state } : {}),
    });
    if (this.state && gate.ready && gate.wpc) {
      // The export needs the WPC in force; a gate whose WPC is not on record does not serve (and is not kept).
      await this.state.recordWpc(route.job, gate.wpc).catch((error: unknown) => {
        gate.problems.push({ code: codeOf(error, 'STATE_UNAVAILABLE'), message: describeError(error) });
      });
    }
    return gate;
  }

  /**
   * The job's Postgres state. When the database cannot answer, the gate opens with a receipt sink that fails:
   * it is not ready (STATE_UNAVAILABLE), refuses every call, and the next request tries again.
   */
  async #stateOf(job: string): Promise<GateOptions['state']> {
    if (!this.state) return undefined;
    try {
      return await this.state.forJob(job);
    } catch (error) {
      return {
        receipts: () => {
          throw error;
        },
      };
    }
  }

  #evict(): void {
    while (this.#gates.size > this.maxGates) {
      const [oldest, pooled] = this.#gates.entries().next().value as [string, Pooled];
      this.#retire(oldest, pooled);
      if (pooled.leases === 0) this.#close(pooled);
    }
  }

  #close(pooled: Pooled): void {
    if (!this.#open.delete(pooled)) return;
    void pooled.gate.then((gate) => gate.close()).catch(() => undefined);
  }

  /** At stop: every gate, held or not (each waits a bounded time for its calls in flight). */
  async closeAll(): Promise<void> {
    const open = [...this.#open];
    this.#gates.clear();
    this.#open.clear();
    const gates = await Promise.allSettled(open.map((pooled) => pooled.gate));
    await Promise.all(gates.map((settled) => (settled.status === 'fulfilled' ? settled.value.close() : undefined)));
  }
}

/**
 * The gate as the MCP server of one request sees it: every call and listing verifies that request's bearer
 * token (and, for writes, sees the kill switch as read for that request). Requests for the same job run
 * concurrently, so both travel with the call, not in shared state.
 */
export function requestExecutor(gate: Gate, request: RequestState, context: RequestContext): CallExecutor {
  return {
    call: (tool, args, options) => context.run(request, () => gate.call(tool, args, options)),
    permittedOperations: () => context.run(request, () => gate.permittedOperations()),
    status: (options) => context.run(request, () => gate.status(options)),
    refuseUnknownTool: (name, args) => gate.refuseUnknownTool(name, args),
  };
}

/** What one request brings to the gate: its bearer token, and the database kill switch read for it. */
export interface RequestState {
  token: string;
  killSwitch?: KillSwitchState | undefined;
}

/** The state of the request whose async work is running: what each gate's `tokens` and `killSwitch` read. */
export class RequestContext {
  readonly #store = new AsyncLocalStorage<RequestState>();

  current(): RequestState | undefined {
    return this.#store.getStore();
  }

  run<T>(state: RequestState, fn: () => T): T {
    return this.#store.run(state, fn);
  }
}
