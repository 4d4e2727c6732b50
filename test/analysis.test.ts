import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { analyze, analyzeTrace } from '../src/analysis/index.js';
import { IntervalSet } from '../src/analysis/intervals.js';
import type { Analysis, Finding } from '../src/analysis/types.js';
import { FlightRecorder, Reader, trace, type FlightRecorderOptions, type TraceEvent } from '../src/index.js';
import { mutate } from './helpers/mutate.js';
import { MemorySink } from './helpers/sinks.js';
import { waitFor } from './helpers/wait.js';

/**
 * Runs `body` under a flight recorder and returns its snapshot once `ready` holds for the events
 * (what some sources write comes a moment after the fact: a blocked turn at the next tick).
 */
async function recordUntil(body: (recorder: FlightRecorder) => Promise<void>, options: FlightRecorderOptions, ready: (events: TraceEvent[]) => boolean, what: string): Promise<Buffer> {
  const recorder = new FlightRecorder({ minAge: 60_000, maxBytes: 64 << 20, ...options });
  recorder.start();
  try {
    await body(recorder);
    let bytes: Buffer = Buffer.alloc(0);
    await waitFor(async () => {
      const sink = new MemorySink();
      await recorder.writeTo(sink);
      bytes = sink.bytes();
      return ready([...new Reader(bytes)]);
    }, what);
    return bytes;
  } finally {
    await recorder.stop();
  }
}

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // work on the loop
  }
}

const hasBlockOver = (ns: number) => (events: TraceEvent[]) => events.some((e) => e.kind === 'range' && e.category === 'loop' && e.name === 'blocked' && e.duration >= ns);
const hasBlock = hasBlockOver(100e6);

function byRule(analysis: Analysis, rule: string): Finding[] {
  return analysis.findings.filter((f) => f.rule === rule);
}

