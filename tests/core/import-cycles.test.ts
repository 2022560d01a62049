import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { importCycles, importGraph } from '../helpers/import-graph.js';
import { VERSION } from '../../src/version.js';
import { runCliCaptured } from '../helpers/cli.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

describe('the import graph of src/', () => {
  it('has no cycle, type-only and dynamic imports included', () => {
    expect(importCycles(importGraph(SRC))).toEqual([]);
  });

  it('is read: the CLI entry reaches the dispatcher, which imports no command', () => {
    const graph = importGraph(SRC);
    expect(graph.get('cli/main.ts')).toContain('cli/dispatch.ts');
    expect(graph.get('cli/demo.ts')).toContain('cli/dispatch.ts');
    expect(graph.get('cli/demo.ts')).not.toContain('cli/main.ts');
    expect([...(graph.get('cli/dispatch.ts') ?? [])].filter((f) => f.endsWith('-commands.ts') || f === 'cli/main.ts')).toEqual([]);
  });
});

describe('the cycle finder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'claw-cycles-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): void => {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  };

  it('finds cycles through a multi-line type import, a dynamic import, a re-export and a parent folder', () => {
    write('a.ts', "import type {\n  B,\n  C,\n} from './b.js';\nexport const a = 1;\n");
    write('b.ts', "export async function b() {\n  return (await import('./sub/c.js')).c;\n}\n");
    write('sub/c.ts', "export { a as c } from '../a.js';\n");
    write('d.ts', "import './e.js';\nimport { readFileSync } from 'node:fs';\n");
    write('e.ts', "import { d } from './d.js'; export const e = d;\n");
    // A commented-out import is no edge (it would make f.ts a self-cycle).
    write('f.ts', "import { a } from './a.js';\n// import { f } from './f.js';\nexport const f = a;\n");
    expect(importCycles(importGraph(dir))).toEqual([
      ['a.ts', 'b.ts', 'sub/c.ts'],
      ['d.ts', 'e.ts'],
    ]);
  });
});

describe('one version', () => {
  it('is package.json\'s, and the CLI prints it', async () => {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
    const { code, out } = await runCliCaptured(['--version'], {}, tmpdir());
    expect(code).toBe(0);
    expect(out).toBe(`claw-jira ${pkg.version}\n`);
  });
});
