/** Jira-like full-text matching for `~`: every term must occur (stemmed), `term*` is a prefix, `"a b"` a phrase. */

const STOP_WORDS = new Set([
  'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'no', 'not', 'of', 'on',
  'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this', 'to', 'was', 'will', 'with',
]);

function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

function stem(word: string): string {
  for (const suffix of ['ing', 'ed', 'es', 's']) {
    if (word.length > suffix.length + 3 && word.endsWith(suffix)) return word.slice(0, -suffix.length);
  }
  return word;
}

interface Term {
  readonly word: string;
  readonly prefix: boolean;
}

function termsOf(query: string): Term[] {
  const terms: Term[] = [];
  for (const piece of query.split(/\s+/)) {
    const prefix = piece.endsWith('*');
    const parts = words(piece);
    parts.forEach((word, i) => {
      if (!STOP_WORDS.has(word)) terms.push({ word, prefix: prefix && i === parts.length - 1 });
    });
  }
  return terms;
}

function normalise(text: string): string {
  return words(text).join(' ');
}

/** Whether `query` matches any of the texts (a field may hold several, e.g. comments). */
export function textMatches(texts: readonly string[], query: string): boolean {
  const trimmed = query.trim();
  const phrase = /^"([\s\S]*)"$/.exec(trimmed);
  if (phrase) {
    const needle = normalise(phrase[1] ?? '');
    if (needle === '') return false;
    return texts.some((t) => ` ${normalise(t)} `.includes(` ${needle} `));
  }
  const terms = termsOf(trimmed);
  if (terms.length === 0) return false;
  const docWords = texts.flatMap(words);
  if (docWords.length === 0) return false;
  const stems = new Set(docWords.map(stem));
  const exact = new Set(docWords);
  return terms.every((term) =>
    term.prefix ? docWords.some((w) => w.startsWith(term.word)) : exact.has(term.word) || stems.has(stem(term.word)),
  );
}
