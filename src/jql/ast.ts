export type Operator = '=' | '!=' | '~' | '!~' | '<' | '>' | '<=' | '>=' | 'in' | 'not in' | 'is' | 'is not';

export interface FieldRef {
  /** As written (without quotes); `cf[10016]` for custom field ids. */
  readonly name: string;
  readonly start: number;
}

export type Operand =
  | { readonly kind: 'value'; readonly value: string; readonly quoted: boolean; readonly start: number }
  | { readonly kind: 'empty'; readonly start: number }
  | { readonly kind: 'function'; readonly name: string; readonly args: readonly string[]; readonly start: number }
  | { readonly kind: 'list'; readonly items: readonly Operand[]; readonly start: number };

export interface Clause {
  readonly kind: 'clause';
  readonly field: FieldRef;
  readonly operator: Operator;
  readonly operand: Operand;
}

export type Expr =
  | Clause
  | { readonly kind: 'and'; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'or'; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'not'; readonly expr: Expr };

export interface SortKey {
  readonly field: FieldRef;
  readonly direction: 'asc' | 'desc' | null;
}

export interface Query {
  readonly where: Expr | null;
  readonly orderBy: readonly SortKey[];
}
