import { z } from 'zod';
import { OPERATIONS } from './operations.js';

/**
 * WPC v1. Every object is strict: an unknown key is an error, because a typo ("fields_write_alowlist") must
 * never silently widen or narrow a policy. Every section but the header is optional and its absence is the
 * safe choice: no allow means nothing is allowed, no runtime means a CST is required and pinned.
 */
const projectKey = z.string().regex(/^[A-Z][A-Z0-9_]{0,254}$/, 'a Jira project key (upper case, e.g. ENG)');
const fieldId = z.string().min(1).max(255).regex(/^[^\s]+$/, 'a field id or name without spaces');
const issueType = z.string().min(1).max(255);
const operation = z.enum(OPERATIONS);
const count = z.number().int().min(0).max(1_000_000);

export const WpcSchema = z.strictObject({
  wpc_version: z.literal('v1'),
  tool: z.literal('jira'),
  connection_mode: z.array(z.enum(['official_api', 'mcp_server'])).optional(),
  environment: z.string().min(1).max(64).optional(),
  description: z.string().max(2000).optional(),
  allow: z
    .strictObject({
      projects: z.array(projectKey).default([]),
      operations: z.array(operation).default([]),
      issue_types: z.array(issueType).optional(),
      fields_write_allowlist: z.array(fieldId).default([]),
      fields_read: z.array(fieldId).optional(),
      /** Comments Jira restricts to a role or group reach the model (with the restriction shown); withheld if absent. */
      restricted_comments: z.boolean().optional(),
    })
    .default({ projects: [], operations: [], fields_write_allowlist: [] }),
  deny: z
    .strictObject({
      projects: z.array(projectKey).default([]),
      operations: z.array(operation).default([]),
      fields_write_denylist: z.array(fieldId).default([]),
      fields_read: z.array(fieldId).default([]),
    })
    .default({ projects: [], operations: [], fields_write_denylist: [], fields_read: [] }),
  runtime: z
    .strictObject({
      require_cst: z.boolean().default(true),
      cst_policy_hash_pin: z.boolean().default(true),
      max_ttl_seconds: z.number().int().min(1).max(86_400).default(900),
    })
    .default({ require_cst: true, cst_policy_hash_pin: true, max_ttl_seconds: 900 }),
  approval: z
    .strictObject({
      operations: z.array(operation).default([]),
      /** Operations for which an MCP elicitation from the user may stand in for a signed approval. */
      elicitation: z.array(operation).default([]),
      ttl_seconds: z.number().int().min(10).max(86_400).default(600),
    })
    .optional(),
  budgets: z
    .strictObject({
      max_creates: count.optional(),
      max_writes: count.optional(),
      max_comments: count.optional(),
    })
    .optional(),
  review: z
    .strictObject({
      max_issues_created: count.optional(),
      max_writes: count.optional(),
      max_denials: count.optional(),
      /** Flag budgets once usage reaches this fraction of the limit. */
      budget_warning_ratio: z.number().min(0).max(1).optional(),
    })
    .optional(),
});

/** The WPC as written (before defaults): what is signed and hashed. */
export type WpcInput = z.input<typeof WpcSchema>;
/** The WPC with defaults filled in: what the decision function reads. */
export type Wpc = z.output<typeof WpcSchema>;
