import { safeHref } from './links.js';
import { attrsOf, childrenOf, INLINE_TYPES, objectOf, str, typeOf } from './access.js';

/**
 * ADF from Jira to Markdown for a model to read. Total and defensive: any JSON value is accepted,
 * unknown nodes degrade to their text, nothing throws. Text is escaped so that Markdown-looking text
 * in a ticket (`*x*`, `[a](b)`, `<script>`) reads back as the same text through markdownToAdf.
 * Links with unsafe schemes are rendered as plain text.
 */
export function adfToMarkdown(doc: unknown): string {
  if (typeof doc === 'string') return doc; // API v2 / Data Center send plain text or wiki markup.
  return renderBlocks(childrenOf(doc), 0).join('\n\n').trim();
}

const MAX_DEPTH = 48;
const PARAGRAPH_LIKE: ReadonlySet<string> = new Set(['paragraph', 'heading']);

function renderBlocks(nodes: readonly unknown[], depth: number): string[] {
  if (depth > MAX_DEPTH) return [];
  return withListStyles(nodes).map(([n, alt]) => renderBlock(n, depth + 1, alt)).filter((s) => s !== '');
}

/**
 * Two lists in a row with the same marker would merge into one when read back; CommonMark starts a
 * new list when the marker changes, so every other adjacent list uses the alternative marker.
 */
function withListStyles(nodes: readonly unknown[]): Array<[unknown, boolean]> {
  let alt = false;
  return nodes.map((n, i) => {
    const family = listFamily(n);
    alt = i > 0 && family !== undefined && listFamily(nodes[i - 1]) === family && !alt;
    return [n, alt];
  });
}

function listFamily(n: unknown): string | undefined {
  const t = typeOf(n);
  if (t === 'orderedList') return 'ordered';
  return t === 'bulletList' || t === 'taskList' || t === 'decisionList' ? 'bullet' : undefined;
}

function renderBlock(n: unknown, depth: number, alt = false): string {
  const kids = childrenOf(n);
  const attrs = attrsOf(n);
  switch (typeOf(n)) {
    case 'paragraph':
      return escapeLineStarts(renderInline(kids, depth));
    case 'heading': {
      const level = typeof attrs.level === 'number' ? Math.min(6, Math.max(1, Math.trunc(attrs.level) || 1)) : 1;
      const text = renderInline(kids, depth, { breaks: ' ' });
      // A trailing ` #` would be read as the optional closing sequence and dropped.
      return text === '' ? '' : `${'#'.repeat(level)} ${text.replace(/(^|\s)(#+)$/, '$1\\$2')}`;
    }
    case 'bulletList':
      return kids.map((item) => listEntry(alt ? '* ' : '- ', item, depth)).join('\n');
    case 'orderedList': {
      const start = typeof attrs.order === 'number' && Number.isFinite(attrs.order) ? Math.max(0, Math.trunc(attrs.order)) : 1;
      return kids.map((item, i) => listEntry(`${Math.min(start + i, 999_999_999)}${alt ? ')' : '.'} `, item, depth)).join('\n');
    }
    case 'taskList':
    case 'decisionList':
      return kids
        .map((item) => {
          const t = typeOf(item);
          if (t === 'taskList' || t === 'decisionList') return indent(renderBlock(item, depth + 1), '  ');
          const box = t === 'taskItem' ? (attrsOf(item).state === 'DONE' ? '[x] ' : '[ ] ') : '';
          return `${alt ? '*' : '-'} ${box}${escapeLineStarts(renderInline(childrenOf(item), depth))}`;
        })
        .join('\n');
    case 'codeBlock':
      return codeFence(kids.map((k) => str(objectOf(k)?.text)).join(''), str(attrs.language));
    case 'blockquote':
      return quote(renderBlocks(kids, depth).join('\n\n'));
    case 'panel': {
      const type = /^[a-z]{1,20}$/i.test(str(attrs.panelType)) ? str(attrs.panelType).toUpperCase() : 'INFO';
      const body = renderBlocks(kids, depth).join('\n\n');
      return quote(body === '' ? `[!${type}]` : `[!${type}]\n${body}`);
    }
    case 'rule':
      return '---';
    case 'table':
      return table(kids, depth);
    case 'expand':
    case 'nestedExpand': {
      const title = str(attrs.title).trim();
      return [`**${escapeText(title === '' ? 'Details' : title)}**`, ...renderBlocks(kids, depth)].join('\n\n');
    }
    case 'mediaSingle':
    case 'mediaGroup':
      return kids.map(media).join('\n');
    case 'media':
      return media(n);
    case 'blockCard':
    case 'embedCard':
      return card(attrs);
    default:
      return fallbackBlock(n, kids, depth);
  }
}

