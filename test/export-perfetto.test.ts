import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { toPerfetto } from '../src/export/perfetto.js';
import { Reader } from '../src/index.js';
import { BLOCK_MS, eventsOf, QUEUE_VALUES, recordAppTrace, regionsOf, requestsOf, type AppTrace } from './helpers/app-trace.js';
import { decodePerfetto, type DecodedPerfetto, type PTrack } from './helpers/perfetto-decode.js';
import { recordSnapshot } from './helpers/record.js';
import { MemorySink } from './helpers/sinks.js';
import { waitFor } from './helpers/wait.js';
import { FlightRecorder, trace, tracerStatus } from '../src/index.js';

let app: AppTrace;
let out: DecodedPerfetto;

before(async () => {
  app = await recordAppTrace();
  out = await decodePerfetto(toPerfetto(new Reader(app.bytes)));
});

function trackNamed(name: string): PTrack[] {
  return [...out.tracks.values()].filter((t) => t.name === name);
}

function processTrack(): PTrack {
  const tracks = [...out.tracks.values()].filter((t) => t.processName !== undefined);
  assert.equal(tracks.length, 1, 'one process track');
  return tracks[0];
}

function threadTrack(thread: number): PTrack {
  const pid = processTrack().pid!;
  const track = [...out.tracks.values()].find((t) => t.tid === pid + thread);
  assert.ok(track, `a track for thread ${thread}`);
  return track;
}

test('the output is what trace processor reads without a complaint: one sequence, its state, its interning, nesting slices', () => {
  assert.deepEqual(out.problems, []);
  const first = out.packets[0];
  assert.equal(first.sequenceFlags, 1, 'the first packet clears incremental state');
  assert.equal(first.tracePacketDefaults.timestampClockId, 64, 'timestamps default to our sequence-scoped clock');
  assert.ok(out.packets.slice(1).every((p) => p.sequenceFlags === 2 || p.sequenceFlags === 1));
  assert.ok(out.slices.length > 50 && out.instants.length > 10 && out.counters.length >= QUEUE_VALUES.length);
});

test('clock snapshots tie the trace clock to CLOCK_MONOTONIC (the primary clock) and CLOCK_REALTIME at every sync', () => {
  const syncs = eventsOf(app.events, 'sync');
  for (const sync of syncs) {
    const c = sync.clock;
    const snap = out.snapshots.find((s) => s.clocks.get(64) === BigInt(c.trace));
    assert.ok(snap, `a snapshot at trace time ${c.trace}`);
    assert.equal(snap.primary, 'BUILTIN_CLOCK_MONOTONIC');
    assert.equal(snap.clocks.get(3), BigInt(c.monoSec) * 1_000_000_000n + BigInt(c.monoNsec));
    assert.equal(snap.clocks.get(1), BigInt(c.wallSec) * 1_000_000_000n + BigInt(c.wallNsec));
  }
  // The first snapshot maps trace time 0, so events placed before the first sync convert too.
  assert.equal(out.snapshots[0].clocks.get(64), 0n);
  const c = syncs[0].clock;
  assert.equal(out.snapshots[0].clocks.get(3), BigInt(c.monoSec) * 1_000_000_000n + BigInt(c.monoNsec) - BigInt(c.trace));
});

test('the process and each thread have a track descriptor with pid, tid and names', () => {
  const sync = eventsOf(app.events, 'sync')[0];
  const proc = processTrack();
  assert.equal(proc.pid, sync.process!.pid);
  assert.equal(proc.processName, sync.process!.title);
  const main = threadTrack(0);
  assert.equal(main.tid, proc.pid, 'the main thread has the pid as tid');
  assert.equal(main.threadName, 'main');
  assert.equal(main.parent, proc.uuid);
  const worker = threadTrack(app.workerThread);
  const workerName = eventsOf(app.events, 'threadName').find((e) => e.thread === app.workerThread)!.name;
  assert.equal(worker.threadName, workerName);
  assert.equal(worker.pid, proc.pid);
});

