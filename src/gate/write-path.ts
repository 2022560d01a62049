import { isJiraError } from '../jira/errors.js';
import { issueTypeOf, projectOf } from '../tools/common.js';
import type { VerifiedWpc } from '../wpc/registry.js';
import { GateDenied } from './denial.js';
import type { TargetFacts, Tool, ToolContext } from './tool.js';

/** The longest elicitation prompt the gate sends. A call that needs more is refused, never cut. */
const ELICITATION_MAX_CHARS = 4000;

/**
 * The arguments come from the model: characters that reorder or hide text on a screen (bidi overrides,
 * zero-width marks) are shown as escapes, so the person reads what will run, not what it was made to look like.
 */
export function visibleText(text: string): string {
  return text.replace(/[\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Keys in a fixed order: the fields the call writes (sorted) first, then everything else (sorted). */
function ordered(value: unknown, first: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((item) => ordered(item, []));
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  const head = keys.filter((key) => first.includes(key)).sort();
  const tail = keys.filter((key) => !first.includes(key)).sort();
  return Object.fromEntries([...head, ...tail].map((key) => [key, ordered(record[key], first)]));
}

/**
 * What the human is asked: the exact call, in full. The fields it writes come first, by name, in a stable
 * order (not the model's), so nobody approves a change to a field scrolled out of sight; then every argument.
 */
export function elicitationText(
  tool: Tool,
  args: unknown,
  target: TargetFacts,
  wpc: VerifiedWpc,
): { ok: true; text: string } | { ok: false; message: string } {
  const where = [target.project, ...target.issueKeys].filter(Boolean).join(' ');
  const fields = [...new Set(target.fieldsWrite ?? [])].sort();
  const text = visibleText(
    [
      `Allow this ${tool.operation} call once? (policy ${wpc.hash.slice(0, 19)}…)`,
      `Tool: ${tool.name}${where ? ` on ${where}` : ''}`,
      `Fields written: ${fields.length > 0 ? fields.join(', ') : '(none besides the operation itself)'}`,
      `Arguments (complete): ${JSON.stringify(ordered(args, fields), null, 2)}`,
    ].join('\n'),
  );
  if (text.length > ELICITATION_MAX_CHARS) {
    return {
      ok: false,
      message: `this call is too large to show in full in a confirmation prompt (${text.length} of at most ${ELICITATION_MAX_CHARS} characters): it needs a signed approval instead (claw-jira approve)`,
    };
  }
  return { ok: true, text };
}

/**
 * After a human's answer: the issue, looked up by the numeric id resolved before the question, must still be
 * in the project and of the type the decision was made on. An issue moved meanwhile is not written.
 */
export async function checkTargetUnchanged(target: TargetFacts, ctx: ToolContext): Promise<void> {
  if (target.issueId === undefined) return;
  const changed = (why: string) =>
    GateDenied.of('TARGET_CHANGED', `the issue changed while the call waited for confirmation (${why}): nothing was written; repeat the call`);
  let issue;
  try {
    issue = await ctx.jira.getIssue(target.issueId, { fields: ['project', 'issuetype'] });
  } catch (error) {
    if (isJiraError(error) && error.code === 'JIRA_NOT_FOUND') throw changed('it no longer exists');
    throw error;
  }
  if (projectOf(issue) !== target.project) throw changed(`it is now in project ${projectOf(issue) ?? 'unknown'}`);
  if (target.issueType !== undefined && issueTypeOf(issue) !== target.issueType) throw changed(`it is now a ${issueTypeOf(issue) ?? 'different type'}`);
}
