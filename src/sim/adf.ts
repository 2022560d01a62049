/**
 * Atlassian Document Format: builders for seed data, a structural validator for what clients send,
 * and plain-text / HTML renderings (JQL text search, changelog strings, `renderedFields`).
 */

import type { AdfMark, AdfNode } from '../jira/adf/types.js';

export type { AdfMark, AdfNode };

export interface AdfDoc extends AdfNode {
  type: 'doc';
  version: 1;
  content: AdfNode[];
}

// ---- builders ---------------------------------------------------------------------------------

export const doc = (...content: AdfNode[]): AdfDoc => ({ type: 'doc', version: 1, content });
export const text = (value: string, ...marks: AdfMark[]): AdfNode =>
  marks.length > 0 ? { type: 'text', text: value, marks } : { type: 'text', text: value };
export const strong: AdfMark = { type: 'strong' };
export const em: AdfMark = { type: 'em' };
export const code: AdfMark = { type: 'code' };
export const link = (href: string): AdfMark => ({ type: 'link', attrs: { href } });
export const paragraph = (...content: AdfNode[]): AdfNode => ({ type: 'paragraph', content });
export const p = (value: string): AdfNode => paragraph(text(value));
export const heading = (level: number, value: string): AdfNode => ({ type: 'heading', attrs: { level }, content: [text(value)] });
export const listItem = (...content: AdfNode[]): AdfNode => ({ type: 'listItem', content });
export const bulletList = (...items: string[]): AdfNode => ({ type: 'bulletList', content: items.map((i) => listItem(p(i))) });
export const orderedList = (...items: string[]): AdfNode => ({
  type: 'orderedList',
  attrs: { order: 1 },
  content: items.map((i) => listItem(p(i))),
});
export const codeBlock = (language: string, value: string): AdfNode => ({
  type: 'codeBlock',
  attrs: { language },
  content: [text(value)],
});
export const panel = (panelType: 'info' | 'note' | 'warning' | 'success' | 'error', ...content: AdfNode[]): AdfNode => ({
  type: 'panel',
  attrs: { panelType },
  content,
});
export const mention = (id: string, displayName: string): AdfNode => ({ type: 'mention', attrs: { id, text: `@${displayName}` } });
export const rule = (): AdfNode => ({ type: 'rule' });
export const table = (header: readonly string[], rows: readonly (readonly string[])[]): AdfNode => ({
  type: 'table',
  attrs: { isNumberColumnEnabled: false, layout: 'default' },
  content: [
    { type: 'tableRow', content: header.map((h) => ({ type: 'tableHeader', attrs: {}, content: [p(h)] })) },
    ...rows.map((row) => ({ type: 'tableRow', content: row.map((c) => ({ type: 'tableCell', attrs: {}, content: [p(c)] })) })),
  ],
});

// ---- validation -------------------------------------------------------------------------------

const BLOCK_NODES = new Set([
  'paragraph', 'heading', 'bulletList', 'orderedList', 'listItem', 'codeBlock', 'blockquote', 'panel', 'rule',
  'table', 'tableRow', 'tableHeader', 'tableCell', 'mediaSingle', 'mediaGroup', 'media', 'expand', 'nestedExpand',
  'taskList', 'taskItem', 'decisionList', 'decisionItem', 'layoutSection', 'layoutColumn', 'blockCard', 'embedCard',
  'caption', 'extension', 'bodiedExtension',
]);
const INLINE_NODES = new Set(['text', 'hardBreak', 'mention', 'emoji', 'inlineCard', 'date', 'status', 'placeholder', 'mediaInline', 'inlineExtension']);
const MARKS = new Set(['strong', 'em', 'code', 'strike', 'underline', 'link', 'textColor', 'backgroundColor', 'subsup', 'border', 'annotation', 'alignment', 'indentation', 'breakout', 'dataConsumer', 'fragment']);
const LEAF_NODES = new Set(['rule', 'hardBreak', 'mention', 'emoji', 'inlineCard', 'date', 'status', 'placeholder', 'media', 'mediaInline', 'blockCard', 'embedCard', 'extension', 'inlineExtension']);

const MAX_DEPTH = 32;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why `node` is not valid ADF, or null when it is. Checks structure, not every attribute. */
function nodeProblem(node: unknown, depth: number): string | null {
  if (depth > MAX_DEPTH) return 'document nested too deeply';
  if (!isRecord(node)) return 'node is not an object';
  const type = node['type'];
  if (typeof type !== 'string') return 'node without a type';
  if (!BLOCK_NODES.has(type) && !INLINE_NODES.has(type)) return `unknown node type '${type}'`;
  if (node['attrs'] !== undefined && !isRecord(node['attrs'])) return `attrs of '${type}' is not an object`;
  if (type === 'text') {
    if (typeof node['text'] !== 'string' || node['text'].length === 0) return 'text node without text';
    if (node['content'] !== undefined) return 'text node with content';
  }
  if (type === 'mention') {
    const attrs = node['attrs'];
    if (!isRecord(attrs) || typeof attrs['id'] !== 'string') return 'mention without attrs.id';
  }
  if (type === 'heading') {
    const level = isRecord(node['attrs']) ? node['attrs']['level'] : undefined;
    if (typeof level !== 'number' || level < 1 || level > 6) return 'heading without a level 1-6';
  }
  const marks = node['marks'];
  if (marks !== undefined) {
    if (!Array.isArray(marks)) return 'marks is not an array';
    for (const mark of marks) {
      if (!isRecord(mark) || typeof mark['type'] !== 'string' || !MARKS.has(mark['type'])) return 'unknown mark';
      if (mark['type'] === 'link') {
        const attrs = mark['attrs'];
        if (!isRecord(attrs) || typeof attrs['href'] !== 'string') return 'link mark without attrs.href';
      }
    }
  }
  const content = node['content'];
  if (content !== undefined) {
    if (LEAF_NODES.has(type)) return `'${type}' cannot have content`;
    if (!Array.isArray(content)) return `content of '${type}' is not an array`;
    for (const child of content) {
      const problem = nodeProblem(child, depth + 1);
      if (problem) return problem;
    }
  }
  return null;
}