test('each HTTP request is a slice on an "HTTP requests" lane, with its exact times and what the request was', () => {
  const requests = requestsOf(app.events);
  assert.equal(requests.length, 5);
  const lanes = new Set(trackNamed('HTTP requests').map((t) => t.uuid));
  const proc = processTrack();
  for (const uuid of lanes) assert.equal(out.tracks.get(uuid)!.parent, proc.uuid, 'request lanes belong to the process');
  const placed = requests.map((r) => {
    const slice = out.slices.find((s) => s.name === r.name && s.begin === r.begin && s.end === r.end);
    assert.ok(slice, `a slice for ${r.name}`);
    assert.ok(lanes.has(slice.track), `${r.name} is on an HTTP requests lane`);
    assert.equal(slice.category, 'http');
    assert.equal(slice.args.path, r.path);
    assert.equal(slice.args.method, 'GET');
    assert.equal(slice.args.status, 200);
    assert.equal(slice.args.task, r.task);
    return { ...r, track: slice.track };
  });
  // Requests that overlap in time never share a lane.
  for (const a of placed) for (const b of placed) if (a !== b && a.begin < b.end && b.begin < a.end) assert.notEqual(a.track, b.track, `${a.path} and ${b.path} overlap`);
  assert.ok(new Set(placed.map((p) => p.track)).size >= 2, 'the concurrent requests spread over lanes');
});

test('regions are slices with their exact times: synchronous ones on their thread, awaited ones on their task\'s lane', () => {
  const regions = regionsOf(app.events);
  assert.ok(regions.some((r) => r.sync) && regions.some((r) => !r.sync));
  const taskSlices = new Map(requestsOf(app.events).map((r) => [r.task, out.slices.find((s) => s.begin === r.begin && s.end === r.end && s.name === r.name)!]));
  for (const r of regions) {
    const slice = out.slices.find((s) => s.name === r.name && s.begin === r.begin && s.end === r.end);
    assert.ok(slice, `a slice for region ${r.name} at ${r.begin}`);
    assert.equal(slice.category, 'region');
    if (r.sync) {
      assert.equal(slice.track, threadTrack(r.thread).uuid, `sync region ${r.name} on its thread`);
    } else {
      const taskSlice = taskSlices.get(r.task);
      assert.ok(taskSlice, `region ${r.name} at ${r.begin} belongs to request task ${r.task} (requests: ${[...taskSlices.keys()].join(', ')})`);
      assert.equal(slice.track, taskSlice.track, `region ${r.name} on the lane of task ${r.task}`);
      assert.equal(slice.args.task, r.task);
    }
  }
  assert.ok(regions.some((r) => r.name === 'startup' && r.task === 0), 'the region outside any task is there too');
});

test('the blocked loop turn is a slice on the main thread with the recorded start and duration', () => {
  const blocks = eventsOf(app.events, 'range').filter((e) => e.category === 'loop' && e.name === 'blocked');
  assert.ok(blocks.length >= 1);
  const main = threadTrack(0);
  const mainLanes = new Set([main.uuid, ...[...out.tracks.values()].filter((t) => t.parent === main.uuid).map((t) => t.uuid)]);
  for (const block of blocks) {
    const slice = out.slices.find((s) => s.name === 'blocked' && s.category === 'loop' && s.begin === block.time && s.end === block.time + block.duration);
    assert.ok(slice, 'a slice for the blocked turn');
    assert.ok(mainLanes.has(slice.track), 'on the main thread (or its overlap lane)');
  }
  assert.ok(blocks.some((b) => b.duration >= (BLOCK_MS - 20) * 1e6 && b.duration < 5e9), 'the block the app made');
});

test('a metric is a counter track with the values at their times', () => {
  const tracks = trackNamed('app.queue');
  assert.equal(tracks.length, 1);
  assert.ok(tracks[0].isCounter);
  assert.equal(tracks[0].parent, processTrack().uuid);
  const metrics = eventsOf(app.events, 'metric').filter((m) => m.name === 'app.queue');
  const values = out.counters.filter((c) => c.track === tracks[0].uuid);
  assert.deepEqual(values.map((v) => v.value), QUEUE_VALUES);
  assert.deepEqual(values.map((v) => v.time), metrics.map((m) => m.time));
  const heap = trackNamed('memory.heapUsed');
  if (heap.length > 0) assert.equal(heap[0].counterUnit, 'UNIT_SIZE_BYTES');
});

