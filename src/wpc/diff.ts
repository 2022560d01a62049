import { effectiveOperations, effectiveProjects } from '../policy/decide.js';
import type { Wpc } from './schema.js';

export interface SetDelta {
  name: string;
  added: string[];
  removed: string[];
}

export interface WpcDiff {
  /** Effective permissions (after deny): what an auditor means by "scope". */
  scope: SetDelta[];
  /** Raw list changes, including deny lists and approvals. */
  rules: SetDelta[];
  runtime: Array<{ name: string; before: unknown; after: unknown }>;
  /** True when B permits anything A did not: the change needs a security review. */
  widened: boolean;
}

function delta(name: string, before: readonly string[] | undefined, after: readonly string[] | undefined): SetDelta {
  const a = new Set(before ?? []);
  const b = new Set(after ?? []);
  return { name, added: [...b].filter((v) => !a.has(v)).sort(), removed: [...a].filter((v) => !b.has(v)).sort() };
}

function writableFields(wpc: Wpc): string[] {
  return wpc.allow.fields_write_allowlist.filter((field) => !wpc.deny.fields_write_denylist.includes(field));
}

export function diffWpc(a: Wpc, b: Wpc): WpcDiff {
  const scope = [
    delta('operations', effectiveOperations(a), effectiveOperations(b)),
    delta('projects', effectiveProjects(a), effectiveProjects(b)),
    delta('fields_write', writableFields(a), writableFields(b)),
    delta('issue_types', a.allow.issue_types ?? ['*'], b.allow.issue_types ?? ['*']),
    delta('fields_read', a.allow.fields_read ?? ['*'], b.allow.fields_read ?? ['*']),
    delta('fields_read_denied', a.deny.fields_read, b.deny.fields_read),
    delta('approval.operations', a.approval?.operations, b.approval?.operations),
  ];
  const rules = [
    delta('allow.operations', a.allow.operations, b.allow.operations),
    delta('allow.projects', a.allow.projects, b.allow.projects),
    delta('allow.fields_write_allowlist', a.allow.fields_write_allowlist, b.allow.fields_write_allowlist),
    delta('deny.operations', a.deny.operations, b.deny.operations),
    delta('deny.projects', a.deny.projects, b.deny.projects),
    delta('deny.fields_write_denylist', a.deny.fields_write_denylist, b.deny.fields_write_denylist),
    delta('approval.elicitation', a.approval?.elicitation, b.approval?.elicitation),
  ].filter((d) => d.added.length + d.removed.length > 0);
  const runtime: WpcDiff['runtime'] = [];
  const compare = (name: string, before: unknown, after: unknown) => {
    if (JSON.stringify(before) !== JSON.stringify(after)) runtime.push({ name, before, after });
  };
  compare('runtime.require_cst', a.runtime.require_cst, b.runtime.require_cst);
  compare('runtime.cst_policy_hash_pin', a.runtime.cst_policy_hash_pin, b.runtime.cst_policy_hash_pin);
  compare('runtime.max_ttl_seconds', a.runtime.max_ttl_seconds, b.runtime.max_ttl_seconds);
  compare('budgets', a.budgets ?? null, b.budgets ?? null);
  compare('environment', a.environment ?? null, b.environment ?? null);
  compare('allow.restricted_comments', a.allow.restricted_comments === true, b.allow.restricted_comments === true);
  const grows = (name: string) => (scope.find((d) => d.name === name)?.added.length ?? 0) > 0;
  const shrinks = (name: string) => (scope.find((d) => d.name === name)?.removed.length ?? 0) > 0;
  const widened =
    grows('operations') ||
    grows('projects') ||
    grows('fields_write') ||
    // '*' (no list) already means every type or field: only a list that grows, or becomes '*', widens.
    (grows('issue_types') && a.allow.issue_types !== undefined) ||
    (grows('fields_read') && a.allow.fields_read !== undefined) ||
    shrinks('fields_read_denied') ||
    shrinks('approval.operations') ||
    (a.allow.restricted_comments !== true && b.allow.restricted_comments === true) ||
    (a.runtime.require_cst && !b.runtime.require_cst) ||
    (a.runtime.cst_policy_hash_pin && !b.runtime.cst_policy_hash_pin) ||
    b.runtime.max_ttl_seconds > a.runtime.max_ttl_seconds;
  return { scope: scope.filter((d) => d.added.length + d.removed.length > 0), rules, runtime, widened };
}