/** Unknown or non-block node at block level: its inline text, or its children as blocks. */
function fallbackBlock(n: unknown, kids: readonly unknown[], depth: number): string {
  if (kids.length === 0) return escapeLineStarts(renderInline([n], depth));
  const inlineOnly = kids.every((k) => INLINE_TYPES.has(typeOf(k)));
  return inlineOnly ? escapeLineStarts(renderInline(kids, depth)) : renderBlocks(kids, depth).join('\n\n');
}

function listEntry(marker: string, item: unknown, depth: number): string {
  // A list item's children: paragraphs separated by a blank line, nested lists directly below.
  let body = '';
  let prev = '';
  for (const [part, alt] of withListStyles(childrenOf(item))) {
    const text = renderBlock(part, depth + 1, alt);
    if (text === '') continue;
    const sep = body === '' ? '' : PARAGRAPH_LIKE.has(prev) && PARAGRAPH_LIKE.has(typeOf(part)) ? '\n\n' : '\n';
    body += sep + text;
    prev = typeOf(part);
  }
  if (typeOf(item) !== 'listItem' && body === '') body = escapeLineStarts(renderInline([item], depth));
  return marker + indent(body, ' '.repeat(marker.length)).trimStart();
}

function table(rows: readonly unknown[], depth: number): string {
  const grid = rows
    .filter((r) => typeOf(r) === 'tableRow')
    .map((r) =>
      childrenOf(r).map((cell) => ({
        header: typeOf(cell) === 'tableHeader',
        text: renderBlocks(childrenOf(cell), depth)
          .map((b) => b.replace(/\n+/g, ' '))
          .join(' ')
          .replace(/\|/g, '\\|')
          .trim(),
      })),
    )
    .filter((r) => r.length > 0);
  if (grid.length === 0) return '';
  const width = Math.max(...grid.map((r) => r.length));
  const line = (cells: readonly string[]): string => `| ${Array.from({ length: width }, (_, i) => cells[i] ?? '').join(' | ')} |`;
  const first = grid[0] ?? [];
  const hasHeader = first.every((c) => c.header);
  const header = hasHeader ? first.map((c) => c.text) : [];
  const body = (hasHeader ? grid.slice(1) : grid).map((r) => line(r.map((c) => c.text)));
  return [line(header), line(Array.from({ length: width }, () => '---')), ...body].join('\n');
}

// ---- inline ----------------------------------------------------------------------------------

/** Marks that have a Markdown form, outermost first. Others (underline, colours) render as plain text. */
const DELIMITED = ['link', 'strong', 'em', 'strike'] as const;
type Delimited = (typeof DELIMITED)[number];
interface OpenMark {
  readonly type: Delimited;
  readonly href: string;
}

const OPEN: Readonly<Record<Delimited, string>> = { link: '[', strong: '**', em: '*', strike: '~~' };

function close(mark: OpenMark): string {
  return mark.type === 'link' ? `](${mark.href})` : OPEN[mark.type];
}

