// Bundle each bin into one ES module file. Loading one file instead of ~300 modules cuts a server's cold
// start (spawn to first tools/list) by about 40%; the unbundled tsc output in dist/ stays for tests and
// for library use.
import { build } from 'esbuild';

const entries = {
  'claw-jira': 'dist/cli/bin.js',
  'claw-jira-read': 'dist/servers/read.js',
  'claw-jira-write': 'dist/servers/write.js',
  'bench-bypass-server': 'dist/bench/bypass-server.js',
  // Loaded by `bundle verify` as a worker thread; found next to the CLI bundle.
  'verify-worker': 'dist/bundle/verify-worker.js',
};

await build({
  entryPoints: entries,
  outdir: 'dist/bin',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  legalComments: 'eof',
  logLevel: 'warning',
  // CommonJS dependencies inside an ES module bundle need a require of their own.
  banner: { js: "import { createRequire as __clawCreateRequire } from 'node:module'; const require = __clawCreateRequire(import.meta.url);" },
});

// The servers are long-running processes that allocate many short-lived objects per call; V8's default
// young generation (up to 3 x 16 MiB) then keeps RSS near 110 MB. A 2 MiB semi-space keeps it near 80 MB
// with no measurable latency cost (npm run bench). Flags can only be set before V8 starts, hence the
// shebang (env -S: Linux coreutils >= 8.30, macOS). Running `node dist/bin/claw-jira-read.mjs` skips it.
import { readFileSync, writeFileSync } from 'node:fs';

for (const name of ['claw-jira-read', 'claw-jira-write']) {
  const file = `dist/bin/${name}.mjs`;
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace(/^#!.*\n/, '#!/usr/bin/env -S node --max-semi-space-size=2\n'), { mode: 0o755 });
}
