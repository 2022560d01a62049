import { decodeEntities } from './entities.js';
import { safeHref } from './links.js';
import { attrsOf, childrenOf, INLINE_TYPES, objectOf, str, typeOf } from './access.js';
import type { AdfDoc, AdfMark, AdfNode } from './types.js';

type Container = 'doc' | 'listItem' | 'blockquote' | 'tableCell' | 'panel';

/** Which blocks each container may hold (from the ADF JSON schema, restricted to what we emit). */
const ALLOWED: Readonly<Record<Container, ReadonlySet<string>>> = {
  doc: new Set(['paragraph', 'heading', 'bulletList', 'orderedList', 'taskList', 'codeBlock', 'blockquote', 'rule', 'table', 'panel']),
  listItem: new Set(['paragraph', 'bulletList', 'orderedList', 'taskList', 'codeBlock']),
  blockquote: new Set(['paragraph', 'bulletList', 'orderedList', 'codeBlock']),
  tableCell: new Set(['paragraph', 'heading', 'bulletList', 'orderedList', 'taskList', 'codeBlock', 'blockquote', 'rule', 'panel']),
  panel: new Set(['paragraph', 'heading', 'bulletList', 'orderedList', 'taskList', 'codeBlock', 'rule']),
};

const SIMPLE_MARKS: ReadonlySet<string> = new Set(['strong', 'em', 'strike', 'underline', 'code']);
const MARK_ORDER = ['link', 'strong', 'em', 'strike', 'underline', 'code'];
const ALERTS: Readonly<Record<string, string>> = {
  NOTE: 'note',
  INFO: 'info',
  TIP: 'tip',
  IMPORTANT: 'note',
  WARNING: 'warning',
  CAUTION: 'error',
  ERROR: 'error',
  SUCCESS: 'success',
};
const PANEL_TYPES: ReadonlySet<string> = new Set(['info', 'note', 'tip', 'warning', 'error', 'success']);
const MAX_DEPTH = 48;

interface State {
  localIds: number;
}

/**
 * Rebuild any ADF-like tree as schema-valid ADF from an allowlist: known blocks in the containers that
 * accept them (a heading inside a quote becomes a bold paragraph, a table inside a list becomes its
 * text), only safe link hrefs, text entity-decoded and merged, deterministic task ids, and GitHub-style
 * alerts (`> [!WARNING]`) turned into panels. Anything unknown degrades to its text. Never throws.
 */
export function normalizeAdf(tree: unknown): AdfDoc {
  return { version: 1, type: 'doc', content: blocks(childrenOf(tree), 'doc', { localIds: 0 }, 0) };
}

function blocks(nodes: readonly unknown[], ctx: Container, state: State, depth: number): AdfNode[] {
  if (depth > MAX_DEPTH) return [];
  return nodes.flatMap((n) => block(n, ctx, state, depth + 1)).flatMap((n) => fit(n, ctx));
}

function block(n: unknown, ctx: Container, state: State, depth: number): AdfNode[] {
  const kids = childrenOf(n);
  switch (typeOf(n)) {
    case 'paragraph':
      return [paragraph(inline(kids, depth))];
    case 'heading': {
      const content = inline(kids, depth);
      return content.length === 0 ? [] : [{ type: 'heading', attrs: { level: clampInt(attrsOf(n).level, 1, 6, 1) }, content }];
    }
    case 'bulletList':
    case 'orderedList': {
      // An empty bullet carries nothing and does not survive Markdown, so it is dropped.
      const items = kids
        .filter((k) => typeOf(k) === 'listItem')
        .map((k) => listItem(k, state, depth))
        .filter((item) => item.content?.some((c) => c.type !== 'paragraph' || (c.content ?? []).length > 0));
      if (items.length === 0) return [];
      return typeOf(n) === 'bulletList'
        ? [{ type: 'bulletList', content: items }]
        : [{ type: 'orderedList', attrs: { order: clampInt(attrsOf(n).order, 0, 999_999_999, 1) }, content: items }];
    }
    case 'listItem':
      return blocks(kids, ctx, state, depth);
    case 'taskList':
      return taskList(n, state, depth);
    case 'codeBlock':
      return [codeBlock(n)];
    case 'blockquote':
      return quoteOrPanel(kids, state, depth);
    case 'panel': {
      const type = attrsOf(n).panelType;
      const content = blocks(kids, 'panel', state, depth);
      return [{ type: 'panel', attrs: { panelType: typeof type === 'string' && PANEL_TYPES.has(type) ? type : 'info' }, content: nonEmpty(content) }];
    }
    case 'rule':
      return [{ type: 'rule' }];
    case 'table':
      return table(kids, state, depth);
    case 'mediaSingle':
    case 'mediaGroup':
      return kids.map(mediaParagraph);
    case 'media':
      return [mediaParagraph(n)];
    default: {
      // Inline content at block level, or an unknown container: keep its text.
      if (kids.length > 0 && kids.every((k) => !isBlockLike(k))) return nonEmptyParagraph(inline(kids, depth));
      if (kids.length > 0) return blocks(kids, ctx, state, depth);
      return nonEmptyParagraph(inline([n], depth));
    }
  }
}

