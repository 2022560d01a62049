/** What `bundle review` reports, apart from review.ts so that its parts (sessions, gateway binding) can name it without importing review.ts. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface ReviewException {
  severity: Severity;
  code: string;
  message: string;
  file?: string;
  line?: number;
  /** For denials: how many denied calls this finding stands for (1, except for the overflow finding). */
  count?: number;
  /** For denials: the headline reason code (the first of `reasons`). */
  reason?: string;
  /** For a denied call: every reason code it was refused with, in the gate's order. */
  reasons?: string[];
  issues?: string[];
}
