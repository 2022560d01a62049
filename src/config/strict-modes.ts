import { existsSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';

/** A path a server would trust but must not: named, with the stable code of what is wrong with it. */
export interface UnsafePath {
  code: 'UNSAFE_PERMISSIONS' | 'UNSAFE_OWNER';
  path: string;
  message: string;
}

export interface StrictModesOptions {
  /** The uid whose files these may be besides root (default: this process's effective uid). */
  uid?: number;
  /** Stop walking a recursive folder after this many entries (a long-lived replay store holds many). */
  maxEntries?: number;
}

export interface TrustedPath {
  path: string;
  /** Check everything below it too (state, approvals, registry). */
  recursive?: boolean;
}

/**
 * sshd's StrictModes for claw-jira: a file the server trusts (its keys, the trust file, its state) is only as
 * safe as every folder above it. Each must belong to the server's own user or root and be writable by no one
 * else, or another local user could replace it. A root-owned sticky folder (like /tmp) is allowed as a
 * parent: there nobody may rename or delete another user's entries.
 */
export function checkStrictModes(paths: readonly TrustedPath[], options: StrictModesOptions = {}): UnsafePath[] {
  if (process.platform === 'win32' || typeof process.geteuid !== 'function') return [];
  const uid = options.uid ?? process.geteuid();
  const limit = options.maxEntries ?? 5000;
  const found = new Map<string, UnsafePath>();
  const seen = new Set<string>();
  let entries = 0;

  const check = (path: string, st: Stats, asParent: boolean): void => {
    if (seen.has(path)) return;
    seen.add(path);
    const unsafe = unsafeStat(path, st, uid, asParent);
    if (unsafe) found.set(path, unsafe);
  };
  const checkParents = (path: string): void => {
    let current = dirname(path);
    for (;;) {
      try {
        check(current, statSync(current), true);
      } catch {
        // A parent we cannot stat: the path itself then cannot be opened either, which its own check reports.
      }
      const parent = dirname(current);
      if (parent === current) return;
      current = parent;
    }
  };
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (++entries > limit) return;
      const path = join(dir, name);
      try {
        const st = statSync(path);
        check(path, st, false);
        if (st.isDirectory()) walk(path);
      } catch {
        // Vanished while walking (a replay marker being written): nothing to trust there.
      }
    }
  };

  for (const { path, recursive } of paths) {
    if (!existsSync(path)) continue;
    // Both the path as named and where it really is (a symlink's target and that target's folders).
    let real = path;
    try {
      real = realpathSync(path);
    } catch {
      // Unresolvable: checked as named.
    }
    for (const candidate of new Set([path, real])) {
      try {
        check(candidate, statSync(candidate), false);
      } catch {
        continue;
      }
      checkParents(candidate);
    }
    if (recursive) walk(real);
  }
  return [...found.values()];
}

/** One path's verdict: owned by `uid` or root, writable by nobody else (a root-owned sticky parent excepted). */
export function unsafeStat(path: string, st: Stats, uid: number, asParent = false): UnsafePath | undefined {
  if (st.uid !== uid && st.uid !== 0) {
    return { code: 'UNSAFE_OWNER', path, message: `${path} belongs to uid ${st.uid}, not to this server's user (uid ${uid}) or root: chown it` };
  }
  const stickyRootDir = asParent && st.isDirectory() && (st.mode & 0o1000) !== 0 && st.uid === 0;
  if ((st.mode & 0o022) === 0 || stickyRootDir) return undefined;
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  return { code: 'UNSAFE_PERMISSIONS', path, message: `${path} is writable by group or others (mode ${mode}): chmod go-w it` };
}
