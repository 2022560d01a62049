import type { z } from 'zod';
import type { Scope } from '../cst/scope.js';
import type { Operation } from '../wpc/operations.js';
import type { Wpc } from '../wpc/schema.js';
import type { FieldChange } from '../receipts/types.js';
import type { DecisionRequest } from '../policy/decide.js';
import type { FieldCatalog } from './field-catalog.js';
import type { RecordingJira } from './recording-jira.js';

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** What a tool may use while the gate runs it: Jira (every exchange recorded), the policy in force, fields. */
export interface ToolContext {
  /** This call's own client: every exchange it makes lands in the call's receipts, with no wrapping by the tool. */
  readonly jira: RecordingJira;
  readonly wpc: Wpc;
  readonly scope: Scope | undefined;
  readonly fields: FieldCatalog;
  /** Projects this call may see: WPC allow minus deny, intersected with the token's scope. */
  readonly projects: readonly string[];
}

/**
 * The real target of a call, resolved before the decision: the project and issue type come from Jira (an
 * issue's key may be stale after a move), the fields from the normalised request, never from tool names.
 * Each dimension is the decision request's (documented there), plus the keys and the id the call acts on.
 */
export interface TargetFacts extends Omit<DecisionRequest, 'operation'> {
  /** The keys the call names and the keys Jira resolved them to. */
  issueKeys: string[];
  /** The numeric id of the one issue the call writes, resolved once: later reads and the write use it, not a key. */
  issueId?: string;
}

/**
 * A tool's target with its private state (before-values, a prefetched issue, the confined JQL), typed from
 * resolve to run. A tool without state returns none.
 */
export type Target<S = undefined> = TargetFacts & (undefined extends S ? { state?: S } : { state: S });

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

/** What a client is shown of a tool, and the operation the gate decides it as. */
export interface ToolInfo {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly related?: readonly RelatedTool[];
  readonly operation: Operation;
  readonly annotations: ToolAnnotations;
}

export interface ToolSpec<I, O, S = undefined> extends ToolInfo {
  readonly input: z.ZodType<I>;
  readonly output: z.ZodType<O>;
  resolve(args: I, ctx: ToolContext): Promise<Target<S>>;
  run(args: I, target: Target<S>, ctx: ToolContext): Promise<ToolRun<O>>;
}

/** A call whose target is resolved: the facts the decision needs, and the run they were resolved for. */
export interface ResolvedCall {
  readonly target: TargetFacts;
  run(ctx: ToolContext): Promise<ToolRun<unknown>>;
}

/** Arguments the tool's schema accepted, bound to the tool: the only way to reach resolve and run. */
export interface ParsedCall {
  resolve(ctx: ToolContext): Promise<ResolvedCall>;
}

/** A tool with its types erased, for a registry of tools with different inputs, outputs and states. */
export interface Tool extends ToolInfo {
  readonly input: z.ZodType;
  readonly output: z.ZodType;
  /** Validate raw arguments; the parsed value stays inside the tool, typed, from resolve to run. */
  parse(args: unknown): { success: true; call: ParsedCall } | { success: false; error: z.ZodError };
}

/**
 * Type-check a tool's hooks against its own schemas and state, then erase the types. No cast: the parsed
 * arguments and the resolved target are carried in closures, so run gets exactly what resolve produced.
 */
export function defineTool<I, O, S = undefined>(spec: ToolSpec<I, O, S>): Tool {
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    ...(spec.related ? { related: spec.related } : {}),
    operation: spec.operation,
    annotations: spec.annotations,
    input: spec.input,
    output: spec.output,
    parse(raw) {
      const parsed = spec.input.safeParse(raw);
      if (!parsed.success) return { success: false, error: parsed.error };
      const args = parsed.data;
      return {
        success: true,
        call: {
          async resolve(ctx) {
            const target = await spec.resolve(args, ctx);
            return { target, run: (runCtx) => spec.run(args, target, runCtx) };
          },
        },
      };
    },
  };
}