test('logs are instants on the thread that logged, with category and message', () => {
  const logs = eventsOf(app.events, 'log');
  assert.ok(logs.some((l) => l.thread === app.workerThread), 'the worker logged');
  for (const log of logs) {
    const instant = out.instants.find((i) => i.time === log.time && i.args.message === log.message);
    assert.ok(instant, `an instant for "${log.message}"`);
    assert.equal(instant.name, log.category);
    assert.equal(instant.category, 'log');
    assert.equal(instant.track, threadTrack(log.thread).uuid);
    if (log.task !== 0) assert.equal(instant.args.task, log.task);
  }
  const ready = out.instants.find((i) => i.name === 'ready');
  assert.ok(ready);
  assert.equal(ready.category, 'app');
  assert.equal(ready.args.detail, 'listening');
});

test('flows run from a resource\'s creation to its first callback, which begins when the trace says', () => {
  const sources = new Map<string, { time: number; track: string }>();
  for (const i of out.instants) for (const id of i.flowIds) sources.set(id, { time: i.time, track: i.track });
  const ends = out.slices.filter((s) => s.terminatingFlowIds.length > 0);
  assert.ok(ends.length > 10, `flows end on callbacks (${ends.length})`);
  const callbackBegins = new Set(eventsOf(app.events, 'callbackBegin').map((e) => e.time));
  const creates = new Map(eventsOf(app.events, 'asyncCreate').map((e) => [`${e.thread}:${e.id}`, e]));
  for (const slice of ends) {
    assert.equal(slice.category, 'callback');
    assert.ok(callbackBegins.has(slice.begin), 'the callback slice begins at a callbackBegin');
    for (const id of slice.terminatingFlowIds) {
      const source = sources.get(id);
      assert.ok(source, `flow ${id} has a source`);
      assert.ok(source.time <= slice.begin, 'the creation comes first');
      // The flow id encodes the thread and the async id of the resource.
      const n = BigInt(id);
      const create = creates.get(`${Number(n >> 53n)}:${Number(n & ((1n << 53n) - 1n))}`);
      assert.ok(create, 'the id is that of a created resource');
      assert.equal(create.time, source.time);
      assert.equal(slice.name, create.type, 'the callback is named by its resource type');
    }
  }
});

test('cpu samples are instants with the sampled call stack, outermost frame first', async () => {
  const bytes = await recordSnapshot(async () => {
    const until = performance.now() + 60;
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    trace.metric('x', x);
  }, { level: 'none', sources: { cpu: { interval: 1 } } });
  const events = [...new Reader(bytes)];
  const samples = eventsOf(events, 'cpuSample').filter((s) => s.stack.length > 1);
  assert.ok(samples.length > 0, 'the profiler sampled the busy loop');
  const decoded = await decodePerfetto(toPerfetto(events));
  assert.deepEqual(decoded.problems, []);
  for (const sample of samples) {
    const instant = decoded.instants.find((i) => i.time === sample.time && i.name === 'cpu sample');
    assert.ok(instant);
    assert.deepEqual(instant.callstack!.map((f) => f.functionName), sample.stack.map((f) => f.functionName || '(anonymous)').reverse());
    assert.equal(instant.args.function, sample.stack[0].functionName || '(anonymous)');
  }
});

test('slices that overlap without nesting go to separate lanes; slices open at the end end with the trace', async () => {
  // Two async regions of one task that overlap without nesting, a region and a task still open
  // when the snapshot is taken.
  const bytes = await recordSnapshot(async () => {
    const task = trace.newTask('job');
    const a = task.startRegion('a');
    const b = task.startRegion('b');
    a.end();
    b.end();
    task.startRegion('still open');
    task.end();
    trace.newTask('never ends');
  });
  const events = [...new Reader(bytes)];
  const decoded = await decodePerfetto(toPerfetto(events));
  assert.deepEqual(decoded.problems, []);
  const regions = regionsOf(events);
  const sliceA = decoded.slices.find((s) => s.name === 'a')!;
  const sliceB = decoded.slices.find((s) => s.name === 'b')!;
  assert.equal(sliceA.begin, regions.find((r) => r.name === 'a')!.begin);
  assert.equal(sliceA.end, regions.find((r) => r.name === 'a')!.end);
  assert.equal(sliceB.begin, regions.find((r) => r.name === 'b')!.begin);
  assert.equal(sliceB.end, regions.find((r) => r.name === 'b')!.end);
  assert.notEqual(sliceA.track, sliceB.track, 'a and b overlap without nesting: two lanes');
  const last = events[events.length - 1].time;
  for (const name of ['still open', 'never ends']) {
    const slice = decoded.slices.find((s) => s.name === name)!;
    assert.ok(slice, name);
    assert.equal(slice.args.unfinished, true);
    assert.equal(slice.end, last, 'an open slice ends where the trace ends');
  }
});

