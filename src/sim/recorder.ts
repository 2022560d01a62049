import type { FaultKind } from './faults.js';

/** One request the simulator received (admin requests are not recorded). */
export interface RecordedRequest {
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string | string[]>;
  /** Parsed JSON body; the raw text when it was not JSON; undefined when empty. */
  readonly body: unknown;
  /** accountId of the authenticated caller, null when unauthenticated. */
  user: string | null;
  authScheme: 'basic' | 'bearer' | null;
  /** HTTP status answered; 0 when the connection was dropped; null while in flight. */
  status: number | null;
  fault: FaultKind | null;
}

/** Keeps the most recent requests (bounded, so a long-running `claw-jira sim` cannot grow forever). */
export class RequestRecorder {
  readonly #limit: number;
  #entries: RecordedRequest[] = [];
  #seq = 0;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  start(entry: Omit<RecordedRequest, 'seq' | 'user' | 'authScheme' | 'status' | 'fault'>): RecordedRequest {
    this.#seq += 1;
    const record: RecordedRequest = { ...entry, seq: this.#seq, user: null, authScheme: null, status: null, fault: null };
    this.#entries.push(record);
    if (this.#entries.length > this.#limit) this.#entries.splice(0, this.#entries.length - this.#limit);
    return record;
  }

  list(): RecordedRequest[] {
    return structuredClone(this.#entries);
  }

  clear(): void {
    this.#entries = [];
  }
}

export function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    out[key] = values.length === 1 ? (values[0] as string) : values;
  }
  return out;
}
