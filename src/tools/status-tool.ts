import { z } from 'zod';
import type { ToolAnnotations } from '../gate/tool.js';

/**
 * The one tool that is always listed and always allowed, on both servers: it reports whether the server can
 * serve calls and, if not, why and what to run. It reads only local state (no Jira call), so it works exactly
 * when everything else is refused: no token, an expired one, a wrong WPC, a broken home.
 */
export const STATUS_TOOL_NAME = 'jira_get_server_status';

const ProblemSchema = z.strictObject({ code: z.string(), message: z.string(), fix: z.string() });

const StatusOutputSchema = z.strictObject({
  server: z.string(),
  ready: z.boolean().describe('True when calls can be served; false means every other call is refused (see problems)'),
  problems: z.array(ProblemSchema).describe('Why the server is not ready, each with what a person runs or sets to fix it'),
  job: z.string().nullable(),
  wpc_hash: z.string().nullable().describe('sha256 address of the WPC in force'),
  token: z.strictObject({
    source: z.string(),
    sub: z.string().optional().describe('Who the verified token was issued to'),
    jti: z.string().optional(),
    expires_at: z.string().optional(),
    remaining_seconds: z.number().optional().describe('Negative once expired'),
    valid: z.boolean(),
  }),
  writes: z.enum(['enabled', 'disabled']).describe('The kill switch (claw-jira writes disable|enable)'),
  kill_switch: z.strictObject({ disabled_at: z.string(), by: z.string(), reason: z.string().optional() }).optional(),
  operations: z.array(z.string()).describe('Operations the WPC and token permit now; their tools are listed'),
});

export const statusTool = {
  name: STATUS_TOOL_NAME,
  title: 'Server status (claw-jira)',
  description:
    'Report whether this claw-jira server is ready: the policy (WPC) hash, the token subject and its remaining lifetime, ' +
    'the job, the kill switch, the operations allowed now, and for each problem what a person must run to fix it. ' +
    'Makes no Jira call and is always allowed. Call it when other tools are missing or refused with a setup code.',
  input: z.strictObject({}),
  output: StatusOutputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } satisfies ToolAnnotations,
} as const;
