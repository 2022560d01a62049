import { position, syntaxError } from './errors.js';

export type TokenKind = 'word' | 'string' | 'op' | 'lparen' | 'rparen' | 'comma' | 'lbracket' | 'rbracket' | 'and' | 'or' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Unescaped value for strings; the raw text otherwise. */
  readonly value: string;
  /** 0-based offset of the token's first character. */
  readonly start: number;
}

const OPERATORS = ['!=', '!~', '<=', '>=', '=', '~', '<', '>'] as const;
/** Characters Jira reserves outside quoted strings. */
const RESERVED = new Set(['+', '?', '|', '*', '%', '^', '$', '#', '@', ';', '&', '{', '}']);
const WORD_CHAR = /[A-Za-z0-9_\-.:/\\\u00C0-\uFFFF]/;

function unicodeEscape(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

function illegalEscape(source: string, offset: number, sequence: string): never {
  throw syntaxError(
    `'${sequence}' is an illegal JQL escape sequence. The valid escape sequences are \\', \\", \\t, \\n, \\r, \\\\, '\\ ' and \\uXXXX. ${position(source, offset)}`,
  );
}

/** Reads a backslash escape at `i` (pointing at the backslash); returns [char, nextIndex]. */
function readEscape(source: string, i: number): [string, number] {
  const next = source[i + 1];
  switch (next) {
    case "'":
    case '"':
    case '\\':
    case ' ':
      return [next, i + 2];
    case 't':
      return ['\t', i + 2];
    case 'n':
      return ['\n', i + 2];
    case 'r':
      return ['\r', i + 2];
    case 'u': {
      const hex = source.slice(i + 2, i + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) illegalEscape(source, i, `\\u${hex}`);
      return [String.fromCharCode(parseInt(hex, 16)), i + 6];
    }
    default:
      return illegalEscape(source, i, `\\${next ?? ''}`);
  }
}

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i] as string;
    if (/\s/.test(ch)) {
      i += 1;
      continue;
    }
    const start = i;
    if (ch === '(' || ch === ')' || ch === ',' || ch === '[' || ch === ']') {
      const kind: TokenKind = ch === '(' ? 'lparen' : ch === ')' ? 'rparen' : ch === ',' ? 'comma' : ch === '[' ? 'lbracket' : 'rbracket';
      tokens.push({ kind, value: ch, start });
      i += 1;
      continue;
    }
    if (source.startsWith('&&', i)) {
      tokens.push({ kind: 'and', value: '&&', start });
      i += 2;
      continue;
    }
    if (source.startsWith('||', i)) {
      tokens.push({ kind: 'or', value: '||', start });
      i += 2;
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (op) {
      tokens.push({ kind: 'op', value: op, start });
      i += op.length;
      continue;
    }
    if (ch === '"' || ch === "'") {
      const { value, end } = readRun(source, i + 1, (c) => c === ch);
      // Stopped before the end only on the closing quote.
      if (end >= source.length) throw syntaxError(`The quoted string '${value}' has not been completed. ${position(source, start)}`);
      tokens.push({ kind: 'string', value, start });
      i = end + 1;
      continue;
    }
    if (ch === '!') {
      throw syntaxError(`The character '!' is a reserved JQL character. You must enclose it in a string or use the escape '${unicodeEscape('!')}' instead. ${position(source, start)}`);
    }
    if (RESERVED.has(ch) || !WORD_CHAR.test(ch)) {
      throw syntaxError(`The character '${ch}' is a reserved JQL character. You must enclose it in a string or use the escape '${unicodeEscape(ch)}' instead. ${position(source, start)}`);
    }
    const { value, end } = readRun(source, i, (c) => !WORD_CHAR.test(c));
    tokens.push({ kind: 'word', value, start });
    i = end;
  }
  tokens.push({ kind: 'eof', value: '', start: source.length });
  return tokens;
}

/** The text from `from` up to the first character `stop` accepts (or the end), backslash escapes decoded. */
function readRun(source: string, from: number, stop: (c: string) => boolean): { value: string; end: number } {
  let value = '';
  let j = from;
  while (j < source.length) {
    const c = source[j] as string;
    if (c === '\\') {
      const [decoded, next] = readEscape(source, j);
      value += decoded;
      j = next;
      continue;
    }
    if (stop(c)) break;
    value += c;
    j += 1;
  }
  return { value, end: j };
}