/**
 * Render inline nodes keeping marks open across neighbours that share them (so `**a *b* c**` is not
 * split into fragments) and keeping whitespace outside delimiters, where CommonMark needs it.
 */
function renderInline(nodes: readonly unknown[], depth: number, options: { breaks?: string } = {}): string {
  if (depth > MAX_DEPTH) return '';
  let out = '';
  let pending = '';
  const stack: OpenMark[] = [];
  const transition = (wanted: readonly OpenMark[]): void => {
    let keep = 0;
    while (keep < stack.length && keep < wanted.length && sameMark(stack[keep], wanted[keep])) keep++;
    while (stack.length > keep) out += close(stack.pop() as OpenMark);
  };
  for (const n of mergeAdjacent(nodes)) {
    if (typeOf(n) !== 'text') {
      out += pending;
      pending = '';
      out += inlineAtom(n, depth, options.breaks);
      continue;
    }
    const text = str(objectOf(n)?.text);
    const marks = objectOf(n)?.marks;
    const wanted = delimitedMarks(marks);
    const isCode = hasMark(marks, 'code');
    const [lead, core, trail] = isCode ? ['', text, ''] : splitWhitespace(text);
    if (core === '') {
      pending += text;
      continue;
    }
    transition(wanted);
    out += pending + lead;
    pending = '';
    for (const mark of wanted.slice(stack.length)) {
      out += OPEN[mark.type];
      stack.push(mark);
    }
    out += isCode ? codeSpan(core) : escapeText(core);
    pending = trail;
  }
  transition([]);
  return trimLineEnds(out + pending);
}

/**
 * Leading whitespace, the rest, trailing whitespace: by index scans (trim uses the same whitespace as `\s`).
 * A backtracking regex here took quadratic time on a long run of spaces inside a text (ticket text is hostile).
 */
function splitWhitespace(text: string): [string, string, string] {
  const start = text.length - text.trimStart().length;
  const end = text.trimEnd().length;
  if (end <= start) return [text, '', ''];
  return [text.slice(0, start), text.slice(start, end), text.slice(end)];
}

/** Every line without its trailing spaces and tabs, in one pass (the `/[ \t]+$/gm` it replaces was quadratic). */
function trimLineEnds(text: string): string {
  let out = '';
  let lineStart = 0;
  for (;;) {
    const newline = text.indexOf('\n', lineStart);
    const lineEnd = newline < 0 ? text.length : newline;
    let end = lineEnd;
    while (end > lineStart && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
    out += text.slice(lineStart, end);
    if (newline < 0) return out;
    out += '\n';
    lineStart = newline + 1;
  }
}

function inlineAtom(n: unknown, depth: number, breaks = '\\\n'): string {
  const attrs = attrsOf(n);
  switch (typeOf(n)) {
    case 'hardBreak':
      return breaks;
    case 'mention': {
      const name = str(attrs.text).replace(/^@/, '') || str(attrs.id) || 'unknown';
      return `@${escapeText(name)}`;
    }
    case 'emoji':
      return escapeText(str(attrs.text) || str(attrs.shortName));
    case 'status':
      return escapeText(`[${str(attrs.text).toUpperCase()}]`);
    case 'date':
      return escapeText(isoDate(attrs.timestamp));
    case 'inlineCard':
      return card(attrs);
    case 'placeholder':
      return escapeText(str(attrs.text));
    case 'mediaInline':
      return '(attachment)';
    default: {
      const o = objectOf(n);
      if (typeof o?.text === 'string') return escapeText(o.text);
      const kids = childrenOf(n);
      return kids.length > 0 ? renderInline(kids, depth + 1, { breaks }) : '';
    }
  }
}

function mergeAdjacent(nodes: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const n of nodes) {
    const prev = objectOf(out[out.length - 1]);
    const cur = objectOf(n);
    if (
      prev !== undefined &&
      cur !== undefined &&
      typeOf(prev) === 'text' &&
      typeOf(cur) === 'text' &&
      JSON.stringify(prev.marks ?? []) === JSON.stringify(cur.marks ?? [])
    ) {
      out[out.length - 1] = { ...prev, text: str(prev.text) + str(cur.text) };
    } else {
      out.push(n);
    }
  }
  return out;
}

