import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adfToMarkdown, markdownToAdf, type AdfNode } from '../../src/jira/adf/index.js';
import { adfValidator } from './helpers/adf-schema.js';

const validate = adfValidator();

function expectValid(doc: unknown): void {
  const ok = validate(doc);
  expect(ok ? [] : validate.errors?.slice(0, 3), JSON.stringify(doc)).toEqual([]);
}

/** Every node in a tree, depth first. */
function nodes(tree: unknown): AdfNode[] {
  const out: AdfNode[] = [];
  const walk = (n: unknown): void => {
    if (typeof n !== 'object' || n === null) return;
    out.push(n as AdfNode);
    for (const c of (n as AdfNode).content ?? []) walk(c);
  };
  walk(tree);
  return out;
}
const links = (tree: unknown): string[] =>
  nodes(tree).flatMap((n) => (n.marks ?? []).filter((m) => m.type === 'link').map((m) => String(m.attrs?.href)));
const text = (tree: unknown): string =>
  nodes(tree)
    .map((n) => n.text ?? '')
    .join('');

const SAMPLES = {
  headings: '# One\n\n## Two\n\n###### Six',
  nestedLists: '- a\n  - b\n    1. c\n    2. d\n- e\n\n3. three\n4. four',
  codeBlocks: '```ts\nconst x = `a` < 2;\n```\n\n~~~\nplain <b>\n~~~\n\n````md\n```inner```\n````',
  links: 'See [docs](https://example.com/a_(b)?q=1) and <https://auto.example> and mail <ops@example.com>.',
  marks: 'Some **bold *and em* end**, `code`, ~~gone~~, ***both***.',
  tables: '| Key | Value |\n|---|---|\n| a \\| b | `c` |\n| **x** | [y](https://y.example) |',
  panels: '> [!WARNING]\n> Careful **now**\n\n> [!NOTE]\n> # Heading in a panel\n> - item',
  quotes: '> quoted\n> # heading in a quote\n> > nested',
  tasks: '- [ ] todo\n- [x] done',
  breaks: 'line one\\\nline two  \nline three',
  rule: 'above\n\n---\n\nbelow',
  entities: 'a &amp; b &lt;c&gt; &copy; &#169; &#x1F600; &bogus;',
};

