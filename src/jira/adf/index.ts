export { markdownToAdf } from './from-markdown.js';
export { adfToMarkdown } from './to-markdown.js';
export { normalizeAdf } from './normalize.js';
export { safeHref } from './links.js';
export type { AdfDoc, AdfMark, AdfNode } from './types.js';
