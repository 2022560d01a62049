import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The protocol's schemas and vectors, used by path from the shared folder (never copied into the repo). */
export const CLAW_SCHEMA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/claw/schema');

export function readClawJson<T = unknown>(relative: string): T {
  return JSON.parse(readFileSync(path.join(CLAW_SCHEMA_DIR, relative), 'utf8')) as T;
}
