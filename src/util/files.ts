import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** fsync a directory so a rename or a new file inside it survives a crash. Best effort where unsupported. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; the file itself is already synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface AtomicWriteOptions {
  mode?: number;
  /** Refuse to replace an existing file (never overwrite keys). */
  exclusive?: boolean;
}

/**
 * Write a whole file or nothing: write a temporary sibling, fsync it, rename it into place, fsync the folder.
 * A reader never sees a half-written file, and a crash leaves either the old or the new content.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  if (options.exclusive) {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, options.mode ?? 0o644);
    try {
      writeAll(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    fsyncDir(dir);
    return;
  }
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, options.mode ?? 0o644);
  try {
    try {
      writeAll(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    // Never leave the temporary copy behind: it may hold a secret (a token, a key).
    rmSync(tmp, { force: true });
    throw error;
  }
  fsyncDir(dir);
}

/** writeSync may write fewer bytes than asked; loop until all are written. */
export function writeAll(fd: number, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let offset = 0;
  while (offset < bytes.length) {
    offset += writeSync(fd, bytes, offset, bytes.length - offset);
  }
}
