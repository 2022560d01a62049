/**
 * What the gate hands a tool, built for a test: a recording client over the simulator, the parsed WPC, the
 * field catalogue and the effective projects. Tools run here exactly as inside the gate, without its stages.
 */
import type { Scope } from '../../src/cst/scope.js';
import { FieldCatalog } from '../../src/gate/field-catalog.js';
import { RecordingJira } from '../../src/gate/recording-jira.js';
import type { Tool, ToolContext, ToolRun, TargetFacts } from '../../src/gate/tool.js';
import { JiraClient, Secret } from '../../src/jira/index.js';
import { effectiveProjects } from '../../src/policy/effective.js';
import { SIM_USERS, type RunningSimulator } from '../../src/sim/index.js';
import { WpcSchema, type WpcInput } from '../../src/wpc/schema.js';

export function simClient(sim: RunningSimulator): JiraClient {
  return new JiraClient({ baseUrl: sim.url, auth: { kind: 'basic', email: SIM_USERS.agent.email, apiToken: new Secret(SIM_USERS.agent.apiToken) } });
}

export function toolContext(sim: RunningSimulator, wpc: WpcInput, scope?: Scope): ToolContext {
  const policy = WpcSchema.parse(wpc);
  return { jira: new RecordingJira(simClient(sim)), wpc: policy, scope, fields: new FieldCatalog(), projects: effectiveProjects(policy, scope) };
}

/** Parse, resolve and (unless `resolveOnly`) run one tool call the way the gate does, minus the decision. */
export async function runTool(tool: Tool, args: unknown, ctx: ToolContext): Promise<{ target: TargetFacts; run: ToolRun<unknown> }> {
  const parsed = tool.parse(args);
  if (!parsed.success) throw new Error(`invalid arguments: ${parsed.error.message}`);
  const resolved = await parsed.call.resolve(ctx);
  return { target: resolved.target, run: await resolved.run(ctx) };
}

export async function resolveTool(tool: Tool, args: unknown, ctx: ToolContext): Promise<TargetFacts> {
  const parsed = tool.parse(args);
  if (!parsed.success) throw new Error(`invalid arguments: ${parsed.error.message}`);
  return (await parsed.call.resolve(ctx)).target;
}
