import { ClawError } from '../util/errors.js';

/** A rate as written in settings: `<n>/s`, `<n>/min` or `<n>/h`, e.g. `120/min`. Burst is n. */
export interface Rate {
  limit: number;
  perSeconds: number;
}

const UNITS: Record<string, number> = { s: 1, min: 60, h: 3600 };

export function parseRate(text: string, variable: string): Rate {
  const match = /^(\d{1,7})\/(s|min|h)$/.exec(text.trim());
  const limit = match ? Number(match[1]) : 0;
  if (!match || limit < 1) throw new ClawError('CONFIG_INVALID', `${variable} must look like 120/min (a whole number per s, min or h)`);
  return { limit, perSeconds: UNITS[match[2] as string] as number };
}

/**
 * Token buckets by key (one per CST, one per job): each holds up to `limit` calls and refills at
 * limit/perSeconds per second, so a burst of `limit` passes and a steady flood is held to the rate.
 * Buckets that are full again carry no information and are dropped, which bounds memory by active keys.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly rate: Rate,
    readonly now: () => number = () => Date.now(),
  ) {}

  /** Take one call from `key`'s bucket: 0 when allowed, else the whole seconds until one is available. */
  take(key: string): number {
    const now = this.now();
    const bucket = this.#refilled(key, now) ?? { tokens: this.rate.limit, at: now };
    this.#buckets.set(key, bucket);
    if (bucket.tokens < 1) return this.#secondsUntilOne(bucket);
    bucket.tokens -= 1;
    if (this.#buckets.size > 10_000) this.#sweep(now);
    return 0;
  }

  /** Whole seconds until `key`'s bucket holds a call (0: it holds one now), taking nothing and storing nothing new. */
  wait(key: string): number {
    const bucket = this.#refilled(key, this.now());
    return bucket && bucket.tokens < 1 ? this.#secondsUntilOne(bucket) : 0;
  }

  get #perMs(): number {
    return this.rate.limit / (this.rate.perSeconds * 1000);
  }

  #refilled(key: string, now: number): { tokens: number; at: number } | undefined {
    const bucket = this.#buckets.get(key);
    if (!bucket) return undefined;
    bucket.tokens = Math.min(this.rate.limit, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    return bucket;
  }

  #secondsUntilOne(bucket: { tokens: number }): number {
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000));
  }

  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * this.#perMs >= this.rate.limit) this.#buckets.delete(key);
    }
  }
}
