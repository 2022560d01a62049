/**
 * Markdown pre-pass before marklassian, outside code (fences and code spans are left byte-for-byte):
 *
 * - Raw HTML becomes literal text. marklassian drops HTML (losing the words the model wrote) and
 *   passes `<adf>{...}</adf>` through as raw ADF nodes, which would let a model inject any node
 *   (mentions, extensions, arbitrary links). Escaping the `<` that could open a tag closes both holes.
 *   Autolinks (`<https://…>`, `<a@b.c>`) are kept.
 * - Images become links. An image in a ticket is fetched by every viewer's browser, so a model could
 *   exfiltrate data in its URL; a link needs a click. (marklassian also loses images inside lists.)
 *
 * Known limit: indented (4-space) code blocks and code spans broken across lines are not recognised
 * as code, so a `<` there shows with a backslash.
 */
export function neutralizeMarkdown(markdown: string): string {
  let fence: { char: string; length: number } | undefined;
  return markdown
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => {
      if (fence !== undefined) {
        const close = FENCE_CLOSE.exec(line);
        if (close?.[1] !== undefined && close[1][0] === fence.char && close[1].length >= fence.length) fence = undefined;
        return line;
      }
      const open = FENCE_OPEN.exec(line);
      const marker = open?.[1];
      if (marker !== undefined && !(marker[0] === '`' && (open?.[2] ?? '').includes('`'))) {
        fence = { char: marker[0] ?? '`', length: marker.length };
        return line;
      }
      return neutralizeLine(line);
    })
    .join('\n');
}

// Container prefixes (blockquote markers, list markers, indentation) may precede a fence.
const FENCE_OPEN = /^(?:[ \t]*>)*[ \t]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)*(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^(?:[ \t]*>)*[ \t]*(`{3,}|~{3,})[ \t]*$/;
const AUTOLINK = /^<(?:[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)>/;
const TAG_START = /[A-Za-z/!?]/;

function neutralizeLine(line: string): string {
  let out = '';
  let i = 0;
  while (i < line.length) {
    const c = line[i] ?? '';
    if (c === '\\') {
      // An escape pair is copied whole, so `\<` stays escaped and `\\<` still gets escaped.
      out += line.slice(i, i + 2);
      i += 2;
    } else if (c === '`') {
      const run = /^`+/.exec(line.slice(i))?.[0] ?? '`';
      const close = closingRun(line, i + run.length, run.length);
      const end = close === -1 ? i + run.length : close + run.length;
      out += line.slice(i, end);
      i = end;
    } else if (c === '<') {
      const auto = AUTOLINK.exec(line.slice(i))?.[0];
      if (auto !== undefined) {
        out += auto;
        i += auto.length;
      } else {
        out += TAG_START.test(line[i + 1] ?? '') ? '\\<' : '<';
        i += 1;
      }
    } else if (c === '!' && line[i + 1] === '[') {
      const alt = /^!\[([^\]\n]*)\](?=[([])/.exec(line.slice(i));
      if (alt === null) {
        out += c;
        i += 1;
      } else {
        const text = (alt[1] ?? '').trim();
        out += `[${text === '' ? 'image' : neutralizeLine(text)}]`;
        i += alt[0].length;
      }
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

/** Index of the next backtick run of exactly `length`, or -1 (then the backticks are literal). */
function closingRun(line: string, from: number, length: number): number {
  const runs = /`+/g;
  runs.lastIndex = from;
  for (let m = runs.exec(line); m !== null; m = runs.exec(line)) {
    if (m[0].length === length) return m.index;
  }
  return -1;
}