/** Make a node acceptable in `ctx`, degrading it when the container does not allow it. */
function fit(node: AdfNode, ctx: Container): AdfNode[] {
  if (ALLOWED[ctx].has(node.type)) return [node];
  switch (node.type) {
    case 'heading':
      return [paragraph((node.content ?? []).map(strongify))];
    case 'blockquote':
    case 'panel':
      return (node.content ?? []).flatMap((c) => fit(c, ctx));
    case 'rule':
      return [];
    case 'taskList':
      return ALLOWED[ctx].has('bulletList') ? [taskListAsBullets(node)] : tasksAsParagraphs(node);
    default:
      return nonEmptyParagraph([{ type: 'text', text: plainText(node) }].filter((t) => t.text !== ''));
  }
}

function listItem(n: unknown, state: State, depth: number): AdfNode {
  const content = blocks(childrenOf(n), 'listItem', state, depth + 1);
  // ProseMirror's listItem must start with a paragraph (or code block).
  const first = content[0]?.type;
  if (first !== 'paragraph' && first !== 'codeBlock') content.unshift(paragraph([]));
  return { type: 'listItem', content };
}

function taskList(n: unknown, state: State, depth: number): AdfNode[] {
  if (depth > MAX_DEPTH) return [];
  const localId = `task-${++state.localIds}`;
  const items: AdfNode[] = [];
  for (const child of childrenOf(n)) {
    if (typeOf(child) === 'taskList') {
      items.push(...taskList(child, state, depth + 1));
      continue;
    }
    if (typeOf(child) !== 'taskItem') continue;
    const kids = childrenOf(child);
    const nested = kids.filter((k) => typeOf(k) === 'taskList');
    const others = kids.filter((k) => typeOf(k) !== 'taskList');
    const content = inline(
      others.flatMap((k) => {
        if (!isBlockLike(k)) return [k];
        const t = typeOf(k);
        return [{ type: 'text', text: ' ' }, ...(t === 'paragraph' || t === 'heading' ? childrenOf(k) : [{ type: 'text', text: plainText(k) }])];
      }),
      depth,
    );
    if (content.length > 0) items.push({
      type: 'taskItem',
      attrs: { localId: `task-${++state.localIds}`, state: attrsOf(child).state === 'DONE' ? 'DONE' : 'TODO' },
      content,
    });
    for (const list of nested) items.push(...taskList(list, state, depth + 1));
  }
  return items.length === 0 ? [] : [{ type: 'taskList', attrs: { localId }, content: items }];
}