describe('markdownToAdf', () => {
  it('produces ADF that the @atlaskit/adf-schema JSON schema accepts', () => {
    for (const md of Object.values(SAMPLES)) expectValid(markdownToAdf(md));
  });

  it('the schema check is real: it rejects structures marklassian emits unfixed', async () => {
    const { markdownToAdf: raw } = await import('marklassian');
    expect(validate(raw('> # heading in a quote'))).toBe(false);
    expect(validate(raw('- > quote in a list'))).toBe(false);
    expect(validate(raw('> ---'))).toBe(false);
    for (const md of ['> # heading in a quote', '- > quote in a list', '> ---', '- # h']) expectValid(markdownToAdf(md));
    expect(validate({ version: 1, type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', text: '' }] }] })).toBe(false);
  });

  it('stays schema-valid and total for arbitrary markdown-ish input', () => {
    const piece = fc.constantFrom(
      '# ', '## ', '- ', '* ', '1. ', '> ', '> [!TIP] ', '**', '*', '_', '~~', '`', '```', '```js', '\n', '\n\n', '    ', '\t',
      '[', ']', '(', ')', '![', 'https://a.example/x', 'javascript:alert(1)', '<', '>', '<adf>', '</adf>', '{"type":"rule"}',
      '<script>', '|', '---', '| a | b |\n|---|---|\n', '- [ ] ', '- [x] ', '&amp;', '&#0;', '\\', 'text', 'é', '😀', ' ', '@Al',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
        const doc = markdownToAdf(parts.join(''));
        expectValid(doc);
        expect(links(doc).every((href) => /^(https?|mailto):/.test(href))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('converts the common constructs', () => {
    const headings = markdownToAdf(SAMPLES.headings).content;
    expect(headings.map((h) => h.attrs?.level)).toEqual([1, 2, 6]);
    const list = markdownToAdf(SAMPLES.nestedLists).content[0];
    expect(list?.type).toBe('bulletList');
    expect(nodes(list).filter((n) => n.type === 'orderedList')).toHaveLength(1);
    expect(markdownToAdf(SAMPLES.nestedLists).content[1]?.attrs).toEqual({ order: 3 });
    const code = markdownToAdf(SAMPLES.codeBlocks).content;
    expect(code[0]).toEqual({ type: 'codeBlock', attrs: { language: 'ts' }, content: [{ type: 'text', text: 'const x = `a` < 2;' }] });
    expect(code[1]).toEqual({ type: 'codeBlock', content: [{ type: 'text', text: 'plain <b>' }] });
    expect(links(markdownToAdf(SAMPLES.links))).toEqual(['https://example.com/a_(b)?q=1', 'https://auto.example', 'mailto:ops@example.com']);
    const table = markdownToAdf(SAMPLES.tables).content[0];
    expect(table?.content?.map((row) => row.content?.map((cell) => cell.type))).toEqual([
      ['tableHeader', 'tableHeader'],
      ['tableCell', 'tableCell'],
      ['tableCell', 'tableCell'],
    ]);
    expect(text(table)).toContain('a | b');
    const [warning, note] = markdownToAdf(SAMPLES.panels).content;
    expect(warning).toMatchObject({ type: 'panel', attrs: { panelType: 'warning' } });
    expect(text(warning)).toBe('Careful now');
    expect(note?.content?.map((n) => n.type)).toEqual(['heading', 'bulletList']);
    expect(markdownToAdf(SAMPLES.tasks).content[0]?.content?.map((t) => t.attrs)).toEqual([
      { localId: 'task-2', state: 'TODO' },
      { localId: 'task-3', state: 'DONE' },
    ]);
    expect(text(markdownToAdf(SAMPLES.entities))).toBe('a & b <c> © © 😀 &bogus;');
  });

  it('degrades blocks a container cannot hold instead of emitting invalid ADF', () => {
    const [quote] = markdownToAdf(SAMPLES.quotes).content;
    expect(quote?.type).toBe('blockquote');
    expect(quote?.content?.map((n) => n.type)).toEqual(['paragraph', 'paragraph', 'paragraph']);
    expect(quote?.content?.[1]?.content?.[0]?.marks).toEqual([{ type: 'strong' }]);
  });

  it('is deterministic', () => {
    const all = Object.values(SAMPLES).join('\n\n');
    expect(JSON.stringify(markdownToAdf(all))).toBe(JSON.stringify(markdownToAdf(all)));
  });
});

describe('markdownToAdf refuses what a model must not inject', () => {
  it('never emits a dangerous link scheme, in any spelling', () => {
    const md = [
      '[x](javascript:alert(1))',
      '[x](JAVASCRIPT:alert(1))',
      '[x](  javascript:alert(1))',
      '[x](java\tscript:alert(1))',
      '<javascript:alert(1)>',
      '[x](data:text/html;base64,PHNjcmlwdD4=)',
      '[x](vbscript:msgbox)',
      '[x](file:///etc/passwd)',
      '[x](/relative/path)',
      '[ref]\n\n[ref]: javascript:alert(1)',
    ].join('\n\n');
    const doc = markdownToAdf(md);
    expect(links(doc)).toEqual([]);
    expect(text(doc)).toContain('x');
  });

  it('keeps raw HTML as literal text', () => {
    const doc = markdownToAdf('Hello <script>alert(1)</script> <b>bold</b>\n\n<div onclick="x()">block</div>\n\n<!-- hidden -->');
    expect(text(doc)).toContain('<script>alert(1)</script> <b>bold</b>');
    expect(text(doc)).toContain('<div onclick="x()">block</div>');
    expect(text(doc)).toContain('<!-- hidden -->');
    expect(nodes(doc).every((n) => ['doc', 'paragraph', 'text'].includes(n.type))).toBe(true);
  });

  it('does not honour marklassian <adf> passthrough', () => {
    const injected = '{"type":"mention","attrs":{"id":"557058:admin","text":"@admin"}}';
    const doc = markdownToAdf(`before\n\n<adf>\n${injected}\n</adf>\n\nafter`);
    expect(nodes(doc).some((n) => n.type === 'mention')).toBe(false);
    expect(text(doc)).toContain('"type":"mention"');
  });

  it('turns images into links (no auto-loaded URLs), also inside lists', () => {
    const doc = markdownToAdf('![chart](https://evil.example/p.png?leak=secret)\n\n- ![](https://x.example/i.png)\n- ![a](javascript:x)');
    expect(nodes(doc).some((n) => n.type.startsWith('media'))).toBe(false);
    expect(links(doc)).toEqual(['https://evil.example/p.png?leak=secret', 'https://x.example/i.png']);
    expect(text(doc)).toContain('chart');
  });

  it('keeps escaped markup literal', () => {
    const doc = markdownToAdf('\\*not bold\\* \\[not](a link) \\<b>');
    expect(nodes(doc).some((n) => (n.marks ?? []).length > 0)).toBe(false);
    expect(text(doc)).toBe('*not bold* [not](a link) <b>');
  });
});

const JIRA_DOC = {
  version: 1,
  type: 'doc',
  content: [
    { type: 'heading', attrs: { level: 2 }, content: [{ type: 'text', text: 'Release notes' }] },
    {
      type: 'paragraph',
      content: [
        { type: 'text', text: 'Ping ' },
        { type: 'mention', attrs: { id: '5b10ac8d82e05b22cc7d4ef5', text: '@Alice Smith' } },
        { type: 'text', text: ' ' },
        { type: 'emoji', attrs: { shortName: ':smile:', id: '1f604', text: '😄' } },
        { type: 'text', text: ' ' },
        { type: 'emoji', attrs: { shortName: ':custom-thing:' } },
        { type: 'text', text: ' status ' },
        { type: 'status', attrs: { text: 'In progress', color: 'blue' } },
        { type: 'text', text: ' due ' },
        { type: 'date', attrs: { timestamp: '1700000000000' } },
        { type: 'hardBreak' },
        { type: 'inlineCard', attrs: { url: 'https://acme.atlassian.net/browse/ABC-1' } },
        { type: 'text', text: ' and ' },
        { type: 'text', text: 'bold', marks: [{ type: 'strong' }] },
        { type: 'text', text: ' under', marks: [{ type: 'underline' }] },
        { type: 'text', text: ' struck', marks: [{ type: 'strike' }] },
        { type: 'text', text: ' site', marks: [{ type: 'link', attrs: { href: 'https://example.com' } }, { type: 'em' }] },
      ],
    },
    {
      type: 'bulletList',
      content: [
        {
          type: 'listItem',
          content: [
            { type: 'paragraph', content: [{ type: 'text', text: 'outer' }] },
            { type: 'orderedList', attrs: { order: 1 }, content: [{ type: 'listItem', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'inner' }] }] }] },
          ],
        },
      ],
    },
    { type: 'codeBlock', attrs: { language: 'python' }, content: [{ type: 'text', text: 'print("```")' }] },
    { type: 'panel', attrs: { panelType: 'error' }, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Broken build' }] }] },
    { type: 'blockquote', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'quoted' }] }] },
    { type: 'rule' },
    {
      type: 'table',
      attrs: { isNumberColumnEnabled: false, layout: 'default' },
      content: [
        { type: 'tableRow', content: [{ type: 'tableHeader', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Key' }] }] }, { type: 'tableHeader', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Note' }] }] }] },
        { type: 'tableRow', content: [{ type: 'tableCell', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'ABC-1' }] }] }, { type: 'tableCell', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'a|b' }] }] }] },
      ],
    },
    { type: 'expand', attrs: { title: 'Logs' }, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'hidden detail' }] }] },
    { type: 'mediaSingle', attrs: { layout: 'center' }, content: [{ type: 'media', attrs: { id: 'abc', type: 'file', collection: 'c', alt: 'screenshot.png' } }] },
    { type: 'futureNode', attrs: { x: 1 }, content: [{ type: 'text', text: 'unknown but kept' }] },
    { type: 'paragraph', content: [{ type: 'text', text: 'click me', marks: [{ type: 'link', attrs: { href: 'javascript:alert(1)' } }] }] },
  ],
};

