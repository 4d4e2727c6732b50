import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { FlightRecorder, trace } from '../src/index.js';
import { fmt, summarize, table } from './stats.js';

/** Measures how long the event loop is held, by the gaps between consecutive setImmediate turns. */
function watchLoop(): () => number {
  let last = performance.now();
  let worst = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return () => {
    running = false;
    return worst;
  };
}

class NullSink extends Writable {
  override _write(_chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    cb();
  }
}

/** `writeTo` of a full 10 MiB window: its duration and the longest event-loop block during it. */
export async function snapshotCost(): Promise<string> {
  const maxBytes = 10 * 1024 * 1024;
  const fr = new FlightRecorder({ maxBytes, minAge: 600_000 });
  fr.start();
  let i = 0;
  while (fr.status().bytes < maxBytes * 0.9) {
    for (let k = 0; k < 5000; k++, i++) trace.log('fill', `event ${i} of the window, with a payload like a real log line`);
    await new Promise((r) => setImmediate(r));
  }
  const dir = mkdtempSync(join(tmpdir(), 'nfr-bench-'));
  const rows: string[][] = [];
  try {
    for (const [name, makeSink] of [
      ['memory (discarding) stream', () => new NullSink()],
      ['file (fs.createWriteStream)', () => createWriteStream(join(dir, 'snapshot.nfrt'))],
    ] as const) {
      const durations: number[] = [];
      const blocks: number[] = [];
      let bytes = 0;
      for (let run = 0; run < 15; run++) {
        const sink = makeSink();
        const stopWatching = watchLoop();
        const t0 = performance.now();
        bytes = await fr.writeTo(sink);
        durations.push(performance.now() - t0);
        blocks.push(stopWatching());
        sink.end();
        await new Promise<void>((r) => sink.once('finish', () => r()));
      }
      rows.push([name, (bytes / 1048576).toFixed(2), fmt(summarize(durations)), fmt(summarize(blocks), 2), summarize(blocks).max.toFixed(2)]);
    }
  } finally {
    await fr.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return `### writeTo of a full 10 MiB window (15 runs each)\n\n${table(['destination', 'MiB', 'duration ms: median (p25–p75)', 'longest loop block ms: median (p25–p75)', 'longest loop block ms: max'], rows)}`;
}
