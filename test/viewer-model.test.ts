import assert from 'node:assert/strict';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, test } from 'node:test';
import { Reader, trace } from '../src/index.js';
import { breakdownOf } from '../src/viewer/app/breakdown.js';
import { buildModel, decodeTrace } from '../src/viewer/app/build-model.js';
import { buildFlame } from '../src/viewer/app/flame.js';
import { flowsOf } from '../src/viewer/app/flows.js';
import { formatDuration, rulerStep, rulerTicks, wallTime } from '../src/viewer/app/format.js';
import { visitRow } from '../src/viewer/app/lod.js';
import { SliceKind, type Row, type TraceModel } from '../src/viewer/app/model.js';
import { packBlocks, packRows, sortByStart } from '../src/viewer/app/pack.js';
import { Search } from '../src/viewer/app/search.js';
import { Viewport } from '../src/viewer/app/viewport.js';
import { recordSnapshot } from './helpers/record.js';

/**
 * The viewer's render model, built in Node from real recordings: what the timeline will draw
 * (lanes, rows, requests, flows, counters, samples) and the pure parts of drawing (level of
 * detail, packing, the ruler, the viewport). The browser tests (viewer.test.ts) check the page.
 */

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // blocks the event loop on purpose
  }
}

async function listen(handler: http.RequestListener): Promise<{ server: Server; origin: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * A recording of a small service: requests with async regions, one that blocks the loop for
 * 200 ms inside nested synchronous regions, a timer, a manual task, metrics and logs; with
 * callbacks (async source) and CPU samples.
 */
async function recordService(): Promise<{ bytes: Buffer; recordedAt: number }> {
  const recordedAt = Date.now();
  const { server, origin } = await listen((req, res) => {
    const task = trace.taskOf(req);
    if (req.url === '/slow') {
      task?.withRegion('render', () => task.withRegion('layout', () => busyWait(200)));
      res.end('slow');
      return;
    }
    void task?.withRegion('load', () => new Promise((resolve) => setTimeout(resolve, 3))).then(() => {
      task.log('app', `served ${req.url}`);
      res.end('ok');
    });
  });
  try {
    const bytes = await recordSnapshot(
      async () => {
        const background = trace.newTask('nightly job');
        background.log('job', 'started');
        for (let i = 0; i < 12; i++) {
          const response = await fetch(`${origin}/${i === 6 ? 'slow' : `items/${i}`}`);
          await response.text();
          trace.metric('queue.depth', i);
        }
        background.end();
      },
      { level: 'cpu', sources: { async: true, loop: { blockThreshold: 50 } } },
    );
    return { bytes, recordedAt };
  } finally {
    await close(server);
  }
}

/** The loop block that overlaps slice `of` the most. */
function blockAround(model: TraceModel, of: number): number {
  const s = model.slices;
  let best = -1;
  let bestOverlap = 0;
  for (let i = 0; i < s.count; i++) {
    if (s.kind[i] !== SliceKind.loopBlock) continue;
    const overlap = Math.min(s.end[i], s.end[of]) - Math.max(s.start[i], s.start[of]);
    if (overlap > bestOverlap) {
      best = i;
      bestOverlap = overlap;
    }
  }
  assert.ok(best >= 0, 'a loop block around the busy region');
  return best;
}

function laneTracks(model: TraceModel, title: string): string[] {
  const lane = model.lanes.find((l) => l.title === title);
  assert.ok(lane, `a lane "${title}" among ${model.lanes.map((l) => l.title).join(', ')}`);
  return lane.tracks.map((t) => model.tracks[t].title);
}

function findSlice(model: TraceModel, kind: number, name: string): number {
  const s = model.slices;
  for (let i = 0; i < s.count; i++) if (s.kind[i] === kind && model.strings[s.name[i]].includes(name)) return i;
  assert.fail(`no slice of kind ${kind} named like "${name}"`);
}

describe('viewer model of a recorded service', () => {
  let bytes: Buffer;
  let recordedAt: number;
  let model: TraceModel;

  before(async () => {
    ({ bytes, recordedAt } = await recordService());
    model = buildModel(decodeTrace(bytes), bytes.length);
  });

  test('has a lane for the main thread, for requests, tasks, outgoing calls and metrics', () => {
    assert.deepEqual(laneTracks(model, 'main').filter((t) => ['Loop blocked', 'Execution', 'CPU samples', 'Logs & marks'].includes(t)), ['Loop blocked', 'Execution', 'CPU samples', 'Logs & marks']);
    assert.deepEqual(laneTracks(model, 'HTTP requests'), ['Server requests']);
    assert.deepEqual(laneTracks(model, 'Tasks'), ['Tasks']);
    assert.deepEqual(laneTracks(model, 'Outgoing HTTP'), ['Outgoing calls']);
    assert.ok(laneTracks(model, 'Event loop').includes('loop.utilization'));
    assert.ok(laneTracks(model, 'Memory').includes('memory.heapUsed'));
    assert.ok(laneTracks(model, 'Metrics').includes('queue.depth'));
    assert.equal(model.events, [...new Reader(bytes)].length);
  });

  test('places every slice in exactly one row, rows sorted and never overlapping', () => {
    let placed = 0;
    for (const [t, track] of model.tracks.entries()) {
      if (track.type !== 'slices') continue;
      track.rows.forEach((row, r) => {
        for (let i = 0; i < row.slices.length; i++) {
          const s = row.slices[i];
          placed++;
          assert.equal(model.slices.track[s], t);
          assert.equal(model.slices.row[s], r);
          assert.equal(row.start[i], model.slices.start[s]);
          assert.equal(row.end[i], model.slices.end[s]);
          assert.ok(row.end[i] >= row.start[i], 'no slice ends before it starts');
          if (i > 0) assert.ok(row.start[i] >= row.end[i - 1], `row ${r} of ${track.title}: slice ${i} overlaps the one before`);
        }
      });
    }
    assert.equal(placed, model.slices.count);
  });

  test('shows each request with its method, path and status, and its regions below it', () => {
    const requests = model.tasks.size;
    const served = [...model.tasks.values()].filter((t) => t.request !== undefined);
    assert.equal(served.length, 12, `12 requests among ${requests} tasks`);
    const slow = served.find((t) => t.request?.path === '/slow')!;
    assert.equal(slow.request?.method, 'GET');
    assert.equal(slow.request?.status, 200);
    assert.equal(model.strings[model.slices.name[slow.slice]], 'GET /slow 200');
    assert.equal(model.slices.kind[slow.slice], SliceKind.request);
    // An async region ("load") of a request sits below it, inside the rows its block reserves.
    const item = served.find((t) => t.request?.path === '/items/3')!;
    const load = findRegionOf(model, item.task, 'load');
    assert.equal(model.slices.track[load], model.slices.track[item.slice]);
    assert.ok(model.slices.row[load] > model.slices.row[item.slice]);
    assert.ok(model.slices.start[load] >= model.slices.start[item.slice]);
  });

  test('nests synchronous regions in the thread execution track, inside the loop block they caused', () => {
    const render = findSlice(model, SliceKind.region, 'render');
    const layout = findSlice(model, SliceKind.region, 'layout');
    const execution = model.executionTracks.get(0)!;
    assert.equal(model.slices.track[render], execution);
    assert.equal(model.slices.track[layout], execution);
    assert.equal(model.slices.row[layout], model.slices.row[render] + 1, 'the inner region is one row below the outer one');
    assert.ok(model.slices.start[layout] >= model.slices.start[render] && model.slices.end[layout] <= model.slices.end[render]);
    const block = blockAround(model, layout);
    const blocked = model.slices.end[block] - model.slices.start[block];
    assert.ok(blocked >= 150e6 && blocked < 5e9, `the loop was blocked ${formatDuration(blocked)}`);
    const overlap = Math.min(model.slices.end[block], model.slices.end[layout]) - Math.max(model.slices.start[block], model.slices.start[layout]);
    assert.ok(overlap >= 150e6, 'the block covers the busy region');
  });

  test('breaks a request down: the slow one was blocked, a fast one was in its region', () => {
    const slow = [...model.tasks.values()].find((t) => t.request?.path === '/slow')!;
    const b = breakdownOf(model, slow.task)!;
    const duration = model.slices.end[slow.slice] - model.slices.start[slow.slice];
    assert.ok(b.loopBlocked >= 150e6, `blocked ${formatDuration(b.loopBlocked)}`);
    assert.ok(b.regions >= 150e6, `in regions ${formatDuration(b.regions)}`);
    assert.ok(b.waiting >= 0 && b.waiting <= duration);
    const fast = [...model.tasks.values()].find((t) => t.request?.path === '/items/2')!;
    const f = breakdownOf(model, fast.task)!;
    assert.ok(f.regions > 0 && f.loopBlocked === 0);
  });

  test('links a callback to where its resource was created, and to the callbacks it caused', () => {
    const c = model.creations;
    // A timer created by the "load" region of a request, and its callback.
    let checked = 0;
    for (let created = 0; created < c.count; created++) {
      const id = c.id[created];
      const callbacks = model.callbacksOf(id);
      if (callbacks.length === 0 || model.strings[c.type[created]] !== 'Timeout') continue;
      assert.equal(model.creationOf.get(id), created);
      const flows = flowsOf(model, callbacks[0]);
      const incoming = flows.find((f) => f.to.time === model.slices.start[callbacks[0]]);
      assert.ok(incoming, `an arrow into the callback of timer ${id}`);
      assert.equal(incoming.from.time, c.time[created]);
      // The callback that created the timer has an arrow out to it.
      const trigger = c.trigger[created];
      const creator = model.callbacksOf(trigger).find((s) => model.slices.start[s] <= c.time[created] && model.slices.end[s] >= c.time[created]);
      if (creator !== undefined) {
        assert.ok(flowsOf(model, creator).some((f) => f.to.time === model.slices.start[callbacks[0]]), 'an arrow out of the creating callback');
        checked++;
      }
    }
    assert.ok(checked >= 5, `timers with both ends linked: ${checked}`);
  });

  test('keeps metrics as counters, logs as marks, samples with stacks', () => {
    const depth = model.tracks.find((t) => t.type === 'counter' && t.metric === 'queue.depth');
    assert.ok(depth?.type === 'counter');
    assert.deepEqual([...depth.values], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const logs = [...new Reader(bytes)].filter((e) => e.kind === 'log').length;
    assert.equal(model.marks.count, logs + [...new Reader(bytes)].filter((e) => e.kind === 'instant').length);
    const samples = [...new Reader(bytes)].filter((e) => e.kind === 'cpuSample').length;
    assert.ok(samples > 0);
    const flame = buildFlame(model, model.start, model.end);
    assert.equal(flame.samples, samples);
    assert.equal(flame.root.total, samples);
    assert.equal(flame.root.children.reduce((n, c) => n + c.total, 0) + flame.root.self, samples);
    // During the blocked loop, the busy wait is what ran.
    const block = blockAround(model, findSlice(model, SliceKind.region, 'layout'));
    const during = buildFlame(model, model.slices.start[block], model.slices.end[block], [0]);
    assert.ok(during.samples >= 5, `${during.samples} samples while blocked`);
    const names = new Set<string>();
    const walk = (n: typeof during.root) => {
      if (n.frame >= 0) names.add(model.frames[n.frame].functionName);
      n.children.forEach(walk);
    };
    walk(during.root);
    assert.ok(names.has('busyWait'), `busyWait among ${[...names].slice(0, 20).join(', ')}`);
  });

  test('turns trace time into wall time from the sync clocks', () => {
    const w = wallTime(model.clocks, model.start);
    const ms = w.sec * 1000 + w.nsec / 1e6;
    assert.ok(Math.abs(ms - recordedAt) < 60_000, `the trace starts at ${new Date(ms).toISOString()}, recorded at ${new Date(recordedAt).toISOString()}`);
    // Within a generation, wall time runs with trace time; each generation's clock snapshot re-anchors it.
    const later = wallTime(model.clocks, model.start + 0.25e9);
    assert.equal((later.sec - w.sec) * 1e9 + (later.nsec - w.nsec), 0.25e9);
    const last = model.clocks[model.clocks.length - 1];
    const atLast = wallTime(model.clocks, last.trace);
    assert.deepEqual(atLast, { sec: last.wallSec, nsec: last.wallNsec });
  });

  test('finds slices and log marks by name', () => {
    const search = new Search(model);
    search.set('get /slow');
    assert.ok(search.total >= 1);
    const hit = search.step(1)!;
    assert.ok(hit >= 0 && model.strings[model.slices.name[hit]].includes('/slow'));
    search.set('served /items/4');
    assert.equal(search.total, 1);
    assert.ok(search.step(1)! < 0, 'a log mark');
    search.set('');
    assert.equal(search.active, false);
  });

  test('a truncated copy still builds, with its complete generations', () => {
    const cut = bytes.subarray(0, Math.floor(bytes.length * 0.9));
    const partial = buildModel(decodeTrace(cut), cut.length);
    assert.ok(partial.events < model.events);
    assert.ok(partial.lanes.length > 0 || partial.events <= 3);
  });
});

function findRegionOf(model: TraceModel, task: number, name: string): number {
  const s = model.slices;
  for (let i = 0; i < s.count; i++) if (s.kind[i] === SliceKind.region && s.ref[i] === task && model.strings[s.name[i]] === name) return i;
  assert.fail(`no region ${name} of task ${task}`);
}

describe('viewer drawing helpers', () => {
  function row(starts: number[], ends: number[]): Row {
    return { slices: Uint32Array.from(starts, (_, i) => i), start: Float64Array.from(starts), end: Float64Array.from(ends) };
  }

  test('level of detail: a row of 200k tiny slices costs one visit per pixel column', () => {
    const n = 200_000;
    const starts = Array.from({ length: n }, (_, i) => i * 10);
    const r = row(starts, starts.map((s) => s + 5));
    let visits = 0;
    let columns = 0;
    const widthPx = 1000;
    visitRow(r, 0, n * 10, widthPx / (n * 10), (_i, x0, x1, column) => {
      visits++;
      if (column) columns++;
      assert.ok(x1 - x0 <= 1 || !column);
    });
    assert.ok(visits <= widthPx + 1, `${visits} visits`);
    assert.equal(columns, visits);
    // Zoomed in on 1000 ns, every slice is wide and drawn as itself.
    const seen: number[] = [];
    visitRow(r, 50_000, 51_000, 1, (i, _x0, _x1, column) => {
      assert.equal(column, false);
      seen.push(i);
    });
    assert.deepEqual(seen, Array.from({ length: 101 }, (_, k) => 5000 + k));
  });

  test('packing: nested slices go one row down, disjoint ones share a row, blocks keep their rows', () => {
    const start = [0, 10, 12, 30, 100, 100];
    const end = [100, 20, 15, 40, 150, 120];
    const items = sortByStart([0, 1, 2, 3, 4, 5], start, end);
    const { rows, count } = packRows(items, start, end);
    const rowOf = new Map(items.map((s, i) => [s, rows[i]]));
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((s) => rowOf.get(s)), [0, 1, 2, 1, 0, 1]);
    assert.equal(count, 3);
    const { first, count: blockRows } = packBlocks([
      { start: 0, rowEnds: [10, 10] },
      { start: 5, rowEnds: [20] },
      { start: 12, rowEnds: [30, 30, 30] },
    ]);
    // The third block's three rows must all be free: rows 0-1 are, row 2 is not until 20, so it goes below.
    assert.deepEqual([...first], [0, 2, 3]);
    assert.equal(blockRows, 6);
  });

  test('viewport: zoom keeps the anchor, pan and zoom stay inside the trace', () => {
    const vp = new Viewport(1000, 11_000);
    vp.width = 1000;
    const anchor = vp.xToTime(250);
    vp.zoom(4, 250);
    assert.ok(Math.abs(vp.xToTime(250) - anchor) < 1e-6);
    assert.ok(vp.span < 3000);
    vp.panPixels(1e9);
    assert.ok(vp.end <= 11_000 + 200 + 1e-6, 'cannot pan past the end');
    vp.zoom(1e-9);
    assert.ok(vp.span <= 10_000 * 1.04 + 1e-6, 'cannot zoom out past the trace');
    vp.zoom(1e12);
    assert.equal(vp.span, Viewport.MIN_SPAN);
  });

  test('ruler: ticks fall on round wall-clock times', () => {
    const clocks = [{ trace: 5_000, wallSec: 1_800_000_000, wallNsec: 123_456_789 }];
    const step = rulerStep(37e6);
    assert.equal(step, 50e6);
    const ticks = rulerTicks(clocks, 5_000, 5_000 + 1e9, step);
    assert.equal(ticks.length, 20);
    for (const t of ticks) assert.equal(wallTime(clocks, t).nsec % step, 0);
    assert.equal(formatDuration(1500), '1.5 µs');
    assert.equal(formatDuration(201e6), '201 ms');
  });
});
