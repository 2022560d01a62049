import type { z } from 'zod';
import type { JiraClient } from '../jira/client.js';
import type { Scope } from '../cst/scope.js';
import type { Operation } from '../wpc/operations.js';
import type { Wpc } from '../wpc/schema.js';
import type { FieldChange, JiraExchange } from '../receipts/types.js';
import type { FieldCatalog } from './field-catalog.js';

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** What a tool may use while the gate runs it: Jira (every exchange recorded), the policy in force, fields. */
export interface ToolContext {
  readonly jira: JiraClient;
  readonly wpc: Wpc;
  readonly scope: Scope | undefined;
  readonly fields: FieldCatalog;
  /** Projects this call may see: WPC allow minus deny, intersected with the token's scope. */
  readonly projects: readonly string[];
  /** Await a Jira call and record its exchange for the receipts. */
  call<T>(pending: Promise<{ data: T; request: { method: string; path: string; status: number | undefined; attempts: number } }>): Promise<T>;
  readonly exchanges: JiraExchange[];
}

/**
 * The real target of a call, resolved before the decision: the project and issue type come from Jira (an
 * issue's key may be stale after a move), the fields from the normalised request, never from tool names.
 */
export interface Target {
  project?: string;
  issueType?: string;
  fieldsWrite?: string[];
  fieldsRead?: string[];
  /** For a search: the projects its JQL is confined to, the issue types it names, and the confined JQL itself. */
  projects?: string[];
  issueTypes?: string[];
  jql?: string;
  /** For a create under a parent: the parent's project, from Jira. */
  parentProject?: string;
  /** The keys the call names and the keys Jira resolved them to. */
  issueKeys: string[];
  /** The numeric id of the one issue the call writes, resolved once: later reads and the write use it, not a key. */
  issueId?: string;
  /** Tool-private state carried from resolve to run (e.g. before-values, a prefetched issue). */
  state?: unknown;
}

export interface ToolRun<O> {
  data: O;
  /** For writes: every touched field, before and after, from a read-back after the write. */
  changes?: FieldChange[];
  issueKeys?: string[];
  /** False when the read-back shows the write did not take (a silent no-op). */
  applied?: boolean;
}

/**
 * A sentence of a tool's description that names another tool of the same server: shown only while that tool
 * is listed, because a host never forwards a call to a tool it was not shown.
 */
export interface RelatedTool {
  readonly tool: string;
  readonly text: string;
}

export interface ToolSpec<I = unknown, O = unknown> {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly related?: readonly RelatedTool[];
  readonly operation: Operation;
  readonly annotations: ToolAnnotations;
  readonly input: z.ZodType<I>;
  readonly output: z.ZodType<O>;
  resolve(args: I, ctx: ToolContext): Promise<Target>;
  run(args: I, target: Target, ctx: ToolContext): Promise<ToolRun<O>>;
}

/** A tool with its types erased, for a registry of tools with different inputs and outputs. */
export interface Tool {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly related?: readonly RelatedTool[];
  readonly operation: Operation;
  readonly annotations: ToolAnnotations;
  readonly input: z.ZodType;
  readonly output: z.ZodType;
  /** Validate raw arguments; on success, resolve and run take the parsed value. */
  parse(args: unknown): { success: true; data: unknown } | { success: false; error: z.ZodError };
  resolve(args: unknown, ctx: ToolContext): Promise<Target>;
  run(args: unknown, target: Target, ctx: ToolContext): Promise<ToolRun<unknown>>;
}

/**
 * Type-check a tool's hooks against its own schemas, then erase the types. The casts are sound because the
 * gate only ever passes `parse(args).data` to resolve and run.
 */
export function defineTool<I, O>(spec: ToolSpec<I, O>): Tool {
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    ...(spec.related ? { related: spec.related } : {}),
    operation: spec.operation,
    annotations: spec.annotations,
    input: spec.input,
    output: spec.output,
    parse: (args) => spec.input.safeParse(args),
    resolve: (args, ctx) => spec.resolve(args as I, ctx),
    run: (args, target, ctx) => spec.run(args as I, target, ctx),
  };
}
