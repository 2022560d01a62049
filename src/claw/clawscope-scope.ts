import { CstError } from '../cst/errors.js';
import type { Scope } from '../cst/scope.js';
import { OPERATIONS, type Operation } from '../wpc/operations.js';

/**
 * How clawscope's flat scope strings map onto claw-jira's scope (operations × projects, optional fields):
 *
 *   <prefix>:<operation>:<PROJECT>   e.g. jira:issue.create:ENG   the operation, in that project
 *   <prefix>:field:<field>           e.g. jira:field:summary      a field the token may write
 *   <prefix>:issue_type:<type>       e.g. jira:issue_type:Bug     an issue type the token may create
 *
 * Scopes with another prefix (proxy:call, clawproxy:*, …) are for other Claw services and are ignored. A
 * scope with our prefix that does not parse is refused: a permission we do not understand is never guessed.
 * claw-jira's scope is a product (every operation in every project), so the pairs must form one: a token with
 * `issue.create:ENG` and `issue.get:SEC` only would otherwise also grant `issue.create` in SEC. Such a token
 * is refused (CST_SCOPE_UNMAPPABLE) rather than widened or silently narrowed.
 */
export const DEFAULT_SCOPE_PREFIX = 'jira';

const PROJECT = /^[A-Z][A-Z0-9_]{0,254}$/;

export function mapClawscopeScope(scopes: readonly string[], prefix: string = DEFAULT_SCOPE_PREFIX): Scope {
  const pairs = new Set<string>();
  const operations = new Set<Operation>();
  const projects = new Set<string>();
  const fields = new Set<string>();
  const types = new Set<string>();
  for (const raw of scopes) {
    const scope = raw.trim();
    if (!scope.startsWith(`${prefix}:`)) continue;
    const rest = scope.slice(prefix.length + 1);
    const colon = rest.indexOf(':');
    const head = colon < 0 ? rest : rest.slice(0, colon);
    const tail = colon < 0 ? '' : rest.slice(colon + 1);
    if (head === 'field' && /^[^\s:]{1,255}$/.test(tail)) fields.add(tail);
    else if (head === 'issue_type' && tail !== '' && tail.length <= 255) types.add(tail);
    else if ((OPERATIONS as readonly string[]).includes(head) && PROJECT.test(tail)) {
      operations.add(head as Operation);
      projects.add(tail);
      pairs.add(`${head}:${tail}`);
    } else {
      throw new CstError('CST_SCOPE_UNMAPPABLE', `scope "${scope.slice(0, 128)}" is not ${prefix}:<operation>:<PROJECT>, ${prefix}:field:<id> or ${prefix}:issue_type:<name>`);
    }
  }
  if (operations.size === 0) throw new CstError('CST_SCOPE_UNMAPPABLE', `the token grants no ${prefix}:<operation>:<PROJECT> scope`);
  for (const op of operations) {
    for (const project of projects) {
      if (!pairs.has(`${op}:${project}`)) {
        throw new CstError('CST_SCOPE_UNMAPPABLE', `the token grants ${op} in some projects but not in ${project}: claw-jira scopes grant every operation in every project`);
      }
    }
  }
  return {
    operations: [...operations].sort(),
    projects: [...projects].sort(),
    ...(fields.size > 0 ? { fields_write: [...fields].sort() } : {}),
    ...(types.size > 0 ? { issue_types: [...types].sort() } : {}),
  };
}
