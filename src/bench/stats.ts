/** Percentiles of a sample of durations (microseconds), nearest-rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export interface Summary {
  p50_us: number;
  p99_us: number;
  ops_per_s: number;
}

export function summarize(samplesUs: number[]): Summary {
  const sorted = [...samplesUs].sort((a, b) => a - b);
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return {
    p50_us: round(percentile(sorted, 50)),
    p99_us: round(percentile(sorted, 99)),
    ops_per_s: round(sorted.length / (total / 1e6)),
  };
}

/** Median of a few per-round figures (nearest rank, as `percentile`). */
export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** `median [min-max]` of one figure over the rounds. */
export function spread(values: readonly number[], shown: (value: number) => number = round): string {
  return `${shown(median(values))} [${shown(Math.min(...values))}-${shown(Math.max(...values))}]`;
}

export function round(value: number): number {
  return Math.round(value * 10) / 10;
}