test('without CPU samples, a blocked turn is blamed on the region that ran during it', async () => {
  const bytes = await recordUntil(
    async () => {
      const job = trace.newTask('nightly export');
      job.withRegion('serialize rows', () => busyFor(150));
      job.end();
    },
    { level: 'none', sources: { loop: true } },
    hasBlock,
    'the blocked turn',
  );
  const analysis = analyzeTrace(bytes);
  const blocks = byRule(analysis, 'loop-blocked');
  // The synchronous region and the loop source's record are one block, reported once.
  assert.equal(blocks.length, 1, `rules found: ${analysis.findings.map((f) => f.rule).join(', ')}`);
  const [block] = blocks;
  assert.doesNotMatch(block.detail, /synchronous region .* ran \(/, 'the recorded block stands');
  assert.match(block.title, /region "serialize rows"/);
  assert.match(block.detail, /record at level 'cpu'/);
  assert.ok(block.duration >= 100e6 && block.duration < 5e9);
  assert.ok(block.confidence < 0.95, `less sure without samples: ${block.confidence}`);
  assert.equal(block.affected?.[0]?.name, 'nightly export');
  const job = analysis.stats.tasks.slowest.find((t) => t.name === 'nightly export');
  assert.ok(job !== undefined && job.breakdown.loopBlocked >= 100e6 && job.breakdown.regions >= 100e6, JSON.stringify(job));
});

test('a blocked turn written in the next generation still counts against the task it blocked', async () => {
  const bytes = await recordUntil(
    async (recorder) => {
      const job = trace.newTask('report');
      job.withRegion('crunch', () => busyFor(150));
      job.end();
      // A snapshot ends the generation now, in this same loop turn: the loop source notices the
      // blocked turn at its next tick, so the range lands in the next generation, at its real start.
      await recorder.writeTo(new MemorySink());
    },
    { level: 'none', sources: { loop: true } },
    hasBlock,
    'the blocked turn',
  );
  const events = [...new Reader(bytes)];
  const syncs = events.filter((e) => e.kind === 'sync');
  const block = events.find((e) => e.kind === 'range' && e.category === 'loop' && e.duration >= 100e6)!;
  const blockIndex = events.indexOf(block);
  const generationStart = [...events.slice(0, blockIndex)].reverse().find((e) => e.kind === 'sync')!;
  assert.ok(syncs.length >= 3 && block.time < generationStart.time, 'the range is read after the sync of the generation it was written in, before that sync\'s time');

  const analysis = analyze(events);
  const job = analysis.stats.tasks.slowest.find((t) => t.name === 'report');
  assert.ok(job !== undefined && job.breakdown.loopBlocked >= 100e6, `the late block is in the task's breakdown: ${JSON.stringify(job)}`);
  const findings = byRule(analysis, 'loop-blocked');
  assert.equal(findings.length, 1, 'one block, reported once');
  const [finding] = findings;
  assert.match(finding.title, /region "crunch"/);
  assert.ok(job.breakdown.loopBlocked <= job.duration);
  assert.equal(finding.affected?.[0]?.name, 'report');
});

test('a snapshot taken inside the blocking work still shows the block, from its synchronous region', async () => {
  const recorder = new FlightRecorder({ level: 'none', sources: { loop: true }, minAge: 60_000 });
  recorder.start();
  const sink = new MemorySink();
  try {
    const job = trace.newTask('render invoice');
    job.withRegion('layout pages', () => busyFor(150));
    // Taken in the same loop turn, as a handler that notices it is slow does: the loop source
    // has not had its tick yet, so the trace holds no record of the block.
    await recorder.writeTo(sink);
    job.end();
  } finally {
    await recorder.stop();
  }
  const events = [...new Reader(sink.bytes())];
  assert.ok(!events.some((e) => e.kind === 'range' && e.category === 'loop' && e.duration >= 100e6), 'no recorded block');
  const analysis = analyze(events);
  const [block] = byRule(analysis, 'loop-blocked');
  assert.ok(block !== undefined, `rules found: ${analysis.findings.map((f) => f.rule).join(', ')}`);
  assert.match(block.detail, /while the synchronous region "layout pages" ran/);
  assert.ok(block.duration >= 100e6 && block.duration < 5e9);
  assert.equal(block.affected?.[0]?.name, 'render invoice');
  const job = analysis.stats.tasks.slowest.find((t) => t.name === 'render invoice');
  assert.ok(job !== undefined && job.unfinished === true && job.breakdown.loopBlocked >= 100e6, JSON.stringify(job));
});

test('a region that takes most of a slow task is named, and the breakdown accounts for the task', async () => {
  const bytes = await recordUntil(
    async () => {
      for (let i = 0; i < 3; i++) {
        const job = trace.newTask('sync invoices');
        await job.withRegion('fetch invoices', () => sleep(80));
        job.withRegion('store', () => undefined);
        job.end();
      }
      const quick = trace.newTask('ping');
      quick.withRegion('answer', () => undefined);
      quick.end();
    },
    { level: 'none' },
    (events) => events.filter((e) => e.kind === 'taskEnd').length >= 4,
    'the tasks',
  );
  const analysis = analyzeTrace(bytes);
  const [dominant] = byRule(analysis, 'region-dominates-task');
  assert.ok(dominant !== undefined, `rules found: ${analysis.findings.map((f) => f.rule).join(', ')}`);
  assert.match(dominant.title, /^Region "fetch invoices" takes \d+% of sync invoices \(3 times\)$/);
  assert.equal(dominant.severity, 'info');
  assert.equal(byRule(analysis, 'region-dominates-task').length, 1, 'the quick task is not reported');
  const slowest = analysis.stats.tasks.slowest[0];
  assert.equal(slowest.name, 'sync invoices');
  assert.ok(slowest.duration >= 60e6 && slowest.duration < 5e9);
  assert.ok(slowest.breakdown.regions >= 0.9 * slowest.duration, 'its regions cover it');
  assert.ok(slowest.breakdown.waiting <= 0.1 * slowest.duration, 'little is unexplained');
  assert.equal(analysis.stats.tasks.count, 4);
  assert.equal(analysis.stats.totalBytes, bytes.length, 'analyzeTrace counts every byte');
});

test('a storm of garbage collections is reported as GC pressure, marked as forced', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const bytes = await recordUntil(
    async () => {
      // Over two seconds, so that at least one whole 1 s window is inside the storm.
      const until = performance.now() + 2300;
      let garbage: unknown[] = [];
      while (performance.now() < until) {
        garbage = Array.from({ length: 2000 }, (_, i) => ({ i, text: `row ${i}` }));
        gc();
        await yieldToLoop();
      }
      assert.ok(garbage.length > 0);
    },
    { level: 'none', sources: { gc: true } },
    (events) => events.filter((e) => e.kind === 'range' && e.category === 'gc').length >= 10,
    'the collections',
  );
  const analysis = analyzeTrace(bytes);
  const [pressure] = byRule(analysis, 'gc-pressure');
  assert.ok(pressure !== undefined, `rules found: ${analysis.findings.map((f) => f.rule).join(', ')}; gc ${analysis.stats.gc.total / 1e6} ms in ${analysis.stats.duration / 1e6} ms`);
  assert.equal(pressure.severity, 'info', 'forced collections are information');
  assert.match(pressure.detail, /forced by the application/);
  assert.ok(pressure.duration >= 1e9, 'over at least one whole window');
  assert.ok(analysis.stats.gc.total >= 0.1 * 1e9, `${analysis.stats.gc.total / 1e6} ms of GC`);
});

test('a loop kept busy by many short turns is reported as saturated, with no long block', async () => {
  const bytes = await recordUntil(
    async () => {
      const until = performance.now() + 1800;
      while (performance.now() < until) {
        busyFor(5);
        await yieldToLoop();
      }
    },
    { level: 'none', sources: { loop: true } },
    (events) => events.filter((e) => e.kind === 'metric' && e.name === 'loop.utilization').length >= 15,
    'the utilization samples',
  );
  const analysis = analyzeTrace(bytes);
  const [saturated] = byRule(analysis, 'loop-saturated');
  assert.ok(saturated !== undefined, `rules found: ${analysis.findings.map((f) => f.rule).join(', ')}; utilization max ${analysis.stats.loop.utilizationMax}`);
  assert.ok(saturated.duration >= 1e9 && saturated.duration < 10e9, `${saturated.duration / 1e6} ms`);
  assert.ok(['warning', 'critical'].includes(saturated.severity));
  assert.ok(analysis.stats.loop.utilizationMax >= 0.9);
});

