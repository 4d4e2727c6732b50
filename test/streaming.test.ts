import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reader, trace, tracerStatus, validate } from '../src/index.js';
import { GatedSink, MemorySink } from './helpers/sinks.js';
import { waitFor } from './helpers/wait.js';

test('trace.start streams every generation until trace.stop', async () => {
  const sink = new MemorySink();
  trace.start(sink, { period: 10 });
  assert.equal(trace.isEnabled(), true);
  const start = tracerStatus().generation;
  for (let i = 0; i < 5; i++) {
    trace.log('step', String(i));
    const target = tracerStatus().generation + 1;
    await waitFor(() => tracerStatus().generation >= target, 'a generation to end');
  }
  await trace.stop();
  assert.equal(trace.isEnabled(), false);
  const bytes = sink.bytes();
  assert.deepEqual(validate(bytes), []);
  const events = [...new Reader(bytes)];
  const steps = events.flatMap((e) => (e.kind === 'log' ? [e.message] : []));
  assert.deepEqual(steps, ['0', '1', '2', '3', '4']);
  const generations = events.filter((e) => e.kind === 'sync' && !e.final).length;
  assert.ok(generations >= 5, `${generations} generations since generation ${start}`);
});

test('trace.stop without start is a no-op, and a stopped trace can start again', async () => {
  await trace.stop();
  const a = new MemorySink();
  trace.start(a);
  await trace.stop();
  const b = new MemorySink();
  trace.start(b);
  trace.log('second', 'run');
  await trace.stop();
  assert.deepEqual(validate(a.bytes()), []);
  assert.deepEqual(validate(b.bytes()), []);
});

test('a slow destination drops whole generations, records the loss, and memory stays bounded', async () => {
  const sink = new GatedSink();
  const maxPendingBytes = 512 * 1024;
  trace.start(sink, { period: 5, maxPendingBytes });
  const baseline = tracerStatus().poolBytesInUse;
  let peak = 0;
  // Write far more than the queue may hold while the destination accepts nothing.
  for (let round = 0; round < 60; round++) {
    for (let i = 0; i < 2000; i++) trace.log('load', `round ${round} message ${i} padded to take some room in the trace`);
    const target = tracerStatus().generation + 1;
    await waitFor(() => tracerStatus().generation >= target, 'a generation to end');
    peak = Math.max(peak, tracerStatus().poolBytesInUse);
  }
  const status = trace.status()!;
  assert.ok(status.generationsDropped > 0, 'some generations were dropped');
  assert.ok(status.pendingBytes <= maxPendingBytes + 4 * 1024 * 1024, `pending ${status.pendingBytes}`);
  assert.ok(peak - baseline < maxPendingBytes + 16 * 1024 * 1024, `trace memory peak ${peak - baseline} stays bounded`);
  const stopping = trace.stop();
  sink.release();
  await stopping;
  const bytes = sink.bytes();
  assert.deepEqual(validate(bytes), [], 'the gaps are explained by loss records');
  const lost = [...new Reader(bytes)].filter((e) => e.kind === 'generationsLost');
  assert.ok(lost.length > 0, 'the reader reports the loss');
  const dropped = lost.reduce((n, e) => n + (e.kind === 'generationsLost' ? e.count : 0), 0);
  assert.ok(dropped >= status.generationsDropped);
});

test('a destination error surfaces from trace.stop', async () => {
  const error = new Error('socket closed');
  let calls = 0;
  const sink = {
    write(_chunk: Uint8Array, callback?: (err?: Error | null) => void) {
      calls++;
      queueMicrotask(() => callback?.(calls > 1 ? error : null));
      return true;
    },
  };
  trace.start(sink, { period: 5 });
  trace.log('x', 'y');
  await waitFor(() => trace.status()?.error !== undefined, 'the destination to fail');
  assert.equal(tracerStatus().running, false, 'the failed trace stopped recording');
  await assert.rejects(trace.stop(), (err) => err === error);
});
