/**
 * Fault injection: queued faults apply to the next N matching requests. The same controller serves
 * the in-process API (`sim.faults`) and the admin endpoint (`POST /__sim/faults`).
 */
import { z } from 'zod';
import { ClawError } from '../util/errors.js';

export const FAULT_KINDS = ['429', '503', 'latency', 'drop', 'noop_write'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const RATE_LIMIT_REASONS = ['jira-burst-based', 'jira-quota-based', 'jira-per-issue-on-write'] as const;
export type RateLimitReason = (typeof RATE_LIMIT_REASONS)[number];

const FaultSpecSchema = z
  .object({
    kind: z.enum(FAULT_KINDS),
    match: z
      .object({
        method: z.string().min(1).max(16).optional(),
        pathPrefix: z.string().startsWith('/').max(2048).optional(),
      })
      .strict()
      .optional(),
    times: z.number().int().min(1).max(100_000).optional(),
    /** 429/503: seconds in `Retry-After`; null leaves the header out. Default 1 for 429, none for 503. */
    retryAfterSeconds: z.number().int().min(0).max(86_400).nullable().optional(),
    /** latency: added delay. */
    latencyMs: z.number().int().min(0).max(120_000).optional(),
    rateLimitReason: z.enum(RATE_LIMIT_REASONS).optional(),
  })
  .strict();

export type FaultSpec = z.infer<typeof FaultSpecSchema>;

export interface ActiveFault extends FaultSpec {
  readonly id: string;
  /** Matching requests this fault will still apply to. */
  remaining: number;
}

export interface FaultTarget {
  readonly method: string;
  readonly path: string;
  /** The request is a write the simulator can answer without applying (edit, transition, assign, comment, delete). */
  readonly noopable: boolean;
}

export class FaultController {
  #faults: ActiveFault[] = [];
  #nextId = 1;

  /** Queues a fault; throws ClawError `SIM_FAULT_INVALID` on a bad spec. */
  add(spec: FaultSpec): ActiveFault {
    const valid = parseFaultSpec(spec);
    const fault: ActiveFault = { ...valid, id: `fault-${this.#nextId++}`, remaining: valid.times ?? 1 };
    this.#faults.push(fault);
    return { ...fault };
  }

  clear(): void {
    this.#faults = [];
  }

  list(): ActiveFault[] {
    return this.#faults.map((f) => ({ ...f, ...(f.match ? { match: { ...f.match } } : {}) }));
  }

  /** Consumes and returns the first queued fault matching the request, if any. */
  take(target: FaultTarget): ActiveFault | undefined {
    const index = this.#faults.findIndex((f) => {
      if (f.kind === 'noop_write' && !target.noopable) return false;
      if (f.match?.method && f.match.method.toUpperCase() !== target.method.toUpperCase()) return false;
      if (f.match?.pathPrefix && !target.path.startsWith(f.match.pathPrefix)) return false;
      return true;
    });
    if (index < 0) return undefined;
    const fault = this.#faults[index] as ActiveFault;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.#faults.splice(index, 1);
    return { ...fault };
  }
}

/** Validates a fault spec from outside (admin endpoint, tests); throws ClawError `SIM_FAULT_INVALID`. */
export function parseFaultSpec(value: unknown): FaultSpec {
  const parsed = FaultSpecSchema.safeParse(value);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'fault'}: ${i.message}`).join('; ');
    throw new ClawError('SIM_FAULT_INVALID', `invalid fault: ${detail}`);
  }
  return parsed.data;
}
