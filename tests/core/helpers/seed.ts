import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { WpcInput } from '../../../src/wpc/schema.js';

/** The seed example of issue 2, exactly as written there. */
export const SEED_WPC_TEXT =
  '{"wpc_version":"v1","tool":"jira","connection_mode":["official_api","mcp_server"],"allow":{"projects":["ENG","SEC"],"operations":["issue.search","issue.get","issue.create","issue.comment.create"],"fields_write_allowlist":["summary","description","labels","components"]},"deny":{"operations":["project.admin","issue.delete","issue.bulk_edit","workflow.transition"],"fields_write_denylist":["security","assignee","reporter","duedate"]},"runtime":{"require_cst":true,"cst_policy_hash_pin":true,"max_ttl_seconds":1800}}';

export const SEED_WPC_FILE = resolve(process.cwd(), 'wpc-examples/seed.json');

/** The shipped seed file when it exists (so the tests pin what users get), else the text. */
export function seedWpcText(): string {
  return existsSync(SEED_WPC_FILE) ? readFileSync(SEED_WPC_FILE, 'utf8') : SEED_WPC_TEXT;
}

export function seedWpc(): WpcInput {
  return JSON.parse(seedWpcText()) as WpcInput;
}
