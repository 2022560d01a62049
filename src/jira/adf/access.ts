/** Total accessors for untrusted ADF-like trees: any JSON value in, a well-typed answer out, never a throw. */

/** Node types that live inside a paragraph. */
export const INLINE_TYPES: ReadonlySet<string> = new Set([
  'text', 'hardBreak', 'mention', 'emoji', 'date', 'status', 'inlineCard', 'placeholder', 'mediaInline', 'inlineExtension',
]);

export function objectOf(x: unknown): Record<string, unknown> | undefined {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined;
}

export function typeOf(x: unknown): string {
  const t = objectOf(x)?.type;
  return typeof t === 'string' ? t : '';
}

export function childrenOf(x: unknown): readonly unknown[] {
  const c = objectOf(x)?.content;
  return Array.isArray(c) ? c : [];
}

export function attrsOf(x: unknown): Record<string, unknown> {
  return objectOf(objectOf(x)?.attrs) ?? {};
}

export function str(x: unknown): string {
  return typeof x === 'string' ? x : '';
}
