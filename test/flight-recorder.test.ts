import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlightRecorder, Reader, trace, tracerStatus, validate, type TraceEvent } from '../src/index.js';
import { traceNow } from '../src/tracer/clock.js';
import { failingSink, MemorySink } from './helpers/sinks.js';
import { waitFor } from './helpers/wait.js';

async function snapshot(fr: FlightRecorder): Promise<Buffer> {
  const sink = new MemorySink();
  const n = await fr.writeTo(sink);
  const bytes = sink.bytes();
  assert.equal(n, bytes.length, 'writeTo resolves to the bytes written');
  assert.ok(n >= 16);
  return bytes;
}

function events(bytes: Uint8Array): TraceEvent[] {
  return [...new Reader(bytes)];
}

function assertValid(bytes: Uint8Array): void {
  assert.deepEqual(validate(bytes), []);
}

async function generationsPass(count: number): Promise<void> {
  const target = tracerStatus().generation + count;
  await waitFor(() => tracerStatus().generation >= target, `${count} generations to pass`);
}

test('starting twice fails with ERR_FLIGHT_RECORDER_ACTIVE', async () => {
  const fr = new FlightRecorder();
  fr.start();
  assert.throws(() => fr.start(), { code: 'ERR_FLIGHT_RECORDER_ACTIVE' });
  await fr.stop();
});

test('enabled before start, after start, after stop', async () => {
  const fr = new FlightRecorder();
  assert.equal(fr.enabled, false);
  fr.start();
  assert.equal(fr.enabled, true);
  await fr.stop();
  assert.equal(fr.enabled, false);
  await fr.stop(); // stopping a stopped recorder is a no-op
});

test('writeTo before start and after stop fails with ERR_FLIGHT_RECORDER_DISABLED', async () => {
  const fr = new FlightRecorder();
  const sink = new MemorySink();
  await assert.rejects(fr.writeTo(sink), { code: 'ERR_FLIGHT_RECORDER_DISABLED' });
  fr.start();
  await fr.stop();
  await assert.rejects(fr.writeTo(sink), { code: 'ERR_FLIGHT_RECORDER_DISABLED' });
  assert.equal(sink.bytes().length, 0);
});

test('two concurrent writeTo: one succeeds, a failing one writes nothing, outputs validate', async () => {
  const fr = new FlightRecorder();
  fr.start();
  trace.log('test', 'before the snapshots');
  const sinks = [new MemorySink(), new MemorySink()];
  const results = await Promise.allSettled(sinks.map((s) => fr.writeTo(s)));
  await fr.stop();
  let successes = 0;
  results.forEach((r, i) => {
    const bytes = sinks[i].bytes();
    if (r.status === 'fulfilled') {
      successes++;
      assert.equal(r.value, bytes.length);
      assertValid(bytes);
    } else {
      assert.equal((r.reason as { code: string }).code, 'ERR_SNAPSHOT_IN_PROGRESS');
      assert.equal(bytes.length, 0, 'the failing writeTo wrote nothing');
    }
  });
  assert.ok(successes >= 1);
});

test('a snapshot of a fresh recorder is a valid one-generation trace', async () => {
  const fr = new FlightRecorder();
  fr.start();
  const bytes = await snapshot(fr);
  await fr.stop();
  assertValid(bytes);
  const syncs = events(bytes).filter((e) => e.kind === 'sync');
  assert.equal(syncs.length, 2);
});

test('start and stop five times on one recorder, each snapshot valid', async () => {
  const fr = new FlightRecorder();
  for (let i = 0; i < 5; i++) {
    fr.start();
    trace.log('round', String(i));
    const bytes = await snapshot(fr);
    await fr.stop();
    assertValid(bytes);
    assert.ok(events(bytes).some((e) => e.kind === 'log' && e.message === String(i)));
  }
});

test('a trace.log made just before a snapshot is in it', async () => {
  const fr = new FlightRecorder();
  fr.start();
  trace.log('message', 'hello');
  const bytes = await snapshot(fr);
  await fr.stop();
  const found = events(bytes).some((e) => e.kind === 'log' && e.category === 'message' && e.message === 'hello');
  assert.ok(found, 'the log is in the snapshot');
});

test('maxBytes: 16 keeps one generation: exactly two syncs, first and last', async () => {
  const fr = new FlightRecorder({ maxBytes: 16, period: 20 });
  fr.start();
  trace.log('filler', 'x');
  await generationsPass(3);
  const bytes = await snapshot(fr);
  await fr.stop();
  assertValid(bytes);
  const all = events(bytes);
  const syncAt = all.flatMap((e, i) => (e.kind === 'sync' ? [i] : []));
  assert.deepEqual(syncAt, [0, all.length - 1]);
});

test('a streaming trace and a flight recorder at once: both valid, the full trace longer', async () => {
  const full = new MemorySink();
  trace.start(full);
  const fr = new FlightRecorder({ maxBytes: 16 });
  fr.start();
  trace.log('both', 'see this');
  const snap = await snapshot(fr);
  await fr.stop();
  await trace.stop();
  const fullBytes = full.bytes();
  assertValid(fullBytes);
  assertValid(snap);
  assert.ok(fullBytes.length > snap.length, `full ${fullBytes.length} > snapshot ${snap.length}`);
  assert.throws(() => {
    trace.start(full);
    trace.start(full);
  }, { code: 'ERR_TRACE_ACTIVE' });
  await trace.stop();
});

