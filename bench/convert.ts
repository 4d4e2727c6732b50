import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { makeTrace } from './reader.js';
import { fmt, interleave, summarize, table } from './stats.js';

/**
 * The `convert` suite: `nfr convert --to perfetto` and `--to chrome` on a trace of about 100 MB
 * made by real recording (bench/reader.ts makeTrace), each run as a real child process writing
 * its output file, as a user runs it. Throughput is the input's size over the child's wall time
 * (start-up included); peak memory is the child's own maxRSS, written by a preloaded module at
 * exit. Targets: 50 MB/s or more, and a peak memory under twice the file plus 100 MB.
 */

const nfr = fileURLToPath(new URL('../src/cli/nfr.js', import.meta.url));
const RUNS = 5;

/** Preloaded into each child: writes its resource usage (maxRSS in KiB) to $NFR_BENCH_USAGE at exit. */
const USAGE_PROBE = 'data:text/javascript,import{writeFileSync}from"node:fs";process.on("exit",()=>writeFileSync(process.env.NFR_BENCH_USAGE,JSON.stringify(process.resourceUsage())))';

interface ChildRun {
  seconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
}

function runChild(args: string[], usageFile: string): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
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
      const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as { maxRSS: number; userCPUTime: number; systemCPUTime: number };
      resolve({ seconds, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6, maxRssBytes: usage.maxRSS * 1024 });
    });
  });
}

export async function convertThroughput(): Promise<string> {
  const bytes = await makeTrace(100);
  const dir = mkdtempSync(join(tmpdir(), 'nfr-bench-convert-'));
  const file = join(dir, 'trace.nfrt');
  writeFileSync(file, bytes);
  const size = bytes.length;
  const usageFile = join(dir, 'usage.json');
  const rss: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  const outputs: Record<string, number> = {};
  const formats = { 'nfr convert --to perfetto': 'perfetto', 'nfr convert --to chrome': 'chrome' } as const;
  try {
    const variants = Object.fromEntries(
      Object.entries(formats).map(([name, format]) => [
        name,
        async () => {
          const out = join(dir, `out.${format}`);
          const run = await runChild(['convert', file, '--to', format, '-o', out], usageFile);
          outputs[name] = statSync(out).size;
          rmSync(out, { force: true });
          (rss[name] ??= []).push(run.maxRssBytes / 1e6);
          (cpu[name] ??= []).push(size / 1e6 / run.cpuSeconds);
          return size / 1e6 / run.seconds;
        },
      ]),
    ) as Record<string, () => Promise<number>>;
    const results = await interleave(RUNS, variants);
    const limit = (2 * size) / 1e6 + 100;
    const rows = Object.entries(results).map(([name, mbps]) => {
      const throughput = summarize(mbps);
      const memory = summarize(rss[name]);
      const verdicts = [throughput.median >= 50 ? 'meets 50 MB/s' : 'MISSES 50 MB/s', memory.max < limit ? `under ${limit.toFixed(0)} MB` : `OVER ${limit.toFixed(0)} MB`];
      return [name, fmt(throughput, 1), fmt(summarize(cpu[name]), 1), fmt(memory, 0), `${(outputs[name] / 1e6).toFixed(0)} MB`, verdicts.join(', ')];
    });
    return `### nfr convert on a ${(size / 1e6).toFixed(0)} MB trace (${RUNS} interleaved runs, each a child process writing its output file, start-up included)\n\n${table(['command', 'MB/s (wall): median (p25–p75)', 'MB/s of CPU time', 'peak RSS MB: median (p25–p75)', 'output', 'target'], rows)}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
