import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export type PathSetting = { ok: true; path: string } | { ok: false; message: string };

export interface PathOptions {
  /** The user's home for `~` (the process's HOME, else the OS's idea of it). */
  home?: string;
  /**
   * Resolve a relative path against this folder. Only the CLI passes one (a shell user means "here"); a
   * server's working folder is whatever the MCP client chose, so a relative path there is refused.
   */
  cwd?: string;
}

/**
 * A path from a setting. No shell expands `~` in an MCP client's `env` block, so `~` and `~/…` are expanded
 * here to the user's home; `~user/…` is refused (that user's home is not ours to guess).
 */
export function settingPath(value: string, options: PathOptions = {}): PathSetting {
  const text = value.trim();
  if (text === '~' || text.startsWith('~/')) {
    const home = options.home && options.home.trim() !== '' ? options.home : homedir();
    return { ok: true, path: resolve(join(home, text.slice(1))) };
  }
  if (text.startsWith('~')) return { ok: false, message: `starts with '${text.split('/')[0]}': only '~/' (your own home) is expanded; write the absolute path` };
  if (isAbsolute(text)) return { ok: true, path: resolve(text) };
  if (options.cwd !== undefined) return { ok: true, path: resolve(options.cwd, text) };
  return {
    ok: false,
    message: `is a relative path (${text.slice(0, 200)}): the server's working folder is the MCP client's choice, so write an absolute path (or ~/…)`,
  };
}
