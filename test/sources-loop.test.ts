import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { FlightRecorder, Reader, validate, type EventOf, type TraceEvent } from '../src/index.js';
import { traceNow } from '../src/tracer/clock.js';
import { MemorySink } from './helpers/sinks.js';
import { eventsAfterStop } from './helpers/record.js';
import { waitFor } from './helpers/wait.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;

type Range = EventOf<'range'>;
type Metric = EventOf<'metric'>;

function events(bytes: Uint8Array): TraceEvent[] {
  return [...new Reader(bytes)];
}

function blockedRanges(list: readonly TraceEvent[]): Range[] {
  return list.filter((e): e is Range => e.kind === 'range' && e.category === 'loop' && e.name === 'blocked');
}

function metrics(list: readonly TraceEvent[], name: string): Metric[] {
  return list.filter((e): e is Metric => e.kind === 'metric' && e.name === name);
}

/** Keeps the thread busy, without yielding to the event loop, for `ms` milliseconds. */
function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function request(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/block', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Takes snapshots of a running recorder until `done` holds for one of them, and checks that one is valid. */
async function snapshotUntil(fr: FlightRecorder, done: (list: TraceEvent[]) => boolean, what: string): Promise<TraceEvent[]> {
  let bytes: Uint8Array = new Uint8Array(0);
  let list: TraceEvent[] = [];
  await waitFor(async () => {
    const sink = new MemorySink();
    await fr.writeTo(sink);
    bytes = sink.bytes();
    list = events(bytes);
    return done(list);
  }, what);
  assert.deepEqual(validate(bytes), []);
  return list;
}

test('a request handler that blocks the loop is one blocked range at the real time of the block', async () => {
  let blockStart = 0;
  let blockEnd = 0;
  const server = createServer((_req, res) => {
    blockStart = traceNow();
    busyWait(200);
    blockEnd = traceNow();
    res.end('done');
  });
  const port = await listen(server);
  const fr = new FlightRecorder({ level: 'none', sources: { loop: { blockThreshold: 50, interval: 50 } } });
  fr.start();
  try {
    assert.equal(await request(port), 'done');
    const overBlock = (l: TraceEvent[]): Range[] => blockedRanges(l).filter((r) => r.time < blockEnd && r.time + r.duration > blockStart);
    const maxDelay = (l: TraceEvent[]): number => Math.max(0, ...metrics(l, 'loop.delay.max').map((m) => m.value));
    // The delay histogram sees the block too, in the first interval that ends after it.
    const list = await snapshotUntil(fr, (l) => overBlock(l).length > 0 && maxDelay(l) >= 150, 'the blocked range and the delay metric that shows it');
    const overlapping = overBlock(list);
    assert.equal(overlapping.length, 1, `one blocked range over the handler's block, got ${JSON.stringify(overlapping)}`);
    const [range] = overlapping;
    const ms = range.duration / 1e6;
    assert.ok(ms >= 150 && ms < 2000, `the range lasts about 200 ms, got ${ms} ms`);
    const startError = Math.abs(range.time - blockStart) / 1e6;
    assert.ok(startError < 50, `the range starts when the block began, off by ${startError} ms`);
    // Noticed after the block, so never ending before it (1 µs for rounding to whole ns).
    assert.ok(range.time + range.duration >= blockEnd - 1e3, `the range covers the end of the block: ${range.time + range.duration} < ${blockEnd}`);
    assert.ok(list.some((e) => e.kind === 'instant' && e.category === 'loop' && e.name === 'delaySampling'), 'the trace says how delay was sampled');
  } finally {
    await fr.stop();
    server.close();
  }
});

test('a busy loop that never blocks has no blocked ranges, and its metrics are sane', async () => {
  // The threshold is generous so that a stall of the whole machine does not count, and the work
  // lasts longer than it, so that a detector adding up busy time would report it.
  const threshold = 500;
  const fr = new FlightRecorder({ level: 'none', sources: { loop: { blockThreshold: threshold, interval: 20 } } });
  fr.start();
  try {
    // 1.2 s of work in 2 ms slices: the loop is busy all along but turns every few ms.
    const until = performance.now() + 2.4 * threshold;
    await new Promise<void>((resolve) => {
      const slice = (): void => {
        busyWait(2);
        if (performance.now() < until) setImmediate(slice);
        else resolve();
      };
      setImmediate(slice);
    });
    const list = await snapshotUntil(
      fr,
      (l) => metrics(l, 'loop.utilization').length >= 10 && metrics(l, 'loop.delay.p99').length >= 10,
      'ten intervals of loop metrics',
    );
    assert.deepEqual(blockedRanges(list), [], 'no turn reached the threshold');
    const utilization = metrics(list, 'loop.utilization').map((m) => m.value);
    assert.ok(utilization.every((u) => u >= 0 && u <= 1), `utilization is within 0..1: ${utilization}`);
    assert.ok(Math.max(...utilization) > 0.5, `the busy slices show as high utilization: ${utilization}`);
    const p50 = metrics(list, 'loop.delay.p50').map((m) => m.value);
    const p99 = metrics(list, 'loop.delay.p99').map((m) => m.value);
    const max = metrics(list, 'loop.delay.max').map((m) => m.value);
    assert.equal(p50.length, p99.length);
    assert.equal(p99.length, max.length);
    for (let i = 0; i < p50.length; i++) {
      assert.ok(p50[i] >= 0 && p50[i] <= p99[i] && p99[i] <= max[i] * 1.01 + 0.01, `p50 <= p99 <= max: ${p50[i]} ${p99[i]} ${max[i]}`);
      assert.ok(max[i] < threshold, `no delay reached the block threshold: ${max[i]} ms`);
    }
  } finally {
    await fr.stop();
  }
});

test('stopping the loop source stops its timers and histogram', async () => {
  const fr = new FlightRecorder({ level: 'none', sources: { loop: { interval: 5, resolution: 1 } } });
  fr.start();
  const first = await snapshotUntil(fr, (l) => metrics(l, 'loop.utilization').length > 0, 'loop metrics');
  assert.ok(first.length > 0);
  await fr.stop();
  assert.equal(fr.status().sources.loop.state, 'off');

  // 20 of the old intervals.
  const leftovers = (await eventsAfterStop(100)).filter((e) => (e.kind === 'metric' && e.name.startsWith('loop.')) || (e.kind === 'range' && e.category === 'loop'));
  assert.deepEqual(leftovers, []);
});

test('the loop source keeps no process alive, running or stopped', () => {
  const script = `
    import { FlightRecorder } from ${JSON.stringify(indexUrl)};
    const running = new FlightRecorder({ level: 'none', sources: { loop: { interval: 5, resolution: 1 } } });
    running.start();
    setTimeout(async () => {
      await running.stop();
      const again = new FlightRecorder({ level: 'none', sources: { loop: true } });
      again.start();
      console.log('left running');
    }, 30);
  `;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(out.error, undefined, 'the process exits by itself');
  assert.equal(out.status, 0, out.stderr);
  assert.match(out.stdout, /left running/);
});

test('bad loop settings are typed errors naming the setting', () => {
  assert.throws(() => new FlightRecorder({ sources: { loop: { blockThreshold: 0 } } }), { code: 'ERR_INVALID_OPTION', message: /sources\.loop\.blockThreshold/ });
  assert.throws(() => new FlightRecorder({ sources: { loop: { interval: 'fast' as unknown as number } } }), { code: 'ERR_INVALID_OPTION', message: /sources\.loop\.interval/ });
  assert.throws(() => new FlightRecorder({ sources: { loop: { every: 5 } } }), { code: 'ERR_INVALID_OPTION', message: /known settings: interval, blockThreshold, resolution/ });
});
