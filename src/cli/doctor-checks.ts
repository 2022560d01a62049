import type { ServerConfig } from '../config/server-config.js';
import type { JiraClient } from '../jira/client.js';
import { codeOf, describeError } from '../util/errors.js';
import { EXIT } from './io.js';

/** One row of `claw-jira doctor`'s table. */
export interface Check {
  check: string;
  status: 'ok' | 'warn' | 'FAIL';
  detail: string;
}

export type Add = (check: string, status: Check['status'], detail: string) => void;

/** One row per check, or the JSON form; exit 1 when any check failed. */
export function report(checks: Check[], json: boolean, io: { out(text: string): void }): number {
  const failed = checks.some((check) => check.status === 'FAIL');
  if (json) io.out(JSON.stringify({ ok: !failed, checks }));
  else {
    const width = Math.max(...checks.map((check) => check.check.length));
    for (const check of checks) io.out(`${check.status.padEnd(4)}  ${check.check.padEnd(width)}  ${check.detail}`);
    io.out(failed ? 'doctor: problems found' : 'doctor: all checks passed');
  }
  return failed ? EXIT.failed : EXIT.ok;
}

export async function checkJira(config: ServerConfig, jira: JiraClient, add: Add): Promise<void> {
  try {
    const me = await jira.myself();
    add('Jira auth', 'ok', `${config.jira?.baseUrl} as ${me.data.displayName ?? me.data.accountId}`);
    const info = await jira.serverInfo();
    const serverTime = (info.data as { serverTime?: unknown }).serverTime;
    if (typeof serverTime === 'string' && !Number.isNaN(Date.parse(serverTime))) {
      const skew = Math.round((Date.now() - Date.parse(serverTime)) / 1000);
      add('clock skew', Math.abs(skew) > config.clockSkewSeconds ? 'FAIL' : 'ok', `${skew}s against Jira (tolerance ${config.clockSkewSeconds}s)`);
    } else add('clock skew', 'warn', 'Jira did not report its time');
  } catch (error) {
    add('Jira auth', 'FAIL', `${codeOf(error, '')} ${describeError(error)}`.trim());
  }
}
