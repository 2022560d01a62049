import { isJiraError } from '../jira/errors.js';
import type { JiraExchange } from '../receipts/types.js';
import { ClawError } from '../util/errors.js';

const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'DELETE']);
/** POSTs that only read: a search is not a write. */
const READ_POSTS = /\/search\/(jql|approximate-count)/;

function isWriteExchange(exchange: JiraExchange): boolean {
  return WRITE_METHODS.has(exchange.method) && !READ_POSTS.test(exchange.path);
}

/**
 * Whether an allowed call that failed may nevertheless have changed Jira: the one classification, written as
 * `outcome.in_doubt` on the outcome receipt and read by review as that flag. In doubt when Jira gave no
 * complete answer to a write (the client says so), when Jira accepted a write and what failed came after it
 * (the read-back), or when an unexpected error struck once a write had been sent.
 */
export function isInDoubt(error: unknown, exchanges: readonly JiraExchange[]): boolean {
  if (isJiraError(error) && error.inDoubt) return true;
  const writes = exchanges.filter(isWriteExchange);
  if (writes.some((exchange) => exchange.status !== null && exchange.status >= 200 && exchange.status < 300)) return true;
  return !(error instanceof ClawError) && writes.length > 0;
}
