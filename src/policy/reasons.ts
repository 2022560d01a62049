/**
 * The vocabulary of a decision: every reason code decide() can give, and a reason's shape. Its own module so
 * the policy queries (fields.ts) and decide() share it without importing each other.
 */
export const DENY_CODES = [
  'OPERATION_DENIED',
  'OPERATION_NOT_ALLOWED',
  'PROJECT_DENIED',
  'PROJECT_NOT_ALLOWED',
  'PROJECT_UNKNOWN',
  'ISSUE_TYPE_NOT_ALLOWED',
  'ISSUE_TYPE_UNKNOWN',
  'FIELD_WRITE_DENIED',
  'FIELD_WRITE_NOT_ALLOWED',
  'FIELD_READ_DENIED',
  'FIELD_READ_NOT_ALLOWED',
  'SCOPE_OPERATION_NOT_GRANTED',
  'SCOPE_PROJECT_NOT_GRANTED',
  'SCOPE_ISSUE_TYPE_NOT_GRANTED',
  'SCOPE_FIELD_NOT_GRANTED',
] as const;
export const ALLOW_CODES = [
  'OPERATION_ALLOWED',
  'PROJECT_ALLOWED',
  'ISSUE_TYPE_ALLOWED',
  'FIELD_WRITE_ALLOWED',
  'FIELD_READ_ALLOWED',
] as const;
export type ReasonCode = (typeof DENY_CODES)[number] | (typeof ALLOW_CODES)[number];

export interface Reason {
  code: ReasonCode;
  /** The rule that decided: a path into the WPC (or the CST scope) and the value it matched. */
  rule: string;
}
