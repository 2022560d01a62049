const SAFE_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:', 'mailto:']);

/**
 * The href if it is an absolute http(s) or mailto URL, else undefined. Everything else (javascript:,
 * data:, vbscript:, file:, relative paths, whitespace or control characters) is refused: text from a
 * model or from a ticket must not become a clickable script or a local link in Jira.
 */
export function safeHref(href: unknown): string | undefined {
  if (typeof href !== 'string' || href.length > 4096) return undefined;
  if (/[\u0000-\u0020\u007f-\u009f<>"]/.test(href)) return undefined;
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return undefined;
  }
  return SAFE_SCHEMES.has(url.protocol) ? href : undefined;
}
