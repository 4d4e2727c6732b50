import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { forEachEvent, Reader, readTrace, trace, tracerStatus } from '../src/index.js';
import { MemorySink } from '../test/helpers/sinks.js';
import { fmt, interleave, summarize, table } from './stats.js';

/** A trace of about `megabytes` MB with a realistic mix: tasks, regions, logs, metrics, ranges. */
export async function makeTrace(megabytes: number): Promise<Buffer> {
  const sink = new MemorySink();
  trace.start(sink);
  let i = 0;
  while (sink.chunks.reduce((n, c) => n + c.length, 0) + tracerStatus().poolBytesInUse < megabytes * 1e6) {
    for (let k = 0; k < 2000; k++, i++) {
      const task = trace.newTask('GET /users/:id');
      task.log('http', `request ${i} from 127.0.0.1`);
      task.withRegion('db.query', () => trace.metric('pool.size', k));
      trace.instant('cache', k % 3 === 0 ? 'miss' : 'hit');
      task.end();
    }
    await new Promise((r) => setImmediate(r));
  }
  await trace.stop();
  return sink.bytes();
}

export async function readerThroughput(): Promise<string> {
  const bytes = await makeTrace(100);
  const dir = mkdtempSync(join(tmpdir(), 'nfr-bench-'));
  const file = join(dir, 'trace.nfrt');
  writeFileSync(file, bytes);
  let events = 0;
  try {
    const results = await interleave(7, {
      'Reader (in memory)': () => {
        const t0 = performance.now();
        events = 0;
        for (const _ of new Reader(bytes)) events++;
        return bytes.length / 1e6 / ((performance.now() - t0) / 1000);
      },
      'readTrace (file stream, for await)': async () => {
        const t0 = performance.now();
        let n = 0;
        for await (const _ of readTrace(createReadStream(file, { highWaterMark: 1 << 20 }))) n++;
        return bytes.length / 1e6 / ((performance.now() - t0) / 1000);
      },
      'forEachEvent (file stream, callback)': async () => {
        const t0 = performance.now();
        let n = 0;
        await forEachEvent(createReadStream(file, { highWaterMark: 1 << 20 }), () => n++);
        return bytes.length / 1e6 / ((performance.now() - t0) / 1000);
      },
    });
    const rows = Object.entries(results).map(([name, v]) => [name, fmt(summarize(v), 0)]);
    const perEvent = (bytes.length / events).toFixed(1);
    return `### Reader throughput (${(bytes.length / 1e6).toFixed(0)} MB trace, ${(events / 1e6).toFixed(2)} M events, ${perEvent} bytes per event, 7 interleaved runs)\n\n${table(['reader', 'MB/s: median (p25–p75)'], rows)}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
