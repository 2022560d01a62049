/**
 * Recursive-descent parser for the JQL subset claw-jira reads. Shared, and free of simulator code: the simulator
 * evaluates the tree, and the gate reads from it every field a search names (src/gate/jql.ts). Anything outside
 * the subset is a syntax error, so the gate refuses what it cannot read instead of guessing:
 *
 *   query   := or? (ORDER BY sort (',' sort)*)? EOF
 *   or      := and ((OR | '||') and)*
 *   and     := not ((AND | '&&') not)*
 *   not     := NOT not | primary
 *   primary := '(' or ')' | clause
 *   clause  := field operator operand
 *   operand := value | EMPTY | NULL | function | '(' operand (',' operand)* ')'
 */
import type { Clause, Expr, FieldRef, Operand, Operator, Query, SortKey } from './ast.js';
import { position, syntaxError } from './errors.js';
import { tokenize, type Token } from './lexer.js';
import { RESERVED_WORDS } from './reserved.js';

const VALID_OPERATORS = "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'.";
/** Words that structure a query; as a value they must be quoted. */
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'order', 'by']);
const UNSUPPORTED_OPERATORS = new Set(['was', 'changed']);

class Parser {
  readonly #source: string;
  readonly #tokens: readonly Token[];
  #index = 0;

  constructor(source: string) {
    this.#source = source;
    this.#tokens = tokenize(source);
  }

