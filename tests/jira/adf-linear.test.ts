/**
 * Hostile ticket text: ADF to Markdown on megabyte-size whitespace runs. The backtracking regexes this replaced
 * took 13-19 s for 8 comments of 30,000 spaces (quadratic: a 1.5 MB run would take hours), so each of these
 * tests would run far past the default timeout on the old code. Speed itself is measured in `npm run bench`;
 * here the output is checked exactly, on the large input.
 */
import { describe, expect, it } from 'vitest';
import { adfToMarkdown } from '../../src/jira/adf/index.js';

const text = (value: string, marks?: unknown[]) => ({ type: 'text', text: value, ...(marks ? { marks } : {}) });
const doc = (...content: unknown[]) => ({ type: 'doc', version: 1, content });
const paragraph = (...content: unknown[]) => ({ type: 'paragraph', content });

describe('adfToMarkdown is linear on long whitespace runs', () => {
  it('8 comments of 30,000 spaces between words keep their text', () => {
    const spaces = ' '.repeat(30_000);
    for (let i = 0; i < 8; i++) {
      expect(adfToMarkdown(doc(paragraph(text(`a${i}${spaces}b`))))).toBe(`a${i}${spaces}b`);
      // Trailing spaces at a line end are dropped, as before; a whitespace-only comment renders as nothing.
      expect(adfToMarkdown(doc(paragraph(text(`a${spaces}\nb${spaces}`))))).toBe('a\nb');
      expect(adfToMarkdown(doc(paragraph(text(spaces))))).toBe('');
    }
  });

  it('a 1.5 MB run of spaces and tabs, inside a text, under marks and at line ends', () => {
    const run = ' \t'.repeat(750_000);
    expect(adfToMarkdown(doc(paragraph(text(`x${run}y`))))).toBe(`x${run}y`);
    // Whitespace stays outside the delimiters: `**x**<run>` and the run is not inside the strong mark.
    expect(adfToMarkdown(doc(paragraph(text(`x${run}`, [{ type: 'strong' }]), text('y'))))).toBe(`**x**${run}y`);
    const lines = adfToMarkdown(doc(paragraph(text(`x${run}\n${run}y${run}`))));
    expect(lines).toBe('x\ny');
  });

  it('a 1 MB setext-like line and a 1 MB heading run are escaped, not stalled on', () => {
    const equals = '='.repeat(500_000);
    const blanks = ' '.repeat(500_000);
    // A whole line of `=` would underline the line above as a heading: escaped.
    expect(adfToMarkdown(doc(paragraph(text(`${equals}${blanks}`))))).toBe(`\\${equals}`);
    // Followed by a word it is plain text.
    expect(adfToMarkdown(doc(paragraph(text(`${equals}${blanks}x`))))).toBe(`${equals}${blanks}x`);
    const hashes = '#'.repeat(500_000);
    expect(adfToMarkdown(doc({ type: 'heading', attrs: { level: 2 }, content: [text(`a${blanks}${hashes}`)] }))).toBe(`## a${blanks}\\${hashes}`);
  });
});
