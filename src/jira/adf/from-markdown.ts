import { markdownToAdf as marklassian } from 'marklassian';
import { neutralizeMarkdown } from './neutralize.js';
import { normalizeAdf } from './normalize.js';
import type { AdfDoc, AdfNode } from './types.js';

/**
 * Markdown written by a model to ADF for Jira Cloud: marklassian does the parsing; before it, raw HTML
 * is made literal and images become links (neutralize.ts); after it, text marklassian left unparsed is
 * parsed, and the tree is rebuilt from an allowlist into schema-valid ADF with only http(s)/mailto
 * links (normalize.ts). Deterministic.
 */
export function markdownToAdf(markdown: string): AdfDoc {
  const parsed = marklassian(neutralizeMarkdown(markdown));
  return normalizeAdf({ ...parsed, content: parsed.content.map((n) => reparseRawText(n, 0)) });
}

const SYNTAX = /[\\`*_~[\]]/;
const MAX_REPARSE_DEPTH = 3;

/**
 * marklassian copies the raw source of a formatted span when it holds more than one token
 * (`[see `x` here](u)` or `**a *b `c`***`), so backslashes and delimiters leak into the text. Such a
 * marked text node is parsed again on its own and its pieces inherit the outer marks.
 */
function reparseRawText(node: AdfNode, depth: number): AdfNode {
  if (node.content === undefined) return node;
  const content = node.content.flatMap((child): AdfNode[] => {
    if (child.type !== 'text' || child.marks === undefined || child.marks.length === 0) return [reparseRawText(child, depth)];
    const text = child.text ?? '';
    if (depth >= MAX_REPARSE_DEPTH || child.marks.some((m) => m.type === 'code') || !SYNTAX.test(text)) return [child];
    const blocks = marklassian(neutralizeMarkdown(text)).content;
    const only = blocks[0];
    if (blocks.length !== 1 || only?.type !== 'paragraph') return [child];
    return (only.content ?? []).map((piece) => {
      const repaired = reparseRawText({ type: 'paragraph', content: [piece] }, depth + 1).content ?? [];
      // The outer marks come last so that the outer link wins over a link found inside its text.
      return repaired.map((p) => ({ ...p, marks: [...(p.marks ?? []), ...(child.marks ?? [])] }));
    }).flat();
  });
  return { ...node, content };
}
