import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

/**
 * The sources transpiled to plain ESM JavaScript (no type check), for what a TypeScript test runner cannot run
 * in-process: worker threads and child processes. Written under test-output/ (inside the project, so
 * node_modules and "type": "module" apply); removed by `dispose`.
 */
export interface CompiledTree {
  root: string;
  url(srcRelative: string): URL;
  path(srcRelative: string): string;
  dispose(): void;
}

export function compileSources(): CompiledTree {
  const project = process.cwd();
  const root = resolve(project, 'test-output', `js-${process.pid}-${Date.now()}`);
  const src = join(project, 'src');
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const full = join(dir, name);
      return statSync(full).isDirectory() ? walk(full) : name.endsWith('.ts') ? [full] : [];
    });
  for (const file of walk(src)) {
    const out = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, sourceMap: false },
    });
    const target = join(root, relative(src, file)).replace(/\.ts$/, '.js');
    mkdirSync(join(target, '..'), { recursive: true });
    writeFileSync(target, out.outputText);
  }
  return {
    root,
    path: (p) => join(root, p),
    url: (p) => pathToFileURL(join(root, p)),
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
}
