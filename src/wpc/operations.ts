/**
 * The operation vocabulary. Policies name operations, never tool names: a tool is only a way to reach an
 * operation, and the gate checks the operation of the real Jira request.
 */
export const READ_OPERATIONS = [
  'issue.search', // JQL search
  'issue.get', // one issue, its comments, changelog and available transitions
  'project.read', // list projects, create-screen metadata (issue types and fields)
] as const;

export const WRITE_OPERATIONS = [
  'issue.create',
  'issue.update', // edit fields
  'issue.comment.create',
  'issue.assign',
  'workflow.transition',
  'issue.delete', // always behind a human approval, whatever the policy says
  'issue.bulk_edit', // no tool performs it; named so a policy can deny it explicitly
  'project.admin', // no tool performs it; named so a policy can deny it explicitly
] as const;

export const OPERATIONS = [...READ_OPERATIONS, ...WRITE_OPERATIONS] as const;
export type Operation = (typeof OPERATIONS)[number];
export type ReadOperation = (typeof READ_OPERATIONS)[number];
export type WriteOperation = (typeof WRITE_OPERATIONS)[number];

export function isWriteOperation(operation: Operation): operation is WriteOperation {
  return (WRITE_OPERATIONS as readonly string[]).includes(operation);
}

/** Operations that need a human approval regardless of the WPC. */
export const ALWAYS_APPROVAL: readonly Operation[] = ['issue.delete'];

/** Operations too risky for an in-chat confirmation (MCP elicitation): they need a signed approval. */
export const NEVER_ELICIT: readonly Operation[] = ['issue.delete', 'issue.bulk_edit', 'project.admin', 'workflow.transition'];