test('a task and region whose begin fell out of the window are kept, from the window\'s start', async () => {
  // A recorder that keeps only the last generation: the task begins in one, ends in the next.
  const recorder = new FlightRecorder({ level: 'none', period: 10, minAge: 1, maxBytes: 1 });
  recorder.start();
  let bytes: Buffer;
  try {
    const task = trace.newTask('long job');
    const region = task.startRegion('long region');
    const generation = tracerStatus().generation;
    await waitFor(() => tracerStatus().generation > generation + 1, 'the generation of the begin to end');
    region.end();
    task.end();
    const sink = new MemorySink();
    await recorder.writeTo(sink);
    bytes = sink.bytes();
  } finally {
    await recorder.stop();
  }
  const events = [...new Reader(bytes)];
  assert.equal(eventsOf(events, 'taskBegin').length, 0, 'the begin is out of the window');
  const taskEnd = eventsOf(events, 'taskEnd')[0];
  const windowStart = events[0].time;
  const decoded = await decodePerfetto(toPerfetto(events));
  assert.deepEqual(decoded.problems, []);
  const task = decoded.slices.find((s) => s.name === '(task began before the trace)');
  assert.ok(task);
  assert.equal(task.begin, windowStart);
  assert.equal(task.end, taskEnd.time);
  const region = decoded.slices.find((s) => s.name === '(region began before the trace)');
  assert.ok(region);
  assert.equal(region.begin, windowStart);
});

test('past 20 000 interned names the interning state is cleared and restated; every name still resolves', async () => {
  const bytes = await recordSnapshot(() => {
    for (let i = 0; i < 30_000; i++) trace.newTask(`job ${i}`).end();
  }, { level: 'none', maxBytes: 64 << 20 });
  const events = [...new Reader(bytes)];
  assert.equal(eventsOf(events, 'taskEnd').length, 30_000);
  const decoded = await decodePerfetto(toPerfetto(events));
  assert.deepEqual(decoded.problems, []);
  const clears = decoded.packets.filter((p) => (p.sequenceFlags & 1) !== 0);
  assert.ok(clears.length >= 2, 'the state was cleared again on the way');
  const names = new Set(decoded.slices.map((s) => s.name));
  for (let i = 0; i < 30_000; i++) assert.ok(names.has(`job ${i}`), `job ${i}`);
  // After a clear the clock snapshot is restated, and timestamps still convert.
  const lastClear = decoded.packets.lastIndexOf(clears[clears.length - 1]);
  assert.ok(decoded.packets.slice(lastClear).some((p) => p.clockSnapshot !== undefined));
});

test('a hundred tasks open at once: each on a lane of its own, its regions with it', async () => {
  const bytes = await recordSnapshot(() => {
    const tasks = Array.from({ length: 100 }, (_, i) => trace.newTask(`task ${i}`));
    const regions = tasks.map((t) => t.startRegion('wait'));
    // End them in an order unlike the order they began in.
    for (let i = 0; i < 100; i++) {
      const k = (i * 37) % 100;
      regions[k].end();
      tasks[k].end();
    }
  });
  const events = [...new Reader(bytes)];
  const decoded = await decodePerfetto(toPerfetto(events));
  assert.deepEqual(decoded.problems, []);
  const taskSlices = decoded.slices.filter((s) => s.name.startsWith('task '));
  assert.equal(taskSlices.length, 100);
  assert.equal(new Set(taskSlices.map((s) => s.track)).size, 100, 'they all overlap: a lane each');
  for (const t of taskSlices) {
    const region = decoded.slices.find((s) => s.name === 'wait' && s.args.task === t.args.task)!;
    assert.equal(region.track, t.track, `the region of ${t.name} is on its lane`);
    assert.ok(region.begin > t.begin && region.end <= t.end);
  }
});
