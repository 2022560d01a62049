import { JiraClient } from '../jira/client.js';
import { FieldCatalog } from '../gate/field-catalog.js';
import type { CallExecutor } from '../servers/factory.js';
import type { Tool, ToolContext } from '../gate/tool.js';
import { RecordingJira } from '../gate/recording-jira.js';
import { OPERATIONS } from '../wpc/operations.js';
import { WpcSchema } from '../wpc/schema.js';
import type { JiraAuth } from '../jira/auth.js';

/**
 * BENCHMARK ONLY. Runs a tool with no CST, no policy, no approval, no budget and no receipt, so the bench can
 * subtract it from the gated path and show what the gate costs. It lives in its own entry point
 * (bench/bypass-server.ts); no setting or variable of the shipped servers can reach it.
 */
export function bypassExecutor(baseUrl: string, auth: JiraAuth, projects: string[]): CallExecutor {
  const jira = new JiraClient({ baseUrl, auth });
  const fields = new FieldCatalog();
  const wpc = WpcSchema.parse({ wpc_version: 'v1', tool: 'jira', allow: { projects, operations: [...OPERATIONS] } });
  return {
    async permittedOperations() {
      return [...OPERATIONS];
    },
    async refuseUnknownTool(name: string) {
      return { code: 'TOOL_UNKNOWN', stage: 'config', message: `no tool ${name}`, reasons: [] };
    },
    async call(tool: Tool, raw: unknown) {
      const parsed = tool.parse(raw);
      if (!parsed.success) return { ok: false, denial: { code: 'INPUT_INVALID', stage: 'config', message: 'invalid', reasons: [] } };
      const ctx: ToolContext = { jira: new RecordingJira(jira), wpc, scope: undefined, fields, projects };
      const resolved = await parsed.call.resolve(ctx);
      const run = await resolved.run(ctx);
      return { ok: true, data: run.data, receipt: 'bypass', decision_receipt: 'bypass', outcome: 'succeeded' };
    },
  };
}
