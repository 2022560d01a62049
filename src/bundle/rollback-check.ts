import { isClawError } from '../util/errors.js';
import { jsonEqual } from './json-equal.js';
import { writeValue, type RollbackPlan } from './rollback.js';

/** The part of the Jira client the check needs (src/jira/client.ts JiraClient satisfies it). */
export interface JiraReader {
  getIssue(key: string, options: { fields?: readonly string[] }): Promise<{ data: { fields?: Record<string, unknown> | undefined } }>;
  getTransitions(key: string): Promise<{ data: { transitions: { id: string; name: string; to?: { id?: string | undefined; name?: string | undefined } | undefined }[] } }>;
}

/**
 * Compare each issue's current state in Jira with the after-state the run recorded. Where they differ someone
 * (or something) changed the issue after the run, and reverting would overwrite that later change: the step
 * gets a warning. Transition steps get the id of a transition to the recorded status when the workflow has one.
 * Adds warnings in place; returns the number of issues that could not be read.
 */
export async function checkPlanAgainstJira(plan: RollbackPlan, jira: JiraReader): Promise<number> {
  let unreadable = 0;
  const issues = [...new Set(plan.steps.map((s) => s.issue))];
  for (const issue of issues) {
    const steps = plan.steps.filter((s) => s.issue === issue);
    const fields = [...new Set(steps.flatMap((s) => s.revert.map((r) => r.field)).filter((f) => f !== 'comment' && f !== '(issue)'))];
    let current: Record<string, unknown>;
    try {
      current = (await jira.getIssue(issue, { fields: fields.length > 0 ? fields : ['summary'] })).data.fields ?? {};
    } catch (error) {
      const gone = isClawError(error) && error.code === 'JIRA_NOT_FOUND';
      if (!gone) unreadable++;
      for (const step of steps) step.warnings.push(gone ? `${issue} no longer exists in Jira` : `cannot read ${issue} from Jira to check it`);
      continue;
    }
    // The newest step of a field holds the state the run left: compare that one only.
    const checked = new Set<string>();
    for (const step of steps) {
      for (const r of step.revert) {
        if (r.field === 'comment' || r.field === '(issue)' || checked.has(r.field)) continue;
        checked.add(r.field);
        if (!sameValue(current[r.field], r.from)) {
          step.warnings.push(`${issue} ${r.field} changed after the run (now ${short(current[r.field])}, the run left ${short(r.from)}): reverting overwrites that later change`);
        }
      }
      if (step.kind === 'transition' && step.call) {
        const target = step.revert[0]?.to as { id?: unknown; name?: unknown } | undefined;
        try {
          const { transitions } = (await jira.getTransitions(issue)).data;
          const match = transitions.find((t) => (target?.id !== undefined && t.to?.id === String(target.id)) || (target?.name !== undefined && t.to?.name === target.name));
          if (match) step.call.body = { transition: { id: match.id } };
          else step.warnings.push(`the workflow offers no transition from the current status of ${issue} back to ${short(target?.name ?? target?.id)}`);
        } catch {
          step.warnings.push(`cannot read the transitions of ${issue}`);
        }
      }
    }
  }
  return unreadable;
}

function sameValue(current: unknown, recorded: unknown): boolean {
  return jsonEqual(current ?? null, recorded ?? null) || jsonEqual(writeValue(current ?? null), writeValue(recorded ?? null));
}

function short(value: unknown): string {
  const text = JSON.stringify(value ?? null);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
