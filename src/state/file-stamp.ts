import { statSync } from 'node:fs';

/**
 * Inode, size, mtime and ctime of a file: what changes whenever the file is replaced or written (ctime cannot
 * be set back by a user), so a caller re-reads and re-verifies a file only when its stamp changed.
 * `missing` when there is no file, `error:<code>` when it cannot be looked at.
 */
export function fileStamp(file: string): string {
  try {
    const st = statSync(file, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'missing' : `error:${String(code)}`;
  }
}
