import { z } from 'zod';
import { OPERATIONS } from '../wpc/operations.js';

/**
 * What one token may do. The effective permission of a call is the intersection of this scope and the WPC in
 * force: a token can narrow a policy, never widen it.
 */
export const ScopeSchema = z.strictObject({
  operations: z.array(z.enum(OPERATIONS)).min(1),
  projects: z.array(z.string().regex(/^[A-Z][A-Z0-9_]{0,254}$/)).min(1),
  fields_write: z.array(z.string().min(1).max(255)).optional(),
  issue_types: z.array(z.string().min(1).max(255)).optional(),
});
export type Scope = z.infer<typeof ScopeSchema>;
