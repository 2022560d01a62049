// Bundle each bin into one ES module file. Loading one file instead of ~300 modules cuts a server's cold
// start (spawn to first tools/list) by about 40%; the unbundled tsc output in dist/ stays for tests and
// for library use.
import { build } from 'esbuild';

const entries = {
  'claw-jira': 'dist/cli/bin.js',
  'claw-jira-read': 'dist/servers/read.js',
  'claw-jira-write': 'dist/servers/write.js',
  'bench-bypass-server': 'dist/bench/bypass-server.js',
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
