import type { TrustStore } from '../keys/trust.js';
import { ClawError, describeError, isClawError } from '../util/errors.js';
import { WpcRegistry, registryBackend } from '../wpc/registry.js';

/** How long a WPC the registry did not give is refused from memory before the registry is asked again. */
const RETRY_AFTER_MS = 10_000;
/** Failures remembered at once; the oldest is forgotten first. */
const MAX_REMEMBERED = 1024;

/**
 * The WPCs tokens pin, fetched from the registry by hash and verified before any gate (and its receipt
 * session) opens for them. A token pinning a WPC the registry does not have, or one that does not verify,
 * is refused from memory for a while: each such request costs a map lookup, not a gate, a session file and
 * a registry read. A WPC published later is served once the window has passed.
 */
export class PinnedWpcs {
  readonly #registry: WpcRegistry;
  readonly #failures = new Map<string, { error: ClawError; until: number }>();

  constructor(
    registry: string,
    trust: TrustStore,
    readonly now: () => number = () => Date.now(),
  ) {
    this.#registry = new WpcRegistry(registryBackend(registry), trust);
  }

  /** Resolves when the WPC is in the registry and verifies; throws the registry's ClawError otherwise. */
  async check(wpcHash: string): Promise<void> {
    const failed = this.#failures.get(wpcHash);
    if (failed && failed.until > this.now()) throw failed.error;
    try {
      await this.#registry.get(wpcHash);
      this.#failures.delete(wpcHash);
    } catch (error) {
      const refusal = isClawError(error) ? error : new ClawError('WPC_FAILED', describeError(error));
      this.#failures.delete(wpcHash);
      if (this.#failures.size >= MAX_REMEMBERED) this.#failures.delete(this.#failures.keys().next().value as string);
      this.#failures.set(wpcHash, { error: refusal, until: this.now() + RETRY_AFTER_MS });
      throw refusal;
    }
  }
}
