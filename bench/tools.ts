import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Reader } from '../src/index.js';
import { makeTrace } from './reader.js';
import { fmt, interleave, summarize, table } from './stats.js';

/**
 * The `tools` suite: `nfr stats`, `nfr findings`, `nfr dump` and `nfr validate` on a trace of
 * about 100 MB made by real recording (bench/reader.ts makeTrace), each run as a real child
 * process, as a user runs it. Throughput is the file's size over the child's wall time (start-up
 * included); peak memory is the child's own maxRSS, written by a preloaded module when it exits.
 * Targets: `nfr stats` at 50 MB/s or more, and a peak memory under twice the file plus 100 MB.
 */

const nfr = fileURLToPath(new URL('../src/cli/nfr.js', import.meta.url));
const RUNS = 5;

/** Preloaded into each child: writes its resource usage (maxRSS in KiB) to $NFR_BENCH_USAGE at exit. */
const USAGE_PROBE = 'data:text/javascript,import{writeFileSync}from"node:fs";process.on("exit",()=>writeFileSync(process.env.NFR_BENCH_USAGE,JSON.stringify(process.resourceUsage())))';

interface ChildRun {
  seconds: number;
  maxRssBytes: number;
}

function runChild(args: string[], usageFile: string): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // Output goes to /dev/null, as with `nfr dump big.nfrt > out.txt`, so the figure is the tool's.
    const child = spawn(process.execPath, ['--import', USAGE_PROBE, nfr, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NFR_BENCH_USAGE: usageFile } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) {
        reject(new Error(`nfr ${args.join(' ')} exited with ${code}: ${stderr}`));
        return;
      }
      const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as { maxRSS: number };
      resolve({ seconds, maxRssBytes: usage.maxRSS * 1024 });
    });
  });
}

export async function toolsThroughput(): Promise<string> {
  const bytes = await makeTrace(100);
  const dir = mkdtempSync(join(tmpdir(), 'nfr-bench-tools-'));
  const file = join(dir, 'trace.nfrt');
  writeFileSync(file, bytes);
  const size = bytes.length;
  const usageFile = join(dir, 'usage.json');
  const rss: Record<string, number[]> = {};
  const commands: Record<string, string[]> = {
    'nfr stats': ['stats', file],
    'nfr findings': ['findings', file],
    'nfr dump (to /dev/null)': ['dump', file],
    'nfr validate': ['validate', file],
  };
  try {
    const variants = Object.fromEntries(
      Object.entries(commands).map(([name, args]) => [
        name,
        async () => {
          const run = await runChild(args, usageFile);
          (rss[name] ??= []).push(run.maxRssBytes / 1e6);
          return size / 1e6 / run.seconds;
        },
      ]),
    ) as Record<string, () => Promise<number>>;
    const results = await interleave(RUNS, variants);
    const limit = (2 * size) / 1e6 + 100;
    const rows = Object.entries(results).map(([name, mbps]) => {
      const throughput = summarize(mbps);
      const memory = summarize(rss[name]);
      const verdicts: string[] = [];
      if (name === 'nfr stats') verdicts.push(throughput.median >= 50 ? 'meets 50 MB/s' : 'MISSES 50 MB/s');
      verdicts.push(memory.max < limit ? `under ${limit.toFixed(0)} MB` : `OVER ${limit.toFixed(0)} MB`);
      return [name, fmt(throughput, 1), fmt(memory, 0), verdicts.join(', ')];
    });
    let events = 0;
    for (const _ of new Reader(bytes)) events++;
    return `### Tools on a ${(size / 1e6).toFixed(0)} MB trace (${(events / 1e6).toFixed(2)} M events; ${RUNS} interleaved runs, each a child process, start-up included)\n\n${table(['command', 'MB/s: median (p25–p75)', 'peak RSS MB: median (p25–p75)', 'target'], rows)}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
