import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { summarize, table } from '../stats.js';
import { progress, runLoad, ServerProcess, setting } from './harness.js';
import type { ServerStatus } from './protocol.js';
import { traceFacts } from './trace-facts.js';

const MiB = 1024 * 1024;

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/**
 * The `memory` suite (issue 3): a FlightRecorder with maxBytes 10 MiB at the default level, in the
 * load benchmark's server under the same load for 2 minutes. Samples trace memory and the heap
 * (after a forced GC) every few seconds: trace memory must stay under maxBytes plus two
 * generations, and the heap must not grow.
 */
export async function memoryBenchmark(): Promise<string> {
  const seconds = setting('NFR_MEMORY_SECONDS', 120);
  const every = setting('NFR_MEMORY_SAMPLE_SECONDS', 5);
  const connections = setting('NFR_LOAD_CONNECTIONS', 20);
  // minAge far beyond the run, so that maxBytes alone bounds the window.
  const server = await ServerProcess.start({ variant: 'default', exposeGc: true, minAge: 3_600_000 });
  const samples: { t: number; s: ServerStatus }[] = [];
  try {
    const t0 = performance.now();
    let loading = true;
    const load = runLoad({ port: server.port, connections, duration: seconds }).finally(() => {
      loading = false;
    });
    while (loading) {
      await Promise.race([new Promise((r) => setTimeout(r, every * 1000)), load]);
      if (!loading) break;
      const s = await server.status(true);
      samples.push({ t: (performance.now() - t0) / 1000, s });
      progress(`memory: ${samples[samples.length - 1].t.toFixed(0)} s: trace ${(s.recorder!.poolBytesInUse / MiB).toFixed(2)} MiB, heap ${(s.memory.heapUsed / MiB).toFixed(2)} MiB`);
    }
    const result = await load;
    const snapshotFile = join(server.dir, 'window.nfrt');
    await server.ask({ cmd: 'snapshot', file: snapshotFile });
    const facts = traceFacts(readFileSync(snapshotFile));

    const maxBytes = samples[0]?.s.recorder?.maxBytes ?? 10 * MiB;
    const averageGeneration = Math.max(...samples.map(({ s }) => s.recorder!.windowBytes / Math.max(1, s.recorder!.generations)));
    const largestGeneration = Math.max(averageGeneration, ...facts.generationBytes);
    const bound = maxBytes + 2 * largestGeneration;
    const maxTrace = Math.max(...samples.map(({ s }) => s.recorder!.poolBytesInUse));
    const maxWindow = Math.max(...samples.map(({ s }) => s.recorder!.windowBytes));
    const third = Math.max(1, Math.floor(samples.length / 3));
    const heap = samples.map(({ s }) => s.memory.heapUsed);
    const firstThird = summarize(heap.slice(0, third)).median;
    const lastThird = summarize(heap.slice(-third)).median;
    const heapSlope = slope(
      samples.map(({ t }) => t / 60),
      heap.map((h) => h / MiB),
    );
    const full = samples.filter(({ s }) => s.recorder!.windowBytes >= 0.9 * maxBytes);
    const fullSlope = full.length >= 3 ? slope(full.map(({ t }) => t / 60), full.map(({ s }) => s.memory.heapUsed / MiB)) : NaN;
    const eventsLost = samples[samples.length - 1]?.s.recorder?.eventsLost ?? 0;
    const sourceStates = Object.entries(samples[samples.length - 1]?.s.recorder?.sources ?? {})
      .filter(([, st]) => st.state !== 'off')
      .map(([name, st]) => `${name} ${st.state}`)
      .join(', ');

    const rows = samples.map(({ t, s }) => [
      t.toFixed(0),
      (s.recorder!.poolBytesInUse / MiB).toFixed(2),
      (s.recorder!.windowBytes / MiB).toFixed(2),
      s.recorder!.generations,
      (s.memory.heapUsed / MiB).toFixed(2),
      (s.memory.rss / MiB).toFixed(1),
      (s.memory.external / MiB).toFixed(1),
    ]);
    const heapFlat = lastThird <= firstThird * 1.05;
    const filled = maxWindow >= 0.9 * maxBytes;
    return [
      `### Memory under load: FlightRecorder maxBytes 10 MiB, level default, ${seconds} s (${result.rps.toFixed(0)} req/s, ${connections} connections)`,
      '',
      `Sampled every ${every} s after a forced GC (server run with --expose-gc). Trace memory is tracerStatus().poolBytesInUse: every 64 KiB chunk of trace memory in use, the window plus the generation being written. minAge is set to an hour so that maxBytes alone bounds the window. Sources: ${sourceStates}; events lost: ${eventsLost}.`,
      '',
      table(['s', 'trace memory MiB', 'window MiB', 'generations', 'heapUsed MiB', 'rss MiB', 'external MiB'], rows),
      '',
      '| target | measured | verdict |',
      '| --- | --- | --- |',
      `| trace memory ≤ maxBytes + 2 generations | max ${(maxTrace / MiB).toFixed(2)} MiB ≤ ${(bound / MiB).toFixed(2)} MiB (10 MiB + 2 × ${(largestGeneration / 1024).toFixed(0)} KiB, the largest generation seen); window max ${(maxWindow / MiB).toFixed(2)} MiB | ${maxTrace <= bound ? 'met' : '**missed**'} |`,
      ...(filled ? [] : [`| (the window never came near maxBytes: this load writes too little for the maxBytes bound to be exercised) | window max ${(maxWindow / MiB).toFixed(2)} MiB | — |`]),
      `| heap does not grow | heapUsed median ${(firstThird / MiB).toFixed(2)} MiB in the first third, ${(lastThird / MiB).toFixed(2)} MiB in the last (${lastThird >= firstThird ? '+' : '−'}${Math.abs((lastThird / firstThird - 1) * 100).toFixed(1)}%); slope ${heapSlope.toFixed(3)} MiB/min over the run, ${Number.isNaN(fullSlope) ? 'n/a' : fullSlope.toFixed(3)} MiB/min once the window was full (${full.length} samples) | ${heapFlat ? 'met' : '**missed**'} |`,
    ].join('\n');
  } finally {
    await server.stop();
  }
}
