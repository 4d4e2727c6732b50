import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ChromeExporter, micros, toChromeJson } from '../src/export/chrome.js';
import { Reader } from '../src/index.js';
import { eventsOf, QUEUE_VALUES, recordAppTrace, regionsOf, requestsOf, type AppTrace } from './helpers/app-trace.js';

/** One event of the Trace Event Format, as JSON.parse gives it. */
interface TE {
  ph: string;
  name?: string;
  cat?: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  id?: string;
  s?: string;
  bp?: string;
  args?: Record<string, any>;
}

let app: AppTrace;
let doc: { traceEvents: TE[]; displayTimeUnit: string; metadata: Record<string, any> };
let pid: number;

before(async () => {
  app = await recordAppTrace();
  doc = JSON.parse(toChromeJson(new Reader(app.bytes)));
  pid = eventsOf(app.events, 'sync')[0].process!.pid;
});

function tidOf(thread: number): number {
  return pid + thread;
}

test('the file is the JSON object form: traceEvents, displayTimeUnit, metadata', () => {
  assert.ok(Array.isArray(doc.traceEvents));
  assert.equal(doc.displayTimeUnit, 'ms');
  assert.equal(doc.metadata.process.pid, pid);
  assert.equal(doc.metadata['clock-snapshot'].traceNs, eventsOf(app.events, 'sync')[0].clock.trace);
  for (const e of doc.traceEvents) {
    assert.ok(['M', 'X', 'b', 'e', 'i', 'C', 's', 'f'].includes(e.ph), `phase ${e.ph}`);
    assert.equal(typeof e.ts, 'number');
    assert.equal(e.pid, pid);
    assert.equal(typeof e.tid, 'number');
    if (e.ph !== 'M') assert.equal(typeof e.name, 'string');
  }
});

test('metadata events name the process and every thread, by pid and tid', () => {
  const meta = doc.traceEvents.filter((e) => e.ph === 'M');
  const processName = meta.find((e) => e.name === 'process_name')!;
  assert.equal(processName.args!.name, eventsOf(app.events, 'sync')[0].process!.title);
  const threadNames = new Map(meta.filter((e) => e.name === 'thread_name').map((e) => [e.tid, e.args!.name]));
  assert.equal(threadNames.get(pid), 'main');
  const workerName = eventsOf(app.events, 'threadName').find((e) => e.thread === app.workerThread)!.name;
  assert.equal(threadNames.get(tidOf(app.workerThread)), workerName);
  // Every thread that has events is named.
  for (const e of doc.traceEvents) if (e.ph === 'X' || e.ph === 'i') assert.ok(threadNames.has(e.tid) || e.s === 'p', `tid ${e.tid} is named`);
});

test('timestamps are microseconds: the trace\'s nanoseconds / 1000, exactly', () => {
  assert.equal(micros(1_234_567_891), '1234567.891');
  assert.equal(micros(5_000), '5');
  assert.equal(micros(5_070), '5.07');
  assert.equal(micros(1_005), '1.005');
  assert.equal(micros(1_050), '1.05');
  assert.equal(micros(1_500), '1.5');
  assert.equal(micros(-2_500), '-2.5');
  for (let ns = 0; ns < 3000; ns += 7) assert.equal(JSON.parse(micros(123_000_000 + ns)), (123_000_000 + ns) / 1000);
  for (const r of regionsOf(app.events)) {
    const x = doc.traceEvents.find((e) => e.name === r.name && (e.ph === 'X' || e.ph === 'b') && e.ts === r.begin / 1000);
    assert.ok(x, `region ${r.name} at ${r.begin / 1000} µs`);
    if (x.ph === 'X') {
      assert.equal(x.dur, (r.end - r.begin) / 1000);
      assert.equal(x.tid, tidOf(r.thread), 'a synchronous region is on its thread');
    } else {
      const end = doc.traceEvents.find((e) => e.ph === 'e' && e.id === x.id && e.cat === x.cat && e.name === x.name)!;
      assert.equal(end.ts, r.end / 1000);
    }
  }
});

test('complete events nest on every thread: none overlaps another without containing it', () => {
  const byTid = new Map<number, TE[]>();
  for (const e of doc.traceEvents) if (e.ph === 'X') (byTid.get(e.tid) ?? byTid.set(e.tid, []).get(e.tid)!).push(e);
  assert.ok(byTid.get(pid)!.length > 20);
  for (const [tid, list] of byTid) {
    list.sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
    const open: TE[] = [];
    for (const e of list) {
      while (open.length > 0 && open[open.length - 1].ts + open[open.length - 1].dur! <= e.ts) open.pop();
      const parent = open[open.length - 1];
      if (parent !== undefined) assert.ok(e.ts + e.dur! <= parent.ts + parent.dur!, `on tid ${tid}, "${e.name}" at ${e.ts} sticks out of "${parent.name}"`);
      open.push(e);
    }
  }
});

