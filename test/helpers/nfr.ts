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

/** Runs `node` with `args` as a child process. */
export function runNode(args: string[], options: { cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
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
