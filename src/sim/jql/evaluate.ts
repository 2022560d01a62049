/** Binds a parsed query to the simulator's data: validates fields and values, then filters and sorts. */
import type { SimIssue } from '../model.js';
import type { Clause, Expr, Operand, Operator, Query } from '../../jql/ast.js';
import { DATE_FUNCTIONS, dateFunction, parseJqlDate } from './dates.js';
import { JqlError } from '../../jql/errors.js';
import { fieldSpec, type FieldSpec, type JqlContext } from './fields.js';
import { textMatches } from './text.js';

export type { JqlContext } from './fields.js';

export interface CompiledQuery {
  /** false when the query has no search restriction (empty or ORDER BY only). */
  readonly bounded: boolean;
  matches(issue: SimIssue): boolean;
  compare(a: SimIssue, b: SimIssue): number;
}

const MAX_ORDER_BY = 7;

const OPERATORS_BY_KIND: Record<FieldSpec['kind'], ReadonlySet<Operator>> = {
  enum: new Set<Operator>(['=', '!=', 'in', 'not in', 'is', 'is not']),
  key: new Set<Operator>(['=', '!=', 'in', 'not in', '<', '>', '<=', '>=']),
  text: new Set<Operator>(['~', '!~', 'is', 'is not']),
  date: new Set<Operator>(['=', '!=', '<', '>', '<=', '>=', 'is', 'is not']),
  number: new Set<Operator>(['=', '!=', '<', '>', '<=', '>=', 'in', 'not in', 'is', 'is not']),
};

const KNOWN_FUNCTIONS = new Set(['currentuser', 'standardissuetypes', 'subtaskissuetypes', ...DATE_FUNCTIONS.map((f) => f.toLowerCase())]);

type Predicate = (issue: SimIssue) => boolean;

class Binder {
  readonly errors: string[] = [];
  readonly #ctx: JqlContext;

  constructor(ctx: JqlContext) {
    this.#ctx = ctx;
  }

  bind(expr: Expr): Predicate {
    switch (expr.kind) {
      case 'and': {
        const left = this.bind(expr.left);
        const right = this.bind(expr.right);
        return (i) => left(i) && right(i);
      }
      case 'or': {
        const left = this.bind(expr.left);
        const right = this.bind(expr.right);
        return (i) => left(i) || right(i);
      }
      case 'not': {
        const inner = this.bind(expr.expr);
        return (i) => !inner(i);
      }
      case 'clause':
        return this.#clause(expr);
    }
  }

