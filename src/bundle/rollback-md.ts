import type { RollbackPlan } from './rollback.js';

/**
 * The plan as Markdown for a human. Every recorded value is in a code span or fenced block, fenced longer than
 * any backtick run inside it, so ticket text cannot turn into Markdown (or HTML) in a renderer.
 */
export function renderRollbackMarkdown(plan: RollbackPlan): string {
  const out: string[] = [];
  out.push(`# Rollback plan for job ${code(plan.job ?? '(unknown)')}`, '');
  if (plan.steps.length === 0) {
    out.push('The run recorded no successful change: nothing to roll back.', '');
  } else {
    out.push(`${plan.steps.length} step(s), newest change first. Apply them in this order through the gated write server (see "Applying a plan").`, '');
  }
  for (const step of plan.steps) {
    out.push(`## ${step.order}. ${code(step.issue)}: ${step.kind.replace('_', ' ')}`, '');
    out.push(text(step.description), '');
    out.push(`- operation: ${step.operation ? code(step.operation) : 'none in the gated write server (a human does it in Jira)'}`);
    out.push(`- from: ${code(`${step.source.file}:${step.source.line}`)}${step.source.time ? ` at ${code(step.source.time)}` : ''}${step.source.tool ? ` by ${code(step.source.tool)}` : ''}`);
    for (const r of step.revert) out.push(`- ${code(r.field)}: ${code(json(r.from))} → ${code(json(r.to))}`);
    for (const w of step.warnings) out.push(`- **warning:** ${text(w)}`);
    out.push('');
    if (step.call) {
      const body = step.call.body === undefined ? '' : `\n${JSON.stringify(step.call.body, null, 2)}`;
      out.push(fence(`${step.call.method} ${step.call.path}${body}`, 'http'), '');
    }
  }
  if (plan.notes.length > 0) {
    out.push('## Notes', '');
    for (const note of plan.notes) out.push(`- ${text(note)}`);
    out.push('');
  }
  out.push('## Applying a plan', '');
  out.push(
    'Never replay these calls against Jira directly. Sign the suggested WPC below (review it first), issue a CST for a new job bound to it, and run `claw-jira-write` with that job: each step is then a tool call (jira_update_issue, jira_transition_issue, jira_assign_issue, jira_delete_issue) checked by the gate, approved by a human (every operation is behind approval), and receipted in its own proof bundle.',
    '',
  );
  out.push(fence(JSON.stringify(plan.wpc_suggestion, null, 2), 'json'), '');
  return out.join('\n');
}

/** A recorded value on one line, bounded: a deleted issue's before-value is every field it had. */
function json(value: unknown): string {
  const text = JSON.stringify(value ?? null);
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length - 300} more characters; see --format json)` : text;
}

function longestRun(value: string): number {
  let max = 0;
  for (const m of value.matchAll(/`+/g)) max = Math.max(max, m[0].length);
  return max;
}

function code(value: string): string {
  const ticks = '`'.repeat(longestRun(value) + 1);
  const pad = value.startsWith('`') || value.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${value.replace(/[\r\n]+/g, ' ')}${pad}${ticks}`;
}

function fence(value: string, lang: string): string {
  const ticks = '`'.repeat(Math.max(3, longestRun(value) + 1));
  return `${ticks}${lang}\n${value}\n${ticks}`;
}

/** Prose built from recorded values: escape what Markdown or HTML would interpret. */
function text(value: string): string {
  return value.replace(/[\\`*_{}[\]()#+!|<>&~]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
}
