import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClawError } from './util/errors.js';

/**
 * The package's version, read once from its package.json, so the CLI's `--version`, the servers' MCP
 * `serverInfo` and the Claw export's harness version cannot drift from what npm installed. The module runs
 * from src/ (tests), dist/ (tsc) or dist/bin/ (the esbuild bins), so the nearest package.json of this
 * package is looked up from here rather than at a fixed relative path; npm always installs package.json.
 */
/** The package is installed without its package.json: nothing can say which version runs. */
class InstallError extends ClawError {
  constructor(message: string) {
    super('INSTALL_INCOMPLETE', message);
    this.name = 'InstallError';
  }
}

function packageVersion(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from), up = 0; up < 4; dir = dirname(dir), up++) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
    if (pkg.name === 'claw-jira' && typeof pkg.version === 'string') return pkg.version;
  }
  throw new InstallError(`no package.json of claw-jira above ${from}: the installation is incomplete`);
}

export const VERSION = packageVersion();
