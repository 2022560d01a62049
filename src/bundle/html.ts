/**
 * HTML building for the report. Every value passes through `esc`: ticket text is hostile, so nothing recorded
 * is ever emitted as markup, in text or in attributes.
 */
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

function esc(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
  return text.replace(/[&<>"'`]/g, (c) => ENTITIES[c] as string);
}

/** Markup built by this module, marked so it is not escaped twice. */
export class Html {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

/** Tagged template: interpolated values are escaped unless they are Html (or arrays of it). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.markup;
  if (Array.isArray(value)) return value.map(render).join('');
  return esc(value);
}

/** A recorded value for display: ADF documents as their text, other JSON pretty-printed, bounded in length. */
export function displayValue(value: unknown, max = 2000): string {
  let text: string;
  if (value === null || value === undefined) text = '(none)';
  else if (typeof value === 'string') text = value;
  else if (isAdf(value)) text = adfText(value);
  else text = JSON.stringify(value, null, 2);
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}

function isAdf(value: unknown): value is { type: 'doc'; content?: unknown[] } {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'doc';
}

function adfText(node: unknown): string {
  if (typeof node !== 'object' || node === null) return '';
  const n = node as { type?: unknown; text?: unknown; content?: unknown };
  if (typeof n.text === 'string') return n.text;
  const children = Array.isArray(n.content) ? n.content.map(adfText) : [];
  const block = ['paragraph', 'heading', 'listItem', 'codeBlock', 'blockquote'].includes(String(n.type));
  return children.join('') + (block ? '\n' : '');
}
