import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built `nfr` bin. */
export const nfrPath = fileURLToPath(new URL('../../src/cli/nfr.js', import.meta.url));

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `nfr` as a real child process and collects what it printed and its exit code. */
export function runNfr(args: string[], options: { cwd?: string } = {}): Promise<Run> {
  return runNode([nfrPath, ...args], options);
}

/**
 * Runs `node` with `args` as a child process; `env` is added to this process's environment. A
 * child still running after `timeoutMs` (default 60 s) is killed, so a test never hangs on one.
 */
export function runNode(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = options.env === undefined ? undefined : { ...process.env, ...options.env };
    const child = spawn(process.execPath, args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 60_000 });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') }));
  });
}

/** The lines of a text, without the empty last one. */
export function linesOf(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
