import { AsyncLocalStorage } from 'node:async_hooks';
import { join } from 'node:path';
import type { ServerConfig } from '../config/server-config.js';
import type { ReplayClaims } from '../cst/replay-store.js';
import { Gate, type ServerName } from '../gate/gate.js';
import type { KillSwitchState } from '../gate/kill-switch.js';
import type { CallExecutor } from '../servers/factory.js';
import type { TokenRoute } from './bearer.js';

/** Gates kept open at once; the least recently used beyond this is closed (its session ends, a new one opens on demand). */
const MAX_GATES = 256;

/**
 * One gate per (endpoint, job, WPC): each job keeps its own bundle folder, receipt sessions and budgets, and
 * each WPC is fetched from the registry by hash and verified once, when its gate opens. The gate reads its
 * token from the request in flight, never from a file or the environment.
 */
export class GatePool {
  readonly #gates = new Map<string, Promise<Gate>>();

  constructor(
    readonly base: ServerConfig,
    readonly audienceOf: (server: ServerName) => string,
    readonly replay: ReplayClaims | undefined,
  ) {}

  /** The gate for this route, opened on first use. A gate that is not ready is returned once and not kept. */
  async get(server: ServerName, route: TokenRoute, context: RequestContext): Promise<Gate> {
    const key = `${server}|${route.job}|${route.wpcHash}`;
    let pending = this.#gates.get(key);
    if (pending) {
      // Re-inserting keeps the map in least-recently-used order.
      this.#gates.delete(key);
      this.#gates.set(key, pending);
    } else {
      pending = Gate.open({
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
      });
      this.#gates.set(key, pending);
      this.#evict();
    }
    const gate = await pending;
    if (!gate.ready && this.#gates.get(key) === pending) {
      // A WPC missing from the registry now may be published later: the next request tries again.
      this.#gates.delete(key);
      gate.close();
    }
    return gate;
  }

  #evict(): void {
    while (this.#gates.size > MAX_GATES) {
      const [oldest, gate] = this.#gates.entries().next().value as [string, Promise<Gate>];
      this.#gates.delete(oldest);
      void gate.then((g) => g.close());
    }
  }

  async closeAll(): Promise<void> {
    const gates = [...this.#gates.values()];
    this.#gates.clear();
    for (const gate of await Promise.all(gates)) gate.close();
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
