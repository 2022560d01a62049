import { DAY, HOUR, MINUTE, WEEK } from '../time.js';

const ABSOLUTE = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$/;
const RELATIVE = /^([+-])?\s*((?:\d+\s*[wdhm]\s*)+)$/i;
const UNIT: Record<string, number> = { w: WEEK, d: DAY, h: HOUR, m: MINUTE };

/** A JQL date operand (`2026-01-01`, `2026/01/01 09:30`, `-7d`, `4w 2d`) as an instant, or null. */
export function parseJqlDate(value: string, now: number): number | null {
  const trimmed = value.trim();
  const abs = ABSOLUTE.exec(trimmed);
  if (abs) {
    const [year, month, day, hour, minute] = [abs[1], abs[2], abs[3], abs[4], abs[5]].map((x) => (x === undefined ? 0 : Number(x))) as [
      number,
      number,
      number,
      number,
      number,
    ];
    const ms = Date.UTC(year, month - 1, day, hour, minute);
    const check = new Date(ms);
    if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59) return null;
    return ms;
  }
  const rel = RELATIVE.exec(trimmed);
  if (rel) {
    const sign = rel[1] === '-' ? -1 : 1;
    let offset = 0;
    for (const part of (rel[2] ?? '').matchAll(/(\d+)\s*([wdhm])/gi)) {
      offset += Number(part[1]) * (UNIT[(part[2] ?? 'd').toLowerCase()] ?? DAY);
    }
    return now + sign * offset;
  }
  return null;
}

function startOfUtcDay(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

/** JQL date functions; the optional argument is an increment such as `-1d`. */
export function dateFunction(name: string, args: readonly string[], now: number): number | null {
  const increment = args[0] !== undefined ? parseJqlDate(args[0].startsWith('+') || args[0].startsWith('-') ? args[0] : `+${args[0]}`, 0) : 0;
  if (increment === null) return null;
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  let base: number;
  switch (name.toLowerCase()) {
    case 'now':
      base = now;
      break;
    case 'startofday':
      base = startOfUtcDay(now);
      break;
    case 'endofday':
      base = startOfUtcDay(now) + DAY - 1;
      break;
    case 'startofweek':
      base = startOfUtcDay(now) - d.getUTCDay() * DAY;
      break;
    case 'endofweek':
      base = startOfUtcDay(now) + (7 - d.getUTCDay()) * DAY - 1;
      break;
    case 'startofmonth':
      base = Date.UTC(y, m, 1);
      break;
    case 'endofmonth':
      base = Date.UTC(y, m + 1, 1) - 1;
      break;
    case 'startofyear':
      base = Date.UTC(y, 0, 1);
      break;
    case 'endofyear':
      base = Date.UTC(y + 1, 0, 1) - 1;
      break;
    default:
      return null;
  }
  return base + increment;
}

export const DATE_FUNCTIONS = ['now', 'startOfDay', 'endOfDay', 'startOfWeek', 'endOfWeek', 'startOfMonth', 'endOfMonth', 'startOfYear', 'endOfYear'];
