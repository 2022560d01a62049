import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/main.js';

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

export interface CliResult {
  code: number;
  /** Each line the command printed, newline-terminated. */
  out: string;
  err: string;
}

/** Run the admin CLI in process (the same dispatcher as the bin) with its own environment and folder. */
export async function runCliCaptured(argv: string[], env: Record<string, string | undefined>, cwd: string): Promise<CliResult> {
  let out = '';
  let err = '';
  const line = (text: string): string => (text.endsWith('\n') ? text : `${text}\n`);
  const code = await runCli(argv, { out: (text) => (out += line(text)), err: (text) => (err += line(text)), env: env as NodeJS.ProcessEnv, cwd });
  return { code, out, err };
}
