import { WpcSchema, type Wpc } from './schema.js';
import { wpcProblems } from './document.js';
import { NEVER_ELICIT, isWriteOperation } from './operations.js';

export interface LintProblem {
  severity: 'error' | 'warning';
  path: string;
  message: string;
}


/**
 * Schema errors (each with its JSON path), then what is valid but almost certainly not what the author
 * meant: rules that can never fire, contradictions that deny silently, and settings that weaken the runtime.
 */
export function lintWpc(value: unknown): LintProblem[] {
  const parsed = WpcSchema.safeParse(value);
  if (!parsed.success) {
    return wpcProblems(parsed.error).map((problem) => ({ severity: 'error', ...problem }));
  }
  return semanticProblems(parsed.data);
}

function semanticProblems(wpc: Wpc): LintProblem[] {
  const problems: LintProblem[] = [];
  const warn = (path: string, message: string) => problems.push({ severity: 'warning', path, message });
  const error = (path: string, message: string) => problems.push({ severity: 'error', path, message });

  const overlap = (allowPath: string, allow: readonly string[], denyPath: string, deny: readonly string[]) => {
    allow.forEach((value, index) => {
      if (deny.includes(value)) warn(`${allowPath}[${index}]`, `'${value}' is also in ${denyPath}; deny wins, so this allow never applies`);
    });
  };
  const duplicates = (path: string, values: readonly string[]) => {
    values.forEach((value, index) => {
      if (values.indexOf(value) !== index) warn(`${path}[${index}]`, `'${value}' is listed twice`);
    });
  };

  overlap('$.allow.operations', wpc.allow.operations, 'deny.operations', wpc.deny.operations);
  overlap('$.allow.projects', wpc.allow.projects, 'deny.projects', wpc.deny.projects);
  overlap('$.allow.fields_write_allowlist', wpc.allow.fields_write_allowlist, 'deny.fields_write_denylist', wpc.deny.fields_write_denylist);
  if (wpc.allow.fields_read) overlap('$.allow.fields_read', wpc.allow.fields_read, 'deny.fields_read', wpc.deny.fields_read);
  duplicates('$.allow.operations', wpc.allow.operations);
  duplicates('$.allow.projects', wpc.allow.projects);
  duplicates('$.allow.fields_write_allowlist', wpc.allow.fields_write_allowlist);
  duplicates('$.deny.operations', wpc.deny.operations);

  if (wpc.allow.operations.length === 0) warn('$.allow.operations', 'no operation is allowed: this policy denies every call');
  if (wpc.allow.projects.length === 0) warn('$.allow.projects', 'no project is allowed: this policy denies every issue operation');
  const writes = wpc.allow.operations.filter((op) => isWriteOperation(op) && !wpc.deny.operations.includes(op));
  if (writes.includes('issue.create') && !wpc.allow.fields_write_allowlist.includes('summary')) {
    warn('$.allow.fields_write_allowlist', "issue.create is allowed but 'summary' is not writable, so every create will be denied");
  }
  if (writes.includes('issue.update') && wpc.allow.fields_write_allowlist.length === 0) {
    warn('$.allow.fields_write_allowlist', 'issue.update is allowed but no field is writable');
  }
  wpc.allow.fields_write_allowlist.forEach((field, index) => {
    if (field !== field.toLowerCase() && !field.startsWith('customfield_')) {
      warn(`$.allow.fields_write_allowlist[${index}]`, `'${field}' is not a Jira field id (ids are lower case, e.g. 'summary' or 'customfield_10016')`);
    }
  });
  if (!wpc.runtime.require_cst) warn('$.runtime.require_cst', 'tokens are not required: any process that can start the server acts with the whole policy');
  if (!wpc.runtime.cst_policy_hash_pin) warn('$.runtime.cst_policy_hash_pin', 'tokens are not pinned to this policy: a token issued for another policy is accepted');

  const approval = wpc.approval;
  approval?.operations.forEach((op, index) => {
    if (!wpc.allow.operations.includes(op) || wpc.deny.operations.includes(op)) {
      warn(`$.approval.operations[${index}]`, `'${op}' needs approval but is not allowed, so it is denied anyway`);
    }
  });
  approval?.elicitation.forEach((op, index) => {
    if (NEVER_ELICIT.includes(op)) {
      error(`$.approval.elicitation[${index}]`, `'${op}' is high-risk: it needs a signed approval, never an in-chat confirmation`);
    }
  });
  return problems;
}
