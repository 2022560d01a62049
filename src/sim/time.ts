/** Jira Cloud writes instants as `2026-01-17T12:34:00.000+0000` (ISO 8601 basic offset). */
export function jiraTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

/** `yyyy-MM-dd` of an instant, in UTC (the simulator's only time zone). */
export function jiraDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const WEEK = 7 * DAY;

/** The simulator's default "now": fixed so data and relative JQL dates are reproducible. */
export const DEFAULT_SIM_NOW = Date.UTC(2026, 2, 1, 12, 0, 0);
