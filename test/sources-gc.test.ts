import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Reader, validate, type EventOf, type TraceEvent } from '../src/index.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;
const clockUrl = new URL('../src/tracer/clock.js', import.meta.url).href;
const sinksUrl = new URL('./helpers/sinks.js', import.meta.url).href;

type Range = EventOf<'range'>;

function gcRanges(list: readonly TraceEvent[]): Range[] {
  return list.filter((e): e is Range => e.kind === 'range' && e.category === 'gc');
}

/**
 * A child process with `--expose-gc` records only the gc source, forces three full collections
 * (noting in trace time when each call began and returned) between bursts of allocation, takes
 * snapshots until its three forced collections are in one, and writes that snapshot and the
 * call times to files.
 */
const childScript = `
  import { writeFileSync } from 'node:fs';
  import { FlightRecorder, Reader } from ${JSON.stringify(indexUrl)};
  import { traceNow } from ${JSON.stringify(clockUrl)};
  import { MemorySink } from ${JSON.stringify(sinksUrl)};
  const [tracePath, callsPath] = process.argv.slice(-2);
  const fr = new FlightRecorder({ level: 'none', sources: { gc: true } });
  fr.start();
  const calls = [];
  let keep = [];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 20000; j++) keep.push({ j, s: 'x'.repeat(j % 50) });
    keep = [];
    const before = traceNow();
    globalThis.gc();
    calls.push({ before, after: traceNow() });
    await new Promise((resolve) => setImmediate(resolve));
  }
  const deadline = Date.now() + 20000;
  let bytes;
  for (;;) {
    const sink = new MemorySink();
    await fr.writeTo(sink);
    bytes = sink.bytes();
    const forced = [...new Reader(bytes)].filter((e) => e.kind === 'range' && e.category === 'gc' && e.detail.includes('forced'));
    if (forced.length >= 3 || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await fr.stop();
  writeFileSync(tracePath, bytes);
  writeFileSync(callsPath, JSON.stringify(calls));
`;

test('garbage collections are ranges at their real start, with kind, flags and duration', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nfr-gc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tracePath = join(dir, 'gc.nfrt');
  const callsPath = join(dir, 'calls.json');
  const out = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', childScript, tracePath, callsPath], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(out.status, 0, out.stderr);
  const bytes = readFileSync(tracePath);
  const calls = JSON.parse(readFileSync(callsPath, 'utf8')) as { before: number; after: number }[];
  assert.deepEqual(validate(bytes), []);

  const list = [...new Reader(bytes)];
  const syncs = list.filter((e) => e.kind === 'sync');
  const windowStart = syncs[0].time;
  const windowEnd = syncs[syncs.length - 1].time;
  const ranges = gcRanges(list);
  assert.ok(ranges.length >= 3, `the collections are recorded, got ${ranges.length}`);
  for (const r of ranges) {
    assert.ok(['minor', 'major', 'incremental', 'weakcb'].includes(r.name), `a known kind: ${r.name}`);
    assert.ok(r.duration > 0 && r.duration < 1e9, `a plausible duration: ${r.duration} ns`);
    assert.ok(r.time >= windowStart && r.time + r.duration <= windowEnd, `inside the trace window: ${r.time} in [${windowStart}, ${windowEnd}]`);
  }
  const times = ranges.map((r) => r.time);
  assert.deepEqual(times, [...times].sort((a, b) => a - b), 'in order of their start');

  const forced = ranges.filter((r) => r.detail.split(',').includes('forced'));
  assert.equal(forced.length, 3, 'one forced collection per gc() call');
  for (const [i, r] of forced.entries()) {
    assert.equal(r.name, 'major', 'gc() is a full collection');
    // Each lies within its gc() call: placed at its real start, not when the observer delivered it.
    const call = calls[i];
    assert.ok(r.time >= call.before - 1e6 && r.time + r.duration <= call.after + 1e6, `collection ${i} within its call: [${r.time}, ${r.time + r.duration}] in [${call.before}, ${call.after}]`);
  }
});

test('the gc source records nothing after stop, and keeps no process alive', () => {
  // Stops a gc recording, then records annotations only while collections happen and Node
  // delivers them (seen by an observer of the script's own): a gc observer left connected
  // would write them into that recording.
  const script = `
    import { PerformanceObserver } from 'node:perf_hooks';
    import { FlightRecorder, Reader } from ${JSON.stringify(indexUrl)};
    import { MemorySink } from ${JSON.stringify(sinksUrl)};
    const first = new FlightRecorder({ level: 'none', sources: { gc: true } });
    first.start();
    const wasOn = first.status().sources.gc.state;
    await first.stop();
    const second = new FlightRecorder({ level: 'none' });
    second.start();
    let delivered = 0;
    const own = new PerformanceObserver((list) => { delivered += list.getEntries().length; });
    own.observe({ entryTypes: ['gc'] });
    globalThis.gc();
    globalThis.gc();
    const deadline = Date.now() + 20000;
    while (delivered < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    own.disconnect();
    const sink = new MemorySink();
    await second.writeTo(sink);
    const recorded = [...new Reader(sink.bytes())].filter((e) => e.kind === 'range' && e.category === 'gc').length;
    console.log(JSON.stringify({ wasOn, stateAfter: first.status().sources.gc.state, delivered, recorded }));
    // Left running: the process must still exit by itself.
    new FlightRecorder({ level: 'none', sources: { gc: true } }).start();
  `;
  const out = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(out.error, undefined, 'the process exits by itself');
  assert.equal(out.status, 0, out.stderr);
  const result = JSON.parse(out.stdout) as { wasOn: string; stateAfter: string; delivered: number; recorded: number };
  assert.equal(result.wasOn, 'on');
  assert.equal(result.stateAfter, 'off');
  assert.ok(result.delivered >= 2, 'collections happened and were delivered');
  assert.equal(result.recorded, 0, 'none was recorded after the stop');
});