test('async begin and end events pair up by category and id, and nest within each id', () => {
  const trees = new Map<string, TE[]>();
  for (const e of doc.traceEvents) if (e.ph === 'b' || e.ph === 'e') (trees.get(`${e.cat}/${e.id}`) ?? trees.set(`${e.cat}/${e.id}`, []).get(`${e.cat}/${e.id}`)!).push(e);
  assert.ok(trees.size >= 5);
  for (const [key, list] of trees) {
    // Viewers order by time; at one time an end comes before a begin.
    list.sort((a, b) => a.ts - b.ts || (a.ph === 'e' ? -1 : 1) - (b.ph === 'e' ? -1 : 1));
    const open: TE[] = [];
    for (const e of list) {
      if (e.ph === 'b') open.push(e);
      else {
        const begin = open.pop();
        assert.ok(begin, `${key}: an end without a begin`);
        assert.equal(begin.name, e.name, `${key}: the end closes the slice it names`);
      }
    }
    assert.equal(open.length, 0, `${key}: every begin ends`);
  }
});

test('each HTTP request is an async slice in category http, its regions under the same id', () => {
  const requests = requestsOf(app.events);
  assert.equal(requests.length, 5);
  for (const r of requests) {
    const b = doc.traceEvents.find((e) => e.ph === 'b' && e.name === r.name && e.ts === r.begin / 1000);
    assert.ok(b, `a begin for ${r.name}`);
    assert.equal(b.cat, 'http');
    assert.equal(b.args!.path, r.path);
    assert.equal(b.args!.status, 200);
    const e = doc.traceEvents.find((x) => x.ph === 'e' && x.id === b.id && x.name === r.name)!;
    assert.equal(e.ts, r.end / 1000);
    for (const region of regionsOf(app.events).filter((g) => g.task === r.task && !g.sync)) {
      const rb = doc.traceEvents.find((x) => x.ph === 'b' && x.name === region.name && x.ts === region.begin / 1000)!;
      assert.equal(rb.id, b.id, `region ${region.name} shares its task's id`);
      assert.equal(rb.cat, b.cat);
    }
  }
});

test('a metric is a counter event series with the values at their times', () => {
  const counters = doc.traceEvents.filter((e) => e.ph === 'C' && e.name === 'app.queue');
  assert.deepEqual(counters.map((c) => c.args!.value), QUEUE_VALUES);
  const metrics = eventsOf(app.events, 'metric').filter((m) => m.name === 'app.queue');
  assert.deepEqual(counters.map((c) => c.ts), metrics.map((m) => m.time / 1000));
});

test('logs are thread-scoped instants with their message; the worker\'s on the worker\'s tid', () => {
  for (const log of eventsOf(app.events, 'log')) {
    const i = doc.traceEvents.find((e) => e.ph === 'i' && e.ts === log.time / 1000 && e.args?.message === log.message);
    assert.ok(i, `an instant for "${log.message}"`);
    assert.equal(i.s, 't');
    assert.equal(i.tid, tidOf(log.thread));
    assert.equal(i.name, log.category);
    assert.equal(i.cat, 'log');
  }
  assert.ok(doc.traceEvents.some((e) => e.ph === 'i' && e.tid === tidOf(app.workerThread)));
  assert.ok(doc.traceEvents.some((e) => e.ph === 'i' && e.s === 'p'), 'source states are process-scoped instants');
});

test('flows: a start where the resource is created, an end bound to its first callback\'s slice', () => {
  const starts = new Map(doc.traceEvents.filter((e) => e.ph === 's').map((e) => [e.id, e]));
  const ends = doc.traceEvents.filter((e) => e.ph === 'f');
  assert.ok(ends.length > 10, `flows (${ends.length})`);
  const creates = new Map(eventsOf(app.events, 'asyncCreate').map((e) => [e.time / 1000, e]));
  for (const f of ends) {
    assert.equal(f.bp, 'e', 'the end binds to the enclosing slice');
    const s = starts.get(f.id);
    assert.ok(s, `flow ${f.id} starts`);
    assert.equal(s.cat, f.cat);
    assert.equal(s.name, f.name);
    assert.ok(s.ts <= f.ts);
    assert.ok(creates.has(s.ts), 'the start is at a resource creation');
    const callback = doc.traceEvents.find((e) => e.ph === 'X' && e.cat === 'callback' && e.tid === f.tid && e.ts === f.ts);
    assert.ok(callback, 'a callback slice begins where the flow ends');
  }
});

test('the writer streams: output comes out in chunks while events go in, never as one string', () => {
  const exporter = new ChromeExporter();
  let taken = 0;
  let chunks = 0;
  for (let round = 0; round < 40; round++) {
    for (const e of app.events) exporter.event(e);
    for (const chunk of exporter.take()) {
      taken += chunk.length;
      chunks++;
    }
  }
  exporter.finish();
  const rest = exporter.take().join('');
  assert.ok(chunks > 1, 'chunks came out before the end');
  assert.ok(rest.length < taken, 'the trailer is small');
});