function delimitedMarks(marks: unknown): OpenMark[] {
  if (!Array.isArray(marks)) return [];
  const wanted: OpenMark[] = [];
  for (const type of DELIMITED) {
    const mark = marks.find((m) => typeOf(m) === type);
    if (mark === undefined) continue;
    if (type === 'link') {
      const href = safeHref(attrsOf(mark).href);
      if (href !== undefined) wanted.push({ type, href: linkDestination(href) });
    } else {
      wanted.push({ type, href: '' });
    }
  }
  return wanted;
}

function hasMark(marks: unknown, type: string): boolean {
  return Array.isArray(marks) && marks.some((m) => typeOf(m) === type);
}

function sameMark(a: OpenMark | undefined, b: OpenMark | undefined): boolean {
  return a !== undefined && b !== undefined && a.type === b.type && a.href === b.href;
}

// ---- leaves ----------------------------------------------------------------------------------

function media(n: unknown): string {
  const attrs = attrsOf(n);
  const alt = str(attrs.alt).trim();
  const href = safeHref(attrs.url);
  if (href !== undefined) return `[${escapeText(alt === '' ? href : alt)}](${linkDestination(href)})`;
  return escapeText(alt === '' ? '(attachment)' : `(attachment: ${alt})`);
}

function card(attrs: Record<string, unknown>): string {
  const href = safeHref(attrs.url);
  if (href !== undefined) return `<${href}>`;
  return escapeText(str(attrs.url));
}

function isoDate(timestamp: unknown): string {
  const ms = Number(typeof timestamp === 'string' || typeof timestamp === 'number' ? timestamp : Number.NaN);
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? str(timestamp) : date.toISOString().slice(0, 10);
}

function codeFence(text: string, language: string): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const lang = /^[A-Za-z0-9_+#.-]{1,40}$/.test(language) ? language : '';
  return `${fence}${lang}\n${text}\n${fence}`;
}

function codeSpan(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = /^[`\s]|[`\s]$/.test(text) ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function linkDestination(href: string): string {
  return href.replace(/[()\\]/g, '\\$&');
}

// ---- escaping ----------------------------------------------------------------------------------

/** Escape what Markdown would read as syntax. `_` only at word edges, so identifiers stay readable. */
function escapeText(text: string): string {
  return text
    .replace(/[\\`*[\]<~]/g, '\\$&')
    .replace(/(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, '\\_')
    .replace(/&(?=#?[A-Za-z0-9]+;)/g, '\\&');
}

/**
 * Line starts that would open a heading, quote, list or setext underline. Only bounded prefixes are matched
 * by regex; the setext test (a whole line of `=` or `-`) is an index scan, linear on any input.
 */
function escapeLineStarts(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const l = line.slice(leadingBlanks(line));
      if (/^(#{1,6}|[-+])(\s|$)/.test(l) || l.startsWith('>')) return `\\${l}`;
      if (isSetextUnderline(l)) return `\\${l}`;
      return l.replace(/^(\d{1,9})([.)])(?=\s|$)/, '$1\\$2');
    })
    .join('\n');
}

function leadingBlanks(line: string): number {
  let i = 0;
  while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
  return i;
}

/** `===` or `---`, then only whitespace. */
function isSetextUnderline(line: string): boolean {
  const mark = line[0];
  if (mark !== '=' && mark !== '-') return false;
  let i = 1;
  while (i < line.length && line[i] === mark) i++;
  return line.slice(i).trim() === '';
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : prefix + line))
    .join('\n');
}

function quote(text: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? '>' : `> ${line}`))
    .join('\n');
}
