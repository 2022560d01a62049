import { closeSync, existsSync, fchownSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync, chownSync, constants } from 'node:fs';
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

/** Every file claw-jira writes holds something only its owner should read (keys, tokens, ticket text, receipts). */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/**
 * The owner a file written by root should get: the owner of the folder it lands in. An admin running the CLI
 * through sudo into the `claw` user's home (approve, revoke, renew) must leave files that user can read.
 */
function inheritedOwner(dir: string): { uid: number; gid: number } | undefined {
  if (typeof process.geteuid !== 'function' || process.geteuid() !== 0) return undefined;
  try {
    const st = statSync(dir);
    return st.uid === 0 ? undefined : { uid: st.uid, gid: st.gid };
  } catch {
    return undefined;
  }
}

/** mkdir -p with 0700 for every folder it creates (each given the owner of the folder it was made in, under root). */
export function ensureDir(dir: string): void {
  if (existsSync(dir)) return;
  const created: string[] = [];
  let current = dir;
  while (!existsSync(current) && dirname(current) !== current) {
    created.unshift(current);
    current = dirname(current);
  }
  const owner = inheritedOwner(current);
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (owner) for (const path of created) chownSync(path, owner.uid, owner.gid);
}

export interface AtomicWriteOptions {
  /** Default 0600. */
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
  ensureDir(dir);
  const owner = inheritedOwner(dir);
  const mode = options.mode ?? PRIVATE_FILE_MODE;
  if (options.exclusive) {
    writeNewFile(path, data, mode, owner);
    fsyncDir(dir);
    return;
  }
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeNewFile(tmp, data, mode, owner);
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

/** Create `path` (never an existing file: O_EXCL), owned like its folder, with all of `data`, synced, closed. */
function writeNewFile(path: string, data: string | Uint8Array, mode: number, owner: ReturnType<typeof inheritedOwner>): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    if (owner) fchownSync(fd, owner.uid, owner.gid);
    writeAll(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
