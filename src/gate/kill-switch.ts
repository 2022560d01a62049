import { existsSync, readFileSync, rmSync } from 'node:fs';
import { z } from 'zod';
import { writeFileAtomic } from '../util/files.js';

/**
 * `claw-jira writes disable` drops a file; every write server checks for it at every write call. A file,
 * not a signal or a socket, so it works across any number of running servers without restarting them and
 * survives reboots until someone enables writes again.
 */
export const KillSwitchSchema = z.strictObject({
  disabled_at: z.string(),
  by: z.string(),
  reason: z.string().optional(),
});
export type KillSwitchState = z.infer<typeof KillSwitchSchema>;

export function readKillSwitch(file: string): KillSwitchState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return KillSwitchSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    // An unreadable or garbled kill switch still means "stop": fail closed.
    return { disabled_at: 'unknown', by: 'unknown', reason: 'kill switch file present but unreadable' };
  }
}

export function disableWrites(file: string, state: KillSwitchState): void {
  writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`);
}

export function enableWrites(file: string): boolean {
  if (!existsSync(file)) return false;
  rmSync(file);
  return true;
}