describe('adfToMarkdown', () => {
  const md = adfToMarkdown(JIRA_DOC);

  it('renders every node type Jira sends', () => {
    expect(md).toContain('## Release notes');
    expect(md).toContain('Ping @Alice Smith 😄 :custom-thing: status \\[IN PROGRESS\\] due 2023-11-14\\\n<https://acme.atlassian.net/browse/ABC-1>');
    expect(md).toContain('**bold** under ~~struck~~ [*site*](https://example.com)');
    expect(md).toContain('- outer\n  1. inner');
    expect(md).toContain('````python\nprint("```")\n````');
    expect(md).toContain('> [!ERROR]\n> Broken build');
    expect(md).toContain('> quoted');
    expect(md).toContain('---');
    expect(md).toContain('| Key | Note |\n| --- | --- |\n| ABC-1 | a\\|b |');
    expect(md).toContain('**Logs**\n\nhidden detail');
    expect(md).toContain('(attachment: screenshot.png)');
    expect(md).toContain('unknown but kept');
    expect(md).toContain('click me');
    expect(md).not.toContain('javascript:');
  });

  it('is total: never throws, whatever it is given', () => {
    const odd: unknown[] = [null, undefined, 42, 'plain wiki text', [], {}, { type: 'doc' }, { type: 'doc', content: 'x' },
      { type: 'doc', content: [null, 1, 'x', { type: 7 }, { type: 'heading', attrs: { level: 1e9 }, content: [{ type: 'text', text: 5 }] }] },
      { type: 'doc', content: [{ type: 'date', attrs: { timestamp: 'not-a-date' } }, { type: 'orderedList', attrs: { order: -Infinity }, content: [{}] }] }];
    for (const doc of odd) expect(typeof adfToMarkdown(doc)).toBe('string');
    let deep: unknown = { type: 'text', text: 'bottom' };
    for (let i = 0; i < 5000; i++) deep = { type: 'blockquote', content: [deep] };
    expect(typeof adfToMarkdown({ type: 'doc', content: [deep] })).toBe('string');
    fc.assert(
      fc.property(fc.anything({ maxDepth: 6 }), (value) => {
        expect(typeof adfToMarkdown({ type: 'doc', content: [value] })).toBe('string');
        expect(typeof adfToMarkdown(value)).toBe('string');
      }),
      { numRuns: 400 },
    );
  });
});

