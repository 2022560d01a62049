import { adfToMarkdown } from '../jira/adf/index.js';

/**
 * ADF to Markdown on hostile ticket text (issue 8, item 9): long whitespace runs inside a text, which the
 * old backtracking regexes turned quadratic (8 comments of 30,000 spaces took 13-19 s). Linear now: the
 * 10x larger input should take about 10x longer, which the ratio line shows.
 */
export function benchAdf(): Record<string, string> {
  const comment = (spaces: number) => ({
    type: 'doc',
    version: 1,
    content: [{ type: 'paragraph', content: [{ type: 'text', text: `a${' '.repeat(spaces)}b\n${'\t '.repeat(spaces / 2)}c` }] }],
  });
  const time = (spaces: number, count: number): number => {
    const docs = Array.from({ length: count }, () => comment(spaces));
    const start = process.hrtime.bigint();
    for (const doc of docs) adfToMarkdown(doc);
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  time(30_000, 2); // warm-up
  const small = time(30_000, 8);
  const large = time(300_000, 8);
  const mega = time(1_500_000, 1);
  return {
    '8 comments x 30,000 spaces': `${small.toFixed(1)} ms (was 13,000-19,000 ms)`,
    '8 comments x 300,000 spaces': `${large.toFixed(1)} ms (ratio to 10x smaller: ${(large / small).toFixed(1)}, linear is ~10)`,
    '1 comment, 1.5 MB run': `${mega.toFixed(1)} ms`,
  };
}