/** Why `value` is not an ADF document, or null when it is. */
export function adfProblem(value: unknown): string | null {
  if (!isRecord(value)) return 'not an object';
  if (value['type'] !== 'doc') return "root type is not 'doc'";
  if (value['version'] !== 1) return 'version is not 1';
  const content = value['content'];
  if (!Array.isArray(content)) return 'content is not an array';
  for (const child of content) {
    const problem = nodeProblem(child, 1);
    if (problem) return problem;
  }
  return null;
}

export function isAdfDoc(value: unknown): value is AdfDoc {
  return adfProblem(value) === null;
}

// ---- renderings -------------------------------------------------------------------------------

const BLOCK_SEPARATED = new Set(['paragraph', 'heading', 'codeBlock', 'listItem', 'tableRow', 'panel', 'blockquote', 'rule']);

/** Plain text of a document (what JQL `~` searches and changelog strings show). */
export function adfToText(node: AdfNode | null | undefined): string {
  if (!node) return '';
  const parts: string[] = [];
  const walk = (n: AdfNode): void => {
    if (n.type === 'text' && n.text) parts.push(n.text);
    else if (n.type === 'mention') parts.push(String(n.attrs?.['text'] ?? ''));
    else if (n.type === 'hardBreak') parts.push('\n');
    else if (n.type === 'tableCell' || n.type === 'tableHeader') parts.push(' ');
    for (const child of n.content ?? []) walk(child);
    if (BLOCK_SEPARATED.has(n.type)) parts.push('\n');
  };
  walk(node);
  return parts.join('').replace(/[ \t]+\n/g, '\n').replace(/\n{2,}/g, '\n').trim();
}

export function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function markHtml(content: string, marks: readonly AdfMark[] | undefined): string {
  let html = content;
  for (const mark of marks ?? []) {
    if (mark.type === 'strong') html = `<b>${html}</b>`;
    else if (mark.type === 'em') html = `<em>${html}</em>`;
    else if (mark.type === 'code') html = `<tt>${html}</tt>`;
    else if (mark.type === 'strike') html = `<del>${html}</del>`;
    else if (mark.type === 'underline') html = `<ins>${html}</ins>`;
    else if (mark.type === 'link') html = `<a href="${escapeHtml(String(mark.attrs?.['href'] ?? ''))}" class="external-link" rel="nofollow">${html}</a>`;
  }
  return html;
}

/** An HTML rendering in the spirit of Jira's `renderedFields` (escaped; never executable). */
export function adfToHtml(node: AdfNode | null | undefined): string {
  if (!node) return '';
  const inner = (n: AdfNode): string => (n.content ?? []).map(render).join('');
  const render = (n: AdfNode): string => {
    switch (n.type) {
      case 'doc':
        return inner(n);
      case 'text':
        return markHtml(escapeHtml(n.text ?? ''), n.marks);
      case 'paragraph':
        return `<p>${inner(n)}</p>`;
      case 'heading':
        return `<h${Number(n.attrs?.['level'] ?? 1)}>${inner(n)}</h${Number(n.attrs?.['level'] ?? 1)}>`;
      case 'bulletList':
        return `<ul>${inner(n)}</ul>`;
      case 'orderedList':
        return `<ol>${inner(n)}</ol>`;
      case 'listItem':
        return `<li>${inner(n)}</li>`;
      case 'codeBlock':
        return `<div class="code panel"><pre><code>${escapeHtml(adfToText(n))}</code></pre></div>`;
      case 'blockquote':
        return `<blockquote>${inner(n)}</blockquote>`;
      case 'panel':
        return `<div class="panel" data-panel-type="${escapeHtml(String(n.attrs?.['panelType'] ?? 'info'))}">${inner(n)}</div>`;
      case 'rule':
        return '<hr />';
      case 'hardBreak':
        return '<br/>';
      case 'table':
        return `<div class="table-wrap"><table class="confluenceTable"><tbody>${inner(n)}</tbody></table></div>`;
      case 'tableRow':
        return `<tr>${inner(n)}</tr>`;
      case 'tableHeader':
        return `<th class="confluenceTh">${inner(n)}</th>`;
      case 'tableCell':
        return `<td class="confluenceTd">${inner(n)}</td>`;
      case 'mention':
        return `<a class="user-hover" rel="${escapeHtml(String(n.attrs?.['id'] ?? ''))}">${escapeHtml(String(n.attrs?.['text'] ?? ''))}</a>`;
      default:
        return inner(n);
    }
  };
  return render(node);
}
