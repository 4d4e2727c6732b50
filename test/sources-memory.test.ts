import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlightRecorder, Reader, validate, type EventOf, type TraceEvent } from '../src/index.js';
import { MemorySink } from './helpers/sinks.js';
import { eventsAfterStop } from './helpers/record.js';
import { waitFor } from './helpers/wait.js';

type Metric = EventOf<'metric'>;

const NAMES = ['memory.heapUsed', 'memory.heapTotal', 'memory.external', 'memory.arrayBuffers', 'memory.rss'];

function memoryMetrics(list: readonly TraceEvent[], name: string): Metric[] {
  return list.filter((e): e is Metric => e.kind === 'metric' && e.name === name);
}

test('memory usage is written every interval, in bytes, with plausible values', async () => {
  const interval = 40;
  const fr = new FlightRecorder({ level: 'none', sources: { memory: { interval } } });
  fr.start();
  let bytes: Buffer = Buffer.alloc(0);
  let list: TraceEvent[] = [];
  try {
    await waitFor(async () => {
      const sink = new MemorySink();
      await fr.writeTo(sink);
      bytes = sink.bytes();
      list = [...new Reader(bytes)];
      return memoryMetrics(list, 'memory.rss').length >= 8;
    }, 'eight memory samples');
  } finally {
    await fr.stop();
  }
  assert.deepEqual(validate(bytes), []);

  const samples = NAMES.map((name) => memoryMetrics(list, name));
  const count = samples[0].length;
  for (const [i, name] of NAMES.entries()) assert.equal(samples[i].length, count, `${name} in every sample`);
  const [heapUsed, heapTotal, external, arrayBuffers, rss] = samples;
  const current = process.memoryUsage();
  for (let k = 0; k < count; k++) {
    assert.ok(heapUsed[k].value > 0 && heapUsed[k].value <= heapTotal[k].value, `heapUsed <= heapTotal: ${heapUsed[k].value} ${heapTotal[k].value}`);
    assert.ok(arrayBuffers[k].value <= external[k].value, `arrayBuffers is part of external: ${arrayBuffers[k].value} ${external[k].value}`);
    assert.ok(rss[k].value > heapUsed[k].value, `rss holds the heap: ${rss[k].value}`);
    // Bytes, not kilobytes or megabytes: the same order of magnitude as a reading taken now.
    assert.ok(rss[k].value > current.rss / 16 && rss[k].value < current.rss * 16, `rss in bytes: ${rss[k].value} against ${current.rss}`);
    assert.ok(Number.isInteger(heapUsed[k].value) && Number.isInteger(rss[k].value));
  }

  // One sample at the start, then one per interval: never faster, and not far slower.
  const times = rss.map((m) => m.time);
  const elapsedMs = (times[times.length - 1] - times[0]) / 1e6;
  assert.ok(count - 1 <= elapsedMs / interval + 1, `no more often than every ${interval} ms: ${count} samples in ${elapsedMs} ms`);
  assert.ok(count - 1 >= elapsedMs / interval / 4, `not far less often than every ${interval} ms: ${count} samples in ${elapsedMs} ms`);
});

test('the memory source stops writing when stopped', async () => {
  const fr = new FlightRecorder({ level: 'none', sources: { memory: { interval: 5 } } });
  fr.start();
  await fr.stop();
  assert.equal(fr.status().sources.memory.state, 'off');
  // 20 of the old intervals.
  assert.deepEqual(memoryMetrics(await eventsAfterStop(100), 'memory.rss'), []);
});
