import { statSync, type BigIntStats } from 'node:fs';

/**
 * Inode, size, mtime and ctime of a file: what changes whenever the file is replaced or written (ctime cannot
 * be set back by a user), so a caller re-reads and re-verifies a file only when its stamp changed.
 * `missing` when there is no file, `error:<code>` when it cannot be looked at.
 */
export function fileStamp(file: string): string {
  try {
    return stampOf(statSync(file, { bigint: true }));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'missing' : `error:${String(code)}`;
  }
}

/** The stamp of stats already taken (for callers that also need the stat's own error or size). */
export function stampOf(st: BigIntStats): string {
  return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}
