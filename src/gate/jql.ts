import type { Expr, Operand } from '../jql/ast.js';
import { JqlError } from '../jql/errors.js';
import { parseJql } from '../jql/parser.js';
import { GateDenied } from './denial.js';

/**
 * Confine user JQL to the projects a call may see: `(<where>) AND project in (...) ORDER BY <order>`.
 *
 * The user's clause is parenthesised whole, so `OR` inside it cannot reach past our `AND`. That only holds if
 * the clause cannot close our parenthesis itself, so quotes and parentheses are tokenised the way Jira reads
 * them (strings use '…' or "…"; a backslash escapes the next character inside strings and in bare words) and
 * unbalanced input is refused. ORDER BY is split off at top level, outside any string, and re-validated as a
 * plain list of fields and directions. Jira results are filtered by project again afterwards: this is one of
 * two locks, not the only one.
 */
const MAX_JQL = 4000;

export interface ConfinedJql {
  jql: string;
  where: string;
  orderBy: string | undefined;
}

/**
 * `issueTypes`, when the policy or token names issue types, confines the search to them in Jira as well: a
 * hidden type's issues are never matched, so no count or ordering of them can reach the model. Whether the
 * project list may be empty is the policy's question (decide() refuses a search with no readable project); an
 * empty list here is a programming error, and refusing keeps the JQL from going out unconfined.
 */
export function confineJql(userJql: string, projects: readonly string[], issueTypes?: readonly string[]): ConfinedJql {
  if (projects.length === 0 || issueTypes?.length === 0) throw new Error('confineJql needs at least one project (and type)');
  checkText(userJql);
  const { where, orderBy } = splitOrderBy(userJql);
  const list = projects.map((key) => `"${key}"`).join(', ');
  const types = issueTypes ? ` AND issuetype in (${issueTypes.map(quote).join(', ')})` : '';
  const scope = `project in (${list})${types}`;
  const confined = where.trim() === '' ? scope : `(${where.trim()}) AND ${scope}`;
  return { jql: orderBy ? `${confined} ORDER BY ${orderBy}` : confined, where: where.trim(), orderBy };
}

function checkText(userJql: string): void {
  if (userJql.length > MAX_JQL) throw invalid(`JQL longer than ${MAX_JQL} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(userJql)) throw invalid('JQL contains control characters');
}

/** A JQL string literal: issue type names come from the policy, but may hold quotes or backslashes. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
}

/** A field a search names, as written (`priority`, `cf[10033]`, `"Security classification"`), and the literal values it is compared with. */
export interface JqlFieldReference {
  name: string;
  /** Literal operands (not functions, not EMPTY): for `issuetype` these are the issue types the search names. */
  values: string[];
}

/**
 * Every field the JQL names, in any clause (under AND, OR, NOT, at any depth) and in ORDER BY. A search that
 * compares or sorts by a field observes it as surely as reading it, so the policy must see these names. The
 * query is read with the same parser the simulator uses; what it cannot read is refused, never guessed at.
 */
export function jqlFieldReferences(userJql: string): JqlFieldReference[] {
  checkText(userJql);
  let query;
  try {
    query = parseJql(userJql);
  } catch (error) {
    if (error instanceof JqlError) throw invalid(error.messages.join(' ').replace(/^Error in the JQL Query: /, '').slice(0, 300));
    throw error;
  }
  const references: JqlFieldReference[] = [];
  const walk = (expr: Expr): void => {
    if (expr.kind === 'clause') references.push({ name: expr.field.name, values: literals(expr.operand) });
    else if (expr.kind === 'not') walk(expr.expr);
    else {
      walk(expr.left);
      walk(expr.right);
    }
  };
  if (query.where) walk(query.where);
  for (const key of query.orderBy) references.push({ name: key.field.name, values: [] });
  return references;
}

function literals(operand: Operand): string[] {
  if (operand.kind === 'value') return [operand.value];
  if (operand.kind === 'list') return operand.items.flatMap(literals);
  return [];
}

function invalid(message: string): GateDenied {
  return GateDenied.target('JQL_INVALID', `invalid JQL: ${message}`, 'jql');
}

/** Walk the JQL once, tracking strings and depth; find a top-level ORDER BY. */
function splitOrderBy(jql: string): { where: string; orderBy: string | undefined } {
  let depth = 0;
  let quote: string | undefined;
  let orderAt = -1;
  /** Index of the last character taken literally by a backslash: an escaped space does not end a word. */
  let escaped = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < jql.length; i++) {
    const ch = jql[i] as string;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
      continue;
    }
    // Outside a string Jira reads `\x` as one literal character of a word: `a\"` is the word a", not the start
    // of a string, so it must not open one here either, or the two readings of the parentheses part ways.
    if (ch === '\\') {
      if (i === jql.length - 1) throw invalid('a backslash escapes nothing');
      escaped = ++i;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') {
      depth--;
      if (depth < 0) throw invalid('a closing parenthesis has no opening one');
    } else if (depth === 0 && orderAt < 0 && escaped !== i - 1 && /order/i.test(jql.slice(i, i + 5)) && isWordStart(jql, i)) {
      const rest = /^order\s+by\b/i.exec(jql.slice(i));
      if (rest) {
        orderAt = i;
        break;
      }
    }
  }
  if (quote) throw invalid('a quoted string is not closed');
  if (depth !== 0) throw invalid('parentheses are not balanced');
  const where = orderAt < 0 ? jql : jql.slice(0, orderAt);
  // The clause is trimmed before it is wrapped; trimming an escaped space would leave a backslash before our `)`.
  if (escaped >= where.trimEnd().length && escaped < where.length) throw invalid('the clause ends with an escaped space');
  if (orderAt < 0) return { where, orderBy: undefined };
  const orderBy = jql.slice(orderAt).replace(/^order\s+by\s+/i, '').trim();
  validateOrderBy(orderBy);
  return { where, orderBy };
}

function isWordStart(text: string, index: number): boolean {
  return index === 0 || /[\s)]/.test(text[index - 1] as string);
}

const ORDER_TERM = /^\s*(?:[A-Za-z][A-Za-z0-9_.]*|cf\[\d+\]|"[^"\\]{1,100}")(?:\s+(?:ASC|DESC))?\s*$/i;

/** ORDER BY takes fields and directions only: no clause, no function, no second query. */
function validateOrderBy(orderBy: string): void {
  if (orderBy === '') throw invalid('ORDER BY names no field');
  for (const term of orderBy.split(',')) {
    if (!ORDER_TERM.test(term)) throw invalid(`ORDER BY term '${term.trim().slice(0, 60)}' is not a field with an optional ASC or DESC`);
  }
}