  #peek(offset = 0): Token {
    return this.#tokens[Math.min(this.#index + offset, this.#tokens.length - 1)] as Token;
  }

  #next(): Token {
    const token = this.#peek();
    if (this.#index < this.#tokens.length - 1) this.#index += 1;
    return token;
  }

  #isWord(token: Token, word: string): boolean {
    return token.kind === 'word' && token.value.toLowerCase() === word;
  }

  #at(token: Token): string {
    return position(this.#source, token.start);
  }

  /** A token as Jira quotes it back in messages. */
  #shown(token: Token): string {
    return token.value;
  }

  parse(): Query {
    let where: Expr | null = null;
    if (this.#peek().kind !== 'eof' && !this.#isWord(this.#peek(), 'order')) where = this.#or();
    const orderBy: SortKey[] = [];
    if (this.#isWord(this.#peek(), 'order')) {
      this.#next();
      const by = this.#next();
      if (!this.#isWord(by, 'by')) {
        throw syntaxError(by.kind === 'eof' ? "Expecting 'by' before the end of the query." : `Expecting 'by' but got '${this.#shown(by)}'. ${this.#at(by)}`);
      }
      orderBy.push(this.#sortKey());
      while (this.#peek().kind === 'comma') {
        this.#next();
        orderBy.push(this.#sortKey());
      }
    }
    const rest = this.#peek();
    if (rest.kind !== 'eof') {
      if (rest.kind === 'rparen') throw syntaxError(`Expecting either 'OR' or 'AND' but got ')'. ${this.#at(rest)}`);
      throw syntaxError(`Expecting either 'OR' or 'AND' but got '${this.#shown(rest)}'. ${this.#at(rest)}`);
    }
    return { where, orderBy };
  }

  #sortKey(): SortKey {
    const field = this.#field();
    let direction: SortKey['direction'] = null;
    if (this.#isWord(this.#peek(), 'asc') || this.#isWord(this.#peek(), 'desc')) {
      direction = this.#next().value.toLowerCase() as 'asc' | 'desc';
    }
    return { field, direction };
  }

  #or(): Expr {
    let left = this.#and();
    while (this.#isWord(this.#peek(), 'or') || this.#peek().kind === 'or') {
      this.#next();
      left = { kind: 'or', left, right: this.#and() };
    }
    return left;
  }

  #and(): Expr {
    let left = this.#not();
    while (this.#isWord(this.#peek(), 'and') || this.#peek().kind === 'and') {
      this.#next();
      left = { kind: 'and', left, right: this.#not() };
    }
    return left;
  }

  #not(): Expr {
    if (this.#isWord(this.#peek(), 'not')) {
      this.#next();
      return { kind: 'not', expr: this.#not() };
    }
    return this.#primary();
  }

  #primary(): Expr {
    const token = this.#peek();
    if (token.kind === 'lparen') {
      this.#next();
      const expr = this.#or();
      const close = this.#next();
      if (close.kind !== 'rparen') {
        throw syntaxError(close.kind === 'eof' ? "Expecting ')' before the end of the query." : `Expecting ')' but got '${this.#shown(close)}'. ${this.#at(close)}`);
      }
      return expr;
    }
    return this.#clause();
  }

  #field(): FieldRef {
    const token = this.#next();
    if (token.kind === 'eof') throw syntaxError('Expecting a field name before the end of the query.');
    if (token.kind === 'string') return { name: token.value, start: token.start };
    if (token.kind !== 'word') throw syntaxError(`Expecting a field name but got '${this.#shown(token)}'. ${this.#at(token)}`);
    const lower = token.value.toLowerCase();
    if (lower === 'cf' && this.#peek().kind === 'lbracket') {
      this.#next();
      const id = this.#next();
      const close = this.#next();
      if (id.kind !== 'word' || !/^\d+$/.test(id.value) || close.kind !== 'rbracket') {
        throw syntaxError(`Expecting a custom field id in the form 'cf[12345]'. ${this.#at(token)}`);
      }
      return { name: `cf[${id.value}]`, start: token.start };
    }
    if (KEYWORDS.has(lower) || RESERVED_WORDS.has(lower)) {
      throw syntaxError(`'${token.value}' is a reserved JQL word. You must surround it in quotation marks to use it in a query. ${this.#at(token)}`);
    }
    return { name: token.value, start: token.start };
  }

  #operator(): Operator {
    const token = this.#next();
    if (token.kind === 'op') return token.value as Operator;
    if (token.kind === 'word') {
      const word = token.value.toLowerCase();
      if (word === 'in') return 'in';
      if (word === 'not' && this.#isWord(this.#peek(), 'in')) {
        this.#next();
        return 'not in';
      }
      if (word === 'is') {
        if (this.#isWord(this.#peek(), 'not')) {
          this.#next();
          return 'is not';
        }
        return 'is';
      }
      if (UNSUPPORTED_OPERATORS.has(word)) {
        throw syntaxError(`The '${token.value.toUpperCase()}' operator is not supported. ${this.#at(token)}`);
      }
    }
    if (token.kind === 'eof') throw syntaxError(`Expecting operator before the end of the query. ${VALID_OPERATORS}`);
    throw syntaxError(`Expecting operator but got '${this.#shown(token)}'. ${VALID_OPERATORS} ${this.#at(token)}`);
  }

  #clause(): Clause {
    const field = this.#field();
    const operator = this.#operator();
    let operand: Operand;
    if (operator === 'in' || operator === 'not in') {
      const token = this.#peek();
      if (token.kind === 'lparen') operand = this.#list();
      else if (token.kind === 'word' && this.#peek(1).kind === 'lparen') operand = this.#operand();
      else if (token.kind === 'eof') throw syntaxError("Expecting '(' before the end of the query.");
      else throw syntaxError(`Expecting '(' but got '${this.#shown(token)}'. ${this.#at(token)}`);
    } else if (operator === 'is' || operator === 'is not') {
      const token = this.#next();
      if (!(this.#isWord(token, 'empty') || this.#isWord(token, 'null'))) {
        throw syntaxError(
          token.kind === 'eof'
            ? "Expecting 'EMPTY' or 'NULL' before the end of the query."
            : `Expecting 'EMPTY' or 'NULL' but got '${this.#shown(token)}'. ${this.#at(token)}`,
        );
      }
      operand = { kind: 'empty', start: token.start };
    } else {
      operand = this.#peek().kind === 'lparen' ? this.#list() : this.#operand();
    }
    return { kind: 'clause', field, operator, operand };
  }

  #list(): Operand {
    const open = this.#next();
    const items: Operand[] = [this.#operand()];
    for (;;) {
      const token = this.#next();
      if (token.kind === 'rparen') break;
      if (token.kind === 'comma') {
        items.push(this.#operand());
        continue;
      }
      throw syntaxError(token.kind === 'eof' ? "Expecting ')' before the end of the query." : `Expecting ')' but got '${this.#shown(token)}'. ${this.#at(token)}`);
    }
    return { kind: 'list', items, start: open.start };
  }

  #operand(): Operand {
    const token = this.#next();
    if (token.kind === 'string') return { kind: 'value', value: token.value, quoted: true, start: token.start };
    if (token.kind === 'eof') throw syntaxError('Expecting either a value, list or function before the end of the query.');
    if (token.kind !== 'word') {
      throw syntaxError(`Expecting either a value, list or function but got '${this.#shown(token)}'. ${this.#at(token)}`);
    }
    const lower = token.value.toLowerCase();
    if (lower === 'empty' || lower === 'null') return { kind: 'empty', start: token.start };
    if (this.#peek().kind === 'lparen') return this.#function(token);
    if (KEYWORDS.has(lower)) {
      const shown = token.value.toUpperCase();
      throw syntaxError(`Expecting either a value, list or function but got '${shown}'. You must surround '${shown}' in quotation marks to use it as a value. ${this.#at(token)}`);
    }
    if (RESERVED_WORDS.has(lower)) {
      throw syntaxError(`'${token.value}' is a reserved JQL word. You must surround it in quotation marks to use it in a query. ${this.#at(token)}`);
    }
    return { kind: 'value', value: token.value, quoted: false, start: token.start };
  }

  #function(name: Token): Operand {
    this.#next();
    const args: string[] = [];
    if (this.#peek().kind === 'rparen') {
      this.#next();
      return { kind: 'function', name: name.value, args, start: name.start };
    }
    for (;;) {
      const arg = this.#next();
      if (arg.kind !== 'word' && arg.kind !== 'string') {
        throw syntaxError(arg.kind === 'eof' ? "Expecting ')' before the end of the query." : `Expecting a function argument but got '${this.#shown(arg)}'. ${this.#at(arg)}`);
      }
      args.push(arg.value);
      const sep = this.#next();
      if (sep.kind === 'rparen') break;
      if (sep.kind !== 'comma') {
        throw syntaxError(sep.kind === 'eof' ? "Expecting ')' before the end of the query." : `Expecting ')' but got '${this.#shown(sep)}'. ${this.#at(sep)}`);
      }
    }
    return { kind: 'function', name: name.value, args, start: name.start };
  }
}

export function parseJql(source: string): Query {
  return new Parser(source).parse();
}