test('interval unions are exact up to their bound and over-estimate past it, never under', () => {
  const interval = fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 1, max: 500 })).map(([s, d]) => [s, s + d] as const);
  fc.assert(
    fc.property(fc.array(interval, { maxLength: 1500 }), fc.integer({ min: 0, max: 50_000 }), fc.integer({ min: 50_000, max: 110_000 }), (intervals, from, to) => {
      const set = new IntervalSet();
      for (const [s, e] of intervals) set.add(s, e);
      const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
      let exact = 0;
      let reach = -Infinity;
      for (const [s, e] of sorted) {
        const a = Math.max(s, reach, from);
        const b = Math.min(e, to);
        if (b > a) exact += b - a;
        reach = Math.max(reach, e);
      }
      const got = set.covered(from, to);
      if (intervals.length <= 256) assert.equal(got, exact);
      else assert.ok(got >= exact && got <= to - from, `${got} covers at least ${exact}`);
    }),
    { numRuns: 200 },
  );
});

test('a request still waiting on a downstream call when the snapshot is taken is found waiting on that host', async () => {
  let release: () => void = () => undefined;
  let arrived = false;
  const downstream = createServer((_req, res) => {
    arrived = true;
    release = () => res.end('finally');
  });
  downstream.listen(0, '127.0.0.1');
  await once(downstream, 'listening');
  const downstreamHost = `127.0.0.1:${(downstream.address() as AddressInfo).port}`;
  const server = createServer((_req, res) => {
    void fetch(`http://${downstreamHost}/slow-report`).then(async (answer) => res.end(await answer.text()));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  let client: Promise<string> | undefined;
  try {
    const bytes = await recordUntil(
      async () => {
        client = fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/stuck`).then((r) => r.text());
        await waitFor(() => arrived, 'the downstream call to arrive');
        const since = performance.now();
        await waitFor(() => performance.now() - since >= 150, '150 ms of waiting');
      },
      { level: 'none', sources: { http: true } },
      (events) => events.some((e) => e.kind === 'httpClientBegin' && e.host === downstreamHost),
      'the outgoing call',
    );
    const analysis = analyzeTrace(bytes);
    const stuck = analysis.stats.requests.slowest.find((r) => r.path === '/stuck');
    assert.ok(stuck !== undefined && stuck.unfinished === true, `the request is open at the end of the window: ${JSON.stringify(stuck)}`);
    assert.equal(stuck.slowestCall?.host, downstreamHost);
    assert.equal(stuck.slowestCall?.unfinished, true);
    assert.ok(stuck.breakdown.outgoing >= 100e6, `${stuck.breakdown.outgoing / 1e6} ms waiting on the call`);
    const [wait] = byRule(analysis, 'request-waiting-on-outgoing-call');
    assert.ok(wait !== undefined, `rules found: ${analysis.findings.map((f) => f.rule).join(', ')}`);
    assert.equal(wait.request, 'GET /stuck');
    assert.ok(wait.title.includes(`${downstreamHost}/slow-report`), wait.title);
    assert.match(wait.detail, /had not answered yet/);
  } finally {
    release();
    await client;
    server.close();
    downstream.close();
  }
});

test('mutated traces are analyzed to the end without an exception, whatever their events say', async () => {
  const base = await recordUntil(
    async () => {
      for (let i = 0; i < 50; i++) {
        const job = trace.newTask(`job ${i % 5}`);
        job.withRegion('step', () => busyFor(i % 10 === 0 ? 60 : 1));
        job.log('jobs', `job ${i}`);
        if (i % 2 === 0) job.end();
        await yieldToLoop();
      }
    },
    { level: 'default' },
    hasBlockOver(50e6),
    'a blocked turn',
  );
  for (let seed = 1; seed <= 300; seed++) {
    const bytes = mutate(base, seed);
    const events: TraceEvent[] = [];
    try {
      for (const event of new Reader(bytes, { allowTruncated: true })) events.push(event);
    } catch {
      // The reader refused the rest; what it read before is still a trace to analyze.
    }
    const started = performance.now();
    const analysis = analyze(events);
    assert.ok(performance.now() - started < 5000, `seed ${seed}: analysis ended in bounded time`);
    assert.equal(analysis.stats.totalEvents, events.length, `seed ${seed}`);
    const json = JSON.parse(JSON.stringify(analysis)) as Analysis;
    assert.equal(json.findings.length, analysis.findings.length);
    for (const f of analysis.findings) assert.ok(f.confidence >= 0 && f.confidence <= 1 && Number.isFinite(f.time), `seed ${seed}: ${JSON.stringify(f)}`);
  }
});
