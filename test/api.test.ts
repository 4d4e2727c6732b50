import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Reader, trace, validate, type TraceEvent } from '../src/index.js';
import { recordSnapshot } from './helpers/record.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;

function regionEvents(bytes: Uint8Array): TraceEvent[] {
  return [...new Reader(bytes)].filter((e) => e.kind === 'regionBegin' || e.kind === 'regionEnd');
}

test('withRegion passes results and errors through, sync and async', async () => {
  let syncResult = 0;
  let asyncResult = '';
  const bytes = await recordSnapshot(async () => {
    syncResult = trace.withRegion('sync', () => 42);
    asyncResult = await trace.withRegion('async', async () => 'done');
    assert.throws(() => trace.withRegion('throws', () => { throw new Error('boom'); }), /boom/);
    await assert.rejects(trace.withRegion('rejects', async () => { throw new Error('later'); }), /later/);
  });
  assert.equal(syncResult, 42);
  assert.equal(asyncResult, 'done');
  const regions = regionEvents(bytes);
  const names = regions.filter((e) => e.kind === 'regionBegin').map((e) => (e as { name: string }).name);
  assert.deepEqual(names, ['sync', 'async', 'throws', 'rejects']);
  const flags = regions.filter((e) => e.kind === 'regionEnd').map((e) => (e as { flags: number }).flags);
  assert.deepEqual(flags, [1, 0, 1, 0], 'synchronous regions are marked so');
  assert.deepEqual(validate(bytes), []);
});

test('tasks carry their logs and regions, and nest', async () => {
  const bytes = await recordSnapshot(() => {
    const parent = trace.newTask('request');
    const child = trace.newTask('query', parent);
    child.log('sql', 'select 1');
    const r = trace.startRegion('wait', child);
    r.end();
    r.end();
    child.withRegion('decode', () => undefined);
    child.end();
    child.end();
    parent.end();
  });
  const events = [...new Reader(bytes)].filter((e) => e.kind !== 'sync' && e.kind !== 'threadName');
  const begins = events.filter((e) => e.kind === 'taskBegin') as Extract<TraceEvent, { kind: 'taskBegin' }>[];
  assert.equal(begins.length, 2);
  assert.equal(begins[1].parent, begins[0].task);
  const log = events.find((e) => e.kind === 'log') as Extract<TraceEvent, { kind: 'log' }>;
  assert.equal(log.task, begins[1].task);
  assert.equal(events.filter((e) => e.kind === 'taskEnd').length, 2, 'ending twice writes one end');
  assert.equal(events.filter((e) => e.kind === 'regionEnd').length, 2);
  assert.deepEqual(validate(bytes), []);
});

test('annotations while nothing records do nothing and cost no trace memory', () => {
  const script = `
    import { trace, tracerStatus } from ${JSON.stringify(indexUrl)};
    trace.log('a', 'b');
    trace.withRegion('r', () => 1);
    trace.metric('m', 1);
    const r = trace.startRegion('x'); r.end();
    console.log(JSON.stringify({ enabled: trace.isEnabled(), status: tracerStatus() }));
  `;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(out.status, 0, out.stderr);
  const { enabled, status } = JSON.parse(out.stdout);
  assert.equal(enabled, false);
  assert.equal(status.poolBytesInUse, 0);
});

test('a running recorder does not keep the process alive', () => {
  const script = `
    import { FlightRecorder, trace } from ${JSON.stringify(indexUrl)};
    const fr = new FlightRecorder({ period: 10 });
    fr.start();
    trace.log('still', 'recording');
    setTimeout(() => console.log('done'), 20);
  `;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(out.signal, null, 'the process exited by itself before the timeout');
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stdout.trim(), 'done');
});

test('non-string annotations are converted, not rejected', async () => {
  const bytes = await recordSnapshot(() => {
    trace.log(1 as never, { toString: () => 'object' } as never);
    trace.metric('n', '3' as never);
  });
  const events = [...new Reader(bytes)];
  const log = events.find((e) => e.kind === 'log') as Extract<TraceEvent, { kind: 'log' }>;
  assert.equal(log.category, '1');
  assert.equal(log.message, 'object');
  const metric = events.find((e) => e.kind === 'metric') as Extract<TraceEvent, { kind: 'metric' }>;
  assert.equal(metric.value, 3);
  assert.throws(() => trace.newTask(5 as never), { code: 'ERR_INVALID_ARGUMENT' });
});