  #fail(message: string): Predicate {
    this.errors.push(message);
    return () => false;
  }

  #clause(clause: Clause): Predicate {
    const name = clause.field.name;
    const spec = fieldSpec(name);
    if (!spec) return this.#fail(`Field '${name}' does not exist or you do not have permission to view it.`);
    if (!OPERATORS_BY_KIND[spec.kind].has(clause.operator)) {
      return this.#fail(`The operator '${clause.operator.toUpperCase()}' is not supported by the '${name}' field.`);
    }
    if (clause.operand.kind === 'list' && !['in', 'not in'].includes(clause.operator)) {
      return this.#fail(`The operator '${clause.operator.toUpperCase()}' does not support the list value for the field '${name}'.`);
    }
    switch (spec.kind) {
      case 'text':
        return this.#text(clause, spec.texts);
      case 'date':
        return this.#ordered(clause, spec.time, (v) => this.#dateValue(name, v));
      case 'number':
        return this.#ordered(clause, spec.num, (v) => this.#numberValue(name, v));
      case 'key':
        return this.#key(clause, spec.values);
      case 'enum':
        return this.#enum(clause, spec);
    }
  }

  #operands(operand: Operand): Operand[] {
    return operand.kind === 'list' ? operand.items.flatMap((o) => this.#operands(o)) : [operand];
  }

  #unknownFunction(name: string, field: string): void {
    if (KNOWN_FUNCTIONS.has(name.toLowerCase())) this.errors.push(`Function '${name}' is not supported for the field '${field}'.`);
    else this.errors.push(`Unable to find JQL function '${name}()'.`);
  }

  #text(clause: Clause, texts: (i: SimIssue) => readonly string[]): Predicate {
    const hasText = (i: SimIssue): boolean => texts(i).some((t) => t.trim() !== '');
    if (clause.operator === 'is') return (i) => !hasText(i);
    if (clause.operator === 'is not') return hasText;
    const operand = clause.operand;
    if (operand.kind === 'empty') return clause.operator === '~' ? (i) => !hasText(i) : hasText;
    if (operand.kind !== 'value') {
      if (operand.kind === 'function') this.#unknownFunction(operand.name, clause.field.name);
      return () => false;
    }
    const query = operand.value;
    if (clause.operator === '~') return (i) => textMatches(texts(i), query);
    return (i) => hasText(i) && !textMatches(texts(i), query);
  }

  #dateValue(field: string, operand: Operand): number | null {
    if (operand.kind === 'function') {
      const value = DATE_FUNCTIONS.some((f) => f.toLowerCase() === operand.name.toLowerCase()) ? dateFunction(operand.name, operand.args, this.#ctx.now) : null;
      if (value === null) this.#unknownFunction(operand.name, field);
      return value;
    }
    if (operand.kind !== 'value') return null;
    const value = parseJqlDate(operand.value, this.#ctx.now);
    if (value === null) {
      this.errors.push(
        `Date value '${operand.value}' for field '${field}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.`,
      );
    }
    return value;
  }

  #numberValue(field: string, operand: Operand): number | null {
    if (operand.kind === 'function') {
      this.#unknownFunction(operand.name, field);
      return null;
    }
    if (operand.kind !== 'value') return null;
    const value = Number(operand.value);
    if (operand.value.trim() === '' || !Number.isFinite(value)) {
      this.errors.push(`The value '${operand.value}' does not exist for the field '${field}'.`);
      return null;
    }
    return value;
  }

  /** Dates and numbers: comparisons, equality, EMPTY. Empty values never match a comparison. */
  #ordered(clause: Clause, read: (i: SimIssue) => number | null, toValue: (o: Operand) => number | null): Predicate {
    const { operator, operand } = clause;
    if (operator === 'is' || (operator === '=' && operand.kind === 'empty')) return (i) => read(i) === null;
    if (operator === 'is not' || (operator === '!=' && operand.kind === 'empty')) return (i) => read(i) !== null;
    if (operator === 'in' || operator === 'not in') {
      const items = this.#operands(operand);
      const wantsEmpty = items.some((o) => o.kind === 'empty');
      const values = items.filter((o) => o.kind !== 'empty').map(toValue).filter((v): v is number => v !== null);
      return operator === 'in'
        ? (i) => {
            const v = read(i);
            return v === null ? wantsEmpty : values.includes(v);
          }
        : (i) => {
            const v = read(i);
            return v !== null && !values.includes(v) && !wantsEmpty;
          };
    }
    const target = toValue(operand);
    if (target === null) return () => false;
    const compare: Record<string, (v: number) => boolean> = {
      '=': (v) => v === target,
      '!=': (v) => v !== target,
      '<': (v) => v < target,
      '<=': (v) => v <= target,
      '>': (v) => v > target,
      '>=': (v) => v >= target,
    };
    const test = compare[operator] ?? (() => false);
    return (i) => {
      const v = read(i);
      return v !== null && test(v);
    };
  }

  #key(clause: Clause, values: (i: SimIssue) => readonly string[]): Predicate {
    const name = clause.field.name;
    const targets: SimIssue[] = [];
    for (const operand of this.#operands(clause.operand)) {
      if (operand.kind === 'function') {
        this.#unknownFunction(operand.name, name);
        continue;
      }
      if (operand.kind !== 'value') continue;
      const value = operand.value.trim();
      if (/^\d+$/.test(value)) {
        const issue = this.#ctx.store.byId(value);
        if (issue && this.#ctx.store.can(this.#ctx.accountId, issue, 'browse')) targets.push(issue);
        continue;
      }
      if (!/^[A-Za-z][A-Za-z0-9_]*-\d+$/.test(value)) {
        this.errors.push(`The issue key '${value}' for field '${name}' is invalid.`);
        continue;
      }
      const issue = this.#ctx.store.find(value);
      if (!issue || !this.#ctx.store.can(this.#ctx.accountId, issue, 'browse')) {
        this.errors.push(`An issue with key '${value.toUpperCase()}' does not exist for field '${name}'.`);
        continue;
      }
      targets.push(issue);
    }
    const ids = new Set(targets.map((t) => t.id));
    const number = (i: SimIssue): number => Number(i.key.slice(i.key.lastIndexOf('-') + 1));
    switch (clause.operator) {
      case '=':
      case 'in':
        return (i) => values(i).some((v) => ids.has(v));
      case '!=':
      case 'not in':
        return (i) => !values(i).some((v) => ids.has(v));
      default: {
        const target = targets[0];
        if (!target) return () => false;
        const cmp: Record<string, (a: number, b: number) => boolean> = {
          '<': (a, b) => a < b,
          '<=': (a, b) => a <= b,
          '>': (a, b) => a > b,
          '>=': (a, b) => a >= b,
        };
        const test = cmp[clause.operator] ?? (() => false);
        return (i) => i.projectKey === target.projectKey && test(number(i), number(target));
      }
    }
  }

  #enum(clause: Clause, spec: Extract<FieldSpec, { kind: 'enum' }>): Predicate {
    const name = clause.field.name;
    const { operator } = clause;
    if (operator === 'is') return (i) => spec.values(i, this.#ctx).length === 0;
    if (operator === 'is not') return (i) => spec.values(i, this.#ctx).length > 0;
    const ids = new Set<string>();
    let wantsEmpty = false;
    for (const operand of this.#operands(clause.operand)) {
      if (operand.kind === 'empty') {
        wantsEmpty = true;
      } else if (operand.kind === 'function') {
        const fn = spec.functions?.[operand.name.toLowerCase()];
        if (fn) fn(this.#ctx).forEach((id) => ids.add(id));
        else this.#unknownFunction(operand.name, name);
      } else if (operand.kind === 'value') {
        const resolved = spec.resolve(operand.value, this.#ctx);
        if (resolved === null) {
          this.errors.push(`The value '${operand.value}' does not exist for the field '${name}'.`);
          continue;
        }
        resolved.ids.forEach((id) => ids.add(id));
        if (resolved.empty) wantsEmpty = true;
      }
    }
    const hit = (i: SimIssue): boolean => {
      const values = spec.values(i, this.#ctx);
      return values.length === 0 ? wantsEmpty : values.some((v) => ids.has(v));
    };
    if (operator === '=' || operator === 'in') return hit;
    // != and NOT IN never match an empty field (Jira's documented behaviour), unless EMPTY is excluded explicitly.
    return (i) => {
      const values = spec.values(i, this.#ctx);
      if (values.length === 0) return false;
      return !values.some((v) => ids.has(v));
    };
  }
}

function comparator(query: Query, ctx: JqlContext, errors: string[]): (a: SimIssue, b: SimIssue) => number {
  if (query.orderBy.length > MAX_ORDER_BY) errors.push(`The ORDER BY clause can contain a maximum of ${MAX_ORDER_BY} fields.`);
  const keys = query.orderBy.flatMap((key) => {
    const spec = fieldSpec(key.field.name);
    if (!spec) {
      errors.push(`Field '${key.field.name}' does not exist or you do not have permission to view it.`);
      return [];
    }
    if (!spec.sort) {
      errors.push(`Not able to sort using field '${key.field.name}'.`);
      return [];
    }
    return [{ sort: spec.sort, sign: key.direction === 'desc' ? -1 : 1 }];
  });
  return (a, b) => {
    for (const key of keys) {
      const va = key.sort(a, ctx);
      const vb = key.sort(b, ctx);
      if (va === vb) continue;
      // Empty values sort last ascending (first descending).
      if (va === null) return key.sign;
      if (vb === null) return -key.sign;
      return (va < vb ? -1 : 1) * key.sign;
    }
    // Jira's implicit order: newest issue first.
    return Number(b.id) - Number(a.id);
  };
}

export function compileQuery(query: Query, ctx: JqlContext): CompiledQuery {
  const binder = new Binder(ctx);
  const predicate = query.where ? binder.bind(query.where) : () => true;
  const compare = comparator(query, ctx, binder.errors);
  if (binder.errors.length > 0) throw new JqlError([...new Set(binder.errors)]);
  return { bounded: query.where !== null, matches: predicate, compare };
}