function codeBlock(n: unknown): AdfNode {
  const text = childrenOf(n)
    .map((c) => str(objectOf(c)?.text))
    .join('');
  const language = attrsOf(n).language;
  const node: AdfNode = { type: 'codeBlock', content: text === '' ? [] : [{ type: 'text', text }] };
  if (typeof language === 'string' && language !== 'text' && /^[A-Za-z0-9_+#.-]{1,40}$/.test(language)) node.attrs = { language };
  return node;
}

/** `> [!WARNING]` (GitHub alert syntax) becomes a warning panel; any other quote stays a quote. */
function quoteOrPanel(kids: readonly unknown[], state: State, depth: number): AdfNode[] {
  const [first, ...rest] = kids;
  if (typeOf(first) === 'paragraph') {
    const content = inline(childrenOf(first), depth);
    const head = content[0];
    const match = head?.type === 'text' && head.marks === undefined ? /^\[!([A-Za-z]+)\][ \t]*/.exec(head.text ?? '') : null;
    const panelType = match?.[1] === undefined ? undefined : ALERTS[match[1].toUpperCase()];
    if (match !== null && panelType !== undefined) {
      const remainder = (head?.text ?? '').slice(match[0].length);
      const body = remainder === '' ? content.slice(1) : [{ type: 'text', text: remainder }, ...content.slice(1)];
      if (body[0]?.type === 'hardBreak') body.shift();
      const lead = body.length === 0 ? [] : [paragraph(body)];
      return [{ type: 'panel', attrs: { panelType }, content: nonEmpty([...lead, ...blocks(rest, 'panel', state, depth)]) }];
    }
  }
  const content = blocks(kids, 'blockquote', state, depth);
  return content.length === 0 ? [] : [{ type: 'blockquote', content }];
}

function table(rows: readonly unknown[], state: State, depth: number): AdfNode[] {
  const content: AdfNode[] = [];
  for (const row of rows) {
    if (typeOf(row) !== 'tableRow') continue;
    const cells = childrenOf(row)
      .filter((c) => typeOf(c) === 'tableCell' || typeOf(c) === 'tableHeader')
      .map((c) => ({ type: typeOf(c), content: nonEmpty(blocks(childrenOf(c), 'tableCell', state, depth + 1)) }));
    if (cells.length > 0) content.push({ type: 'tableRow', content: cells });
  }
  return content.length === 0 ? [] : [{ type: 'table', content }];
}

function mediaParagraph(n: unknown): AdfNode {
  const attrs = attrsOf(n);
  const alt = str(attrs.alt).trim();
  const href = safeHref(attrs.url);
  if (href !== undefined) return paragraph([{ type: 'text', text: alt === '' ? href : alt, marks: [{ type: 'link', attrs: { href } }] }]);
  return paragraph([{ type: 'text', text: alt === '' ? '(attachment)' : `(attachment: ${alt})` }]);
}

function inline(nodes: readonly unknown[], depth: number): AdfNode[] {
  if (depth > MAX_DEPTH) return [];
  const out: AdfNode[] = [];
  for (const n of nodes) {
    const type = typeOf(n);
    if (type === 'text') {
      const marks = sanitizeMarks(objectOf(n)?.marks);
      const raw = str(objectOf(n)?.text);
      const text = marks.some((m) => m.type === 'code') ? raw : decodeEntities(raw);
      if (text !== '') out.push(marks.length === 0 ? { type: 'text', text } : { type: 'text', text, marks });
    } else if (type === 'hardBreak') {
      out.push({ type: 'hardBreak' });
    } else if (childrenOf(n).length > 0) {
      out.push(...inline(childrenOf(n), depth + 1));
    } else {
      const text = plainText(n);
      if (text !== '') out.push({ type: 'text', text });
    }
  }
  return trimLines(mergeText(out));
}

function sanitizeMarks(marks: unknown): AdfMark[] {
  if (!Array.isArray(marks)) return [];
  const byType = new Map<string, AdfMark>();
  for (const m of marks) {
    const type = typeOf(m);
    if (SIMPLE_MARKS.has(type)) byType.set(type, { type });
    if (type === 'link') {
      const href = safeHref(attrsOf(m).href);
      if (href !== undefined) byType.set('link', { type: 'link', attrs: { href } });
    }
  }
  // Code text may carry only a link besides code.
  const kept = byType.has('code') ? [...byType.values()].filter((m) => m.type === 'code' || m.type === 'link') : [...byType.values()];
  return kept.sort((a, b) => MARK_ORDER.indexOf(a.type) - MARK_ORDER.indexOf(b.type));
}

/**
 * Whitespace at the start and end of a line is not content in Markdown (or in Jira's rendering); trimming
 * it here makes the conversion stable through a Markdown round trip.
 */
function trimLines(nodes: AdfNode[]): AdfNode[] {
  const out = nodes.map((n, i) => {
    if (n.type !== 'text' || n.marks?.some((m) => m.type === 'code')) return n;
    const lineStart = i === 0 || nodes[i - 1]?.type === 'hardBreak';
    const lineEnd = i === nodes.length - 1 || nodes[i + 1]?.type === 'hardBreak';
    let text = n.text ?? '';
    if (lineStart) text = text.replace(/^[ \t]+/, '');
    if (lineEnd) text = text.replace(/[ \t]+$/, '');
    return { ...n, text };
  });
  return out.filter((n) => n.type !== 'text' || n.text !== '');
}

function mergeText(nodes: AdfNode[]): AdfNode[] {
  const out: AdfNode[] = [];
  for (const n of nodes) {
    const prev = out[out.length - 1];
    if (prev?.type === 'text' && n.type === 'text' && JSON.stringify(prev.marks ?? []) === JSON.stringify(n.marks ?? [])) {
      out[out.length - 1] = { ...prev, text: `${prev.text ?? ''}${n.text ?? ''}` };
    } else {
      out.push(n);
    }
  }
  return out;
}

function strongify(n: AdfNode): AdfNode {
  if (n.type !== 'text' || n.marks?.some((m) => m.type === 'code' || m.type === 'strong')) return n;
  return { ...n, marks: [...(n.marks ?? []), { type: 'strong' }].sort((a, b) => MARK_ORDER.indexOf(a.type) - MARK_ORDER.indexOf(b.type)) };
}

function taskListAsBullets(list: AdfNode): AdfNode {
  const items = (list.content ?? []).map((item): AdfNode => {
    if (item.type === 'taskList') return { type: 'listItem', content: [paragraph([]), taskListAsBullets(item)] };
    return { type: 'listItem', content: [paragraph(taskLine(item))] };
  });
  return { type: 'bulletList', content: items };
}

function tasksAsParagraphs(list: AdfNode): AdfNode[] {
  return (list.content ?? []).flatMap((item) => (item.type === 'taskList' ? tasksAsParagraphs(item) : [paragraph(taskLine(item))]));
}

function taskLine(item: AdfNode): AdfNode[] {
  return mergeText([{ type: 'text', text: item.attrs?.state === 'DONE' ? '[x] ' : '[ ] ' }, ...(item.content ?? [])]);
}

function paragraph(content: AdfNode[]): AdfNode {
  return { type: 'paragraph', content };
}

function nonEmptyParagraph(content: AdfNode[]): AdfNode[] {
  return content.length === 0 ? [] : [paragraph(content)];
}

function nonEmpty(content: AdfNode[]): AdfNode[] {
  return content.length === 0 ? [paragraph([])] : content;
}

/** The visible text of any node, for degrading what cannot be kept. */
function plainText(n: unknown, depth = 0): string {
  if (depth > MAX_DEPTH) return '';
  const o = objectOf(n);
  if (o === undefined) return '';
  if (typeof o.text === 'string') return o.text;
  const attrs = attrsOf(n);
  for (const key of ['text', 'shortName', 'url', 'title'] as const) {
    const v = attrs[key];
    if (typeof v === 'string' && v !== '') return v;
  }
  const kids = childrenOf(n);
  return kids.map((k) => plainText(k, depth + 1)).join(kids.some(isBlockLike) ? ' ' : '');
}

function isBlockLike(n: unknown): boolean {
  return !INLINE_TYPES.has(typeOf(n));
}

function clampInt(x: unknown, min: number, max: number, fallback: number): number {
  return typeof x === 'number' && Number.isFinite(x) ? Math.min(max, Math.max(min, Math.trunc(x))) : fallback;
}
