import type { CliIo } from '../../src/cli/io.js';

/** A CLI io that captures output, with its own environment and working directory. */
export function captureIo(env: Record<string, string | undefined>, cwd: string): CliIo & { stdout: string[]; stderr: string[]; text(): string } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    out: (text) => stdout.push(text),
    err: (text) => stderr.push(text),
    env: env as NodeJS.ProcessEnv,
    cwd,
    stdout,
    stderr,
    text: () => stdout.join('\n'),
  };
}
