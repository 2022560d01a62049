/**
 * A verification step that failed, and where: the file (bundle-relative) and, for line files, the 1-based line.
 * Codes are API; messages are for humans.
 */
export interface BundleProblem {
  step: VerifyStep;
  code: string;
  file?: string;
  line?: number;
  message: string;
}

export type AddProblem = (problem: BundleProblem) => void;

/** The verification pipeline, in the order it runs (after sigstore-verify: each step can fail on its own). */
export const VERIFY_STEPS = [
  'layout',
  'manifest',
  'seal',
  'files',
  'signatures',
  'chain',
  'counts',
  'merkle',
  'wpc',
  'decisions',
  'tokens',
  'approvals',
  'gateway',
  'claw',
] as const;
export type VerifyStep = (typeof VERIFY_STEPS)[number];

/** Per (step, code, file) at most this many problems are listed; the rest are counted. */
const CAP = 25;

/**
 * Collects problems without letting one systematic failure (every line of a 100k-line file signed by an
 * unknown key) drown the report: after CAP of a kind in one file, the rest are summarised in one entry.
 */
export class ProblemList {
  readonly #items: BundleProblem[] = [];
  readonly #seen = new Map<string, number>();

  add(problem: BundleProblem): void {
    const key = `${problem.step}\u0000${problem.code}\u0000${problem.file ?? ''}`;
    const n = (this.#seen.get(key) ?? 0) + 1;
    this.#seen.set(key, n);
    if (n <= CAP) this.#items.push(problem);
  }

  count(step?: VerifyStep): number {
    let total = 0;
    for (const [key, n] of this.#seen) if (step === undefined || key.startsWith(`${step}\u0000`)) total += n;
    return total;
  }

  list(): BundleProblem[] {
    const out = [...this.#items];
    for (const [key, n] of this.#seen) {
      if (n <= CAP) continue;
      const [step, code, file] = key.split('\u0000') as [VerifyStep, string, string];
      out.push({ step, code, ...(file ? { file } : {}), message: `${n - CAP} more ${code} problems in this file are not listed` });
    }
    const order = new Map<string, number>(VERIFY_STEPS.map((step, i) => [step, i]));
    // Stable sort: by step, then file, then line, so output reads top to bottom like the bundle.
    return out
      .map((p, i) => ({ p, i }))
      .sort(
        (a, b) =>
          (order.get(a.p.step) ?? 0) - (order.get(b.p.step) ?? 0) ||
          (a.p.file ?? '').localeCompare(b.p.file ?? '') ||
          (a.p.line ?? 0) - (b.p.line ?? 0) ||
          a.i - b.i,
      )
      .map(({ p }) => p);
  }
}

/** `receipts/x.jsonl:4: RECEIPT_SEQ_MISMATCH: …`, the one-line form the CLI prints. */
export function formatProblem(problem: BundleProblem): string {
  const where = problem.file ? `${problem.file}${problem.line !== undefined ? `:${problem.line}` : ''}: ` : '';
  return `${where}${problem.code}: ${problem.message}`;
}