test('two flight recorders with different windows, each right', async () => {
  const narrow = new FlightRecorder({ maxBytes: 16, period: 20 });
  const wide = new FlightRecorder({ minAge: 60_000, period: 20 });
  narrow.start();
  wide.start();
  trace.log('marker', 'early');
  await generationsPass(3);
  trace.log('marker', 'late');
  const [narrowBytes, wideBytes] = [await snapshot(narrow), await snapshot(wide)];
  await narrow.stop();
  await wide.stop();
  assertValid(narrowBytes);
  assertValid(wideBytes);
  const markers = (b: Uint8Array) => events(b).flatMap((e) => (e.kind === 'log' && e.category === 'marker' ? [e.message] : []));
  assert.deepEqual(markers(wideBytes), ['early', 'late']);
  assert.deepEqual(markers(narrowBytes), ['late']);
  assert.ok(events(wideBytes).filter((e) => e.kind === 'sync').length >= 4);
});

test('the window drops generations older than minAge', async () => {
  const fr = new FlightRecorder({ minAge: 100, period: 20 });
  fr.start();
  trace.log('marker', 'old');
  const loggedAt = traceNow();
  await waitFor(() => fr.status().windowStart > loggedAt, 'the window to move past the marker');
  const bytes = await snapshot(fr);
  await fr.stop();
  assertValid(bytes);
  const all = events(bytes);
  assert.ok(!all.some((e) => e.kind === 'log' && e.message === 'old'));
  const span = (all[all.length - 1].time - all[0].time) / 1e6;
  assert.ok(span >= 100, `the window still covers minAge (${span.toFixed(1)} ms)`);
});

test('the window drops generations past maxBytes and trace memory stays bounded', async () => {
  const maxBytes = 256 * 1024;
  const fr = new FlightRecorder({ maxBytes, period: 1000 });
  fr.start();
  const base = tracerStatus().poolBytesInUse;
  let peak = 0;
  // About 40 MB of log events, far more than the window: generations end early by size.
  for (let i = 0; i < 400_000; i++) {
    trace.log('bulk', `message number ${i} with some padding to make it longer than usual`);
    if (i % 10_000 === 0) peak = Math.max(peak, tracerStatus().poolBytesInUse);
  }
  const status = fr.status();
  assert.ok(status.bytes <= maxBytes || status.generations === 1, `window ${status.bytes} bytes in ${status.generations} generations`);
  assert.ok(peak - base < 4 * maxBytes + 32 * 1024 * 1024, `peak trace memory ${peak} stays bounded`);
  const bytes = await snapshot(fr);
  await fr.stop();
  assertValid(bytes);
  assert.ok(bytes.length <= maxBytes + 2 * 1024 * 1024, `snapshot of ${bytes.length} bytes`);
  const logs = events(bytes).filter((e) => e.kind === 'log');
  assert.ok(logs.length > 0);
  assert.match((logs[logs.length - 1] as { message: string }).message, /message number 399999 /);
});

test('a destination that fails rejects writeTo with its error; the recorder keeps running', async () => {
  const fr = new FlightRecorder();
  fr.start();
  const error = new Error('disk on fire');
  await assert.rejects(fr.writeTo(failingSink(error)), (err) => err === error);
  assert.equal(fr.enabled, true);
  trace.log('after', 'failure');
  const bytes = await snapshot(fr);
  await fr.stop();
  assertValid(bytes);
  assert.ok(events(bytes).some((e) => e.kind === 'log' && e.category === 'after'));
  assert.equal(fr.status().snapshotErrors, 1);
});

test('stop() waits for a writeTo in flight', async () => {
  const fr = new FlightRecorder();
  fr.start();
  const sink = new MemorySink();
  const writing = fr.writeTo(sink);
  await fr.stop();
  const n = await writing;
  assert.equal(n, sink.bytes().length);
  assertValid(sink.bytes());
});

test('bad options and destinations are typed errors', async () => {
  assert.throws(() => new FlightRecorder({ maxBytes: -1 }), { code: 'ERR_INVALID_OPTION', message: /maxBytes/ });
  assert.throws(() => new FlightRecorder({ minAge: 'ten' as never }), { code: 'ERR_INVALID_OPTION', message: /minAge/ });
  assert.throws(() => new FlightRecorder({ maxbytes: 10 } as never), { code: 'ERR_INVALID_OPTION', message: /maxbytes/ });
  assert.throws(() => new FlightRecorder(42 as never), { code: 'ERR_INVALID_OPTION' });
  const fr = new FlightRecorder();
  fr.start();
  await assert.rejects(fr.writeTo({} as never), { code: 'ERR_INVALID_DESTINATION' });
  await assert.rejects(fr.writeTo(null as never), { code: 'ERR_INVALID_DESTINATION' });
  await fr.stop();
  assert.throws(() => trace.start({} as never), { code: 'ERR_INVALID_DESTINATION' });
});

test('the tracer stops when the last subscriber leaves', async () => {
  const fr = new FlightRecorder();
  fr.start();
  assert.equal(trace.isEnabled(), true);
  await fr.stop();
  assert.equal(trace.isEnabled(), false);
  assert.equal(tracerStatus().running, false);
});