describe('round trips', () => {
  it('markdown -> ADF -> markdown -> ADF is a fixpoint for the supported constructs', () => {
    for (const [name, md] of Object.entries(SAMPLES)) {
      const first = markdownToAdf(md);
      const again = markdownToAdf(adfToMarkdown(first));
      expect(again, name).toEqual(first);
    }
  });

  it('Jira ADF -> markdown -> ADF keeps the content a model sees', () => {
    const back = markdownToAdf(adfToMarkdown(JIRA_DOC));
    expectValid(back);
    const all = text(back);
    for (const fragment of ['Release notes', '@Alice Smith', '😄', ':custom-thing:', '[IN PROGRESS]', 'outer', 'inner', 'print("```")', 'Broken build', 'ABC-1', 'a|b', 'hidden detail', 'unknown but kept', 'click me']) {
      expect(all).toContain(fragment);
    }
    expect(back.content.find((n) => n.type === 'panel')?.attrs).toEqual({ panelType: 'error' });
    expect(back.content.find((n) => n.type === 'codeBlock')?.attrs).toEqual({ language: 'python' });
    expect(back.content.find((n) => n.type === 'table')?.content).toHaveLength(2);
    expect(links(back)).toEqual(['https://acme.atlassian.net/browse/ABC-1', 'https://example.com']);
  });

  it('text that looks like markup comes back as the same text, unformatted', () => {
    const tricky = ['*not bold*', '_not em_', '`not code`', '[x](https://evil.example)', '<script>alert(1)</script>', '# not a heading', '- not a list',
      '1. not ordered', '> not a quote', '&amp; literally', '~~not struck~~', 'snake_case_id', '| not | a table |', '\\ backslash', '---', '![alt](https://x.example/i.png)'];
    for (const t of tricky) {
      const doc = { version: 1, type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', text: t }] }] };
      const back = markdownToAdf(adfToMarkdown(doc));
      expect(text(back), t).toBe(t);
      // The only formatting that may appear: a bare URL that was visible anyway becomes that same link.
      for (const n of nodes(back)) {
        for (const m of n.marks ?? []) expect(m.type === 'link' && m.attrs?.href === n.text, `${t}: ${JSON.stringify(n)}`).toBe(true);
      }
    }
  });
});

/**
 * Canonical form for comparing documents: which marks a whitespace character carries is invisible
 * (Markdown keeps whitespace outside delimiters), so it is ignored; everything else must match.
 */
function canonical(n: unknown): unknown {
  if (Array.isArray(n)) return n.map(canonical);
  if (typeof n !== 'object' || n === null) return n;
  const node = n as AdfNode;
  if (node.content?.some((c) => c.type === 'text')) {
    const chars = node.content.flatMap((c) =>
      c.type === 'text' ? [...(c.text ?? '')].map((ch) => (/\s/.test(ch) ? ch : `${ch}${JSON.stringify(c.marks ?? [])}`)) : [JSON.stringify(c)],
    );
    return { ...node, content: chars };
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, canonical(v)]));
}

