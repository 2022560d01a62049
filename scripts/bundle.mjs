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

// The servers are long-running processes that allocate many short-lived objects per call. Measured with
// VmHWM (npm run bench), three V8 flags keep a server's peak RSS under 100 MB without capping its heap (a
// 10 MiB JSON-RPC message or Jira answer still gets all the heap it needs):
// - --max-semi-space-size=4: V8's default young generation (up to 3 x 16 MiB) keeps RSS near 110 MB. It was 2
//   while the servers used fetch; with node:http (no undici, no WebAssembly parser) the peak fell by 5-10 MB,
//   and 4 MB semi-spaces buy 15-27% more throughput at concurrency 8-32 for ~4 MB of that back (issue 13).
// - --heap-growing-percent=20: the old generation is collected when it has grown 20% past what survived the
//   last full GC, not V8's default of up to 4x; the live heap is ~20 MB, so garbage no longer piles up to
//   ~60 MB under concurrency 8-32 (read server 147-166 MB -> 92-102 MB peak).
// - --liftoff-only: Node's fetch compiles its HTTP parser (llhttp, WebAssembly) with TurboFan on first use, a
//   transient +20-30 MB of compiler memory. Jira calls no longer use fetch, but the registry, revocation URL and
//   Claw service clients (ky) still may; the baseline (Liftoff) code is fast enough. JavaScript is optimised as before.
// - MALLOC_ARENA_MAX=2 (glibc; ignored elsewhere): V8's GC and compiler threads each got a malloc arena of their
//   own, and memory freed there stays resident; two arenas cut the peak by another 6-7 MB at the same throughput.
// Flags can only be set before V8 starts, hence the shebang (env -S: Linux coreutils >= 8.30, macOS).
// Running `node dist/bin/claw-jira-read.mjs` skips it; mcp.json.example passes the same flags and variable.
import { readFileSync, writeFileSync } from 'node:fs';

const V8_FLAGS = '--max-semi-space-size=4 --heap-growing-percent=20 --liftoff-only';
for (const name of ['claw-jira-read', 'claw-jira-write']) {
  const file = `dist/bin/${name}.mjs`;
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace(/^#!.*\n/, `#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node ${V8_FLAGS}\n`), { mode: 0o755 });
}
