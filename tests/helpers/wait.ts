import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Poll until `check` gives a value (anything but undefined), bounded; throws naming `what` on timeout. For
 * waiting on another process or a server's side effect, never for asserting how fast it happens.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  { timeoutMs = 10_000, stepMs = 20 }: { timeoutMs?: number; stepMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Wait (bounded) until the process `pid` has ended; true when it has. A null pid has nothing to wait for. */
export async function waitForExit(pid: number | null, { timeoutMs = 10_000, stepMs = 25 }: { timeoutMs?: number; stepMs?: number } = {}): Promise<boolean> {
  if (pid === null) return true;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
}