describe('round-trip property', () => {
  // Delimiters wrap words (as people write them); punctuation that looks like markup stands alone.
  const word = fc.constantFrom('alpha', 'beta', 'x1', 'snake_case', 'ABC-12', 'é', '😀');
  const literal = fc.constantFrom('\\*', '_', '#', '<b>', '&amp;', '\\[x]', '\\', '|', '2.', '~', '\\`', '1)', '+', '>', '!');
  const styled = fc.oneof(
    word,
    literal,
    word.map((w) => `**${w}**`),
    word.map((w) => `*${w}*`),
    fc.tuple(word, word).map(([a, b]) => `**${a} *${b}* ${a}**`),
    word.map((w) => `~~${w}~~`),
    fc.constantFrom('`code`', '`a < b`', '[link](https://example.com/p?q=1)', '[**bold** link](https://example.com)', '<https://auto.example>'),
  );
  // A line starts with a word: a leading `#`, `+` or `>` would open a heading, list or quote instead.
  const line = fc.tuple(word, fc.array(styled, { maxLength: 6 })).map(([first, ws]) => [first, ...ws].join(' '));
  const blockArb = fc.oneof(
    line,
    fc.tuple(fc.integer({ min: 1, max: 6 }), line).map(([level, l]) => `${'#'.repeat(level)} ${l}`),
    fc.array(line, { minLength: 1, maxLength: 3 }).map((ls) => ls.map((l) => `- ${l}`).join('\n')),
    fc.array(line, { minLength: 1, maxLength: 3 }).map((ls) => ls.map((l, i) => `${i + 1}. ${l}`).join('\n')),
    fc.tuple(line, line).map(([a, b]) => `- ${a}\n  - ${b}`),
    line.map((l) => `> ${l}`),
    line.map((l) => `> [!TIP]\n> ${l}`),
    line.map((l) => `- [ ] ${l}\n- [x] ${l}`),
    fc.constantFrom('```js\nif (a < b) { x = `y`; }\n```', '---'),
    fc.tuple(line, line).map(([a, b]) => `| h1 | h2 |\n|---|---|\n| ${a.replace(/\|/g, '\\|')} | ${b.replace(/\|/g, '\\|')} |`),
  );

  it('markdown -> ADF is stable through ADF -> markdown -> ADF', () => {
    fc.assert(
      fc.property(fc.array(blockArb, { minLength: 1, maxLength: 5 }), (blocks) => {
        const first = markdownToAdf(blocks.join('\n\n'));
        const md = adfToMarkdown(first);
        expect(canonical(markdownToAdf(md)), md).toEqual(canonical(first));
      }),
      { numRuns: 400 },
    );
  });
});
