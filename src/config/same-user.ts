import { readFileSync } from 'node:fs';

export type ParentUser =
  | { kind: 'same'; uid: number; ppid: number }
  | { kind: 'separate'; uid: number; parentUid: number; ppid: number }
  | { kind: 'unknown'; reason: string };

/**
 * Whether this process runs as the same OS user as the process that started it (the MCP client, or the
 * agent's shell). If so, anything the agent runs can read this server's secrets, whatever the gate decides.
 * Linux only (/proc/<ppid>/status, `Uid:` real uid); elsewhere the answer is "unknown".
 */
export function parentUser(ppid: number = process.ppid, readStatus: (pid: number) => string = (pid) => readFileSync(`/proc/${pid}/status`, 'utf8')): ParentUser {
  if (typeof process.getuid !== 'function') return { kind: 'unknown', reason: 'this platform has no uids' };
  const uid = process.getuid();
  let status: string;
  try {
    status = readStatus(ppid);
  } catch {
    return { kind: 'unknown', reason: `cannot read /proc/${ppid}/status` };
  }
  const match = /^Uid:\s+(\d+)/m.exec(status);
  if (!match) return { kind: 'unknown', reason: `no Uid line in /proc/${ppid}/status` };
  const parentUid = Number(match[1]);
  return parentUid === uid ? { kind: 'same', uid, ppid } : { kind: 'separate', uid, parentUid, ppid };
}
