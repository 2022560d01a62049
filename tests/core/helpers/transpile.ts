import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { tempDir } from '../../helpers/env.js';

const CORE_FOLDERS = ['util', 'keys', 'config', 'wpc', 'cst', 'gate', 'receipts', 'claw'];

/**
 * Child processes must run the real modules, and `dist/` may be stale or absent when one folder's tests run.
 * So transpile the trust core (no type checking, one file at a time: fast) into a temporary folder that
 * resolves packages through a link to the project's node_modules. Returns that folder; remove it when done.
 */
export function transpileCore(): string {
  const out = tempDir('claw-core-dist-');
  const src = resolve(process.cwd(), 'src');
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  symlinkSync(resolve(process.cwd(), 'node_modules'), join(out, 'node_modules'), 'dir');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const target = join(out, relative(src, path)).replace(/\.ts$/, '.js');
        mkdirSync(resolve(target, '..'), { recursive: true });
        const { outputText } = ts.transpileModule(readFileSync(path, 'utf8'), {
          compilerOptions: {
            // ESM output whatever the surrounding package says: the imports already carry `.js`.
            module: ts.ModuleKind.ES2022,
            target: ts.ScriptTarget.ES2022,
            verbatimModuleSyntax: true,
          },
          fileName: path,
        });
        writeFileSync(target, outputText);
      }
    }
  };
  for (const folder of CORE_FOLDERS) walk(join(src, folder));
  return out;
}
