import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { FlightRecorder, Reader, trace, tracerStatus, validate, type TraceEvent } from '../src/index.js';
import { MemorySink } from './helpers/sinks.js';
import { waitFor } from './helpers/wait.js';

const workerFile = new URL('./fixtures/logging-worker.js', import.meta.url);

async function snapshot(fr: FlightRecorder): Promise<TraceEvent[]> {
  const sink = new MemorySink();
  await fr.writeTo(sink);
  assert.deepEqual(validate(sink.bytes()), []);
  return [...new Reader(sink.bytes())];
}

function startWorker(workerData: object): Worker {
  return new Worker(workerFile, { workerData: { count: 3, crash: false, prefix: 'message', ...workerData } });
}

test('a worker that logs appears under its own thread, in time order with the main thread', async () => {
  const fr = new FlightRecorder({ level: 'none', sources: { threads: true } });
  fr.start();
  const worker = startWorker({});
  const workerThread = worker.threadId; // -1 once the worker has exited
  await once(worker, 'message');
  trace.log('main', 'before');
  worker.postMessage('go');
  await once(worker, 'message');
  trace.log('main', 'after');
  const events = await snapshot(fr);
  await worker.terminate();
  await fr.stop();
  const logs = events.filter((e): e is Extract<TraceEvent, { kind: 'log' }> => e.kind === 'log');
  assert.deepEqual(logs.map((e) => e.message), ['before', 'message 0', 'message 1', 'message 2', 'after']);
  const workerLogs = logs.filter((e) => e.category === 'worker');
  assert.ok(workerLogs.every((e) => e.thread === workerThread), 'worker events carry the worker thread id');
  assert.ok(logs[0].thread !== workerThread);
  const names = events.filter((e) => e.kind === 'threadName' && e.thread === workerThread);
  assert.ok(names.length >= 1, 'the worker names its thread');
  assert.ok(events.some((e) => e.kind === 'instant' && e.name === 'worker started'));
});

test('a worker that crashes loses nothing it had written', async () => {
  const fr = new FlightRecorder({ level: 'none', sources: { threads: true } });
  fr.start();
  const worker = startWorker({ crash: true, count: 50, prefix: 'last words' });
  // Both listeners from the start: Node may emit 'exit' right after 'error', before an await
  // resumes. (Not events.once for 'exit': it would reject on the 'error'.)
  const errored = once(worker, 'error');
  const exited = new Promise<[number]>((resolve) => worker.once('exit', (code) => resolve([code])));
  await once(worker, 'message');
  worker.postMessage('go');
  await errored;
  const [code] = await exited;
  assert.equal(code, 1);
  const events = await snapshot(fr);
  await waitFor(() => tracerStatus().workers === 0, 'the exited worker to give its slot back');
  await fr.stop();
  const lastWords = events.filter((e) => e.kind === 'log' && e.message.startsWith('last words'));
  assert.equal(lastWords.length, 50);
  assert.ok(events.some((e) => e.kind === 'instant' && e.name === 'worker exited' && e.detail.includes('exit code 1')));
});

test('a busy worker across many generations: every event exactly once, the trace valid', async () => {
  const fr = new FlightRecorder({ level: 'none', sources: { threads: true }, period: 5, minAge: 60_000, maxBytes: 256 * 1024 * 1024 });
  fr.start();
  const count = 200_000;
  const worker = startWorker({ count, prefix: 'busy' });
  let events: TraceEvent[];
  let generations: number;
  try {
    await once(worker, 'message');
    const startGeneration = tracerStatus().generation;
    worker.postMessage('go');
    // Let generations end on the main thread while the worker writes.
    let mainLogs = 0;
    const logging = setInterval(() => trace.log('main', `tick ${mainLogs++}`), 1);
    await once(worker, 'message');
    clearInterval(logging);
    generations = tracerStatus().generation - startGeneration;
    events = await snapshot(fr);
  } finally {
    await worker.terminate();
    await fr.stop();
  }
  const seen = new Set<string>();
  for (const e of events) {
    if (e.kind !== 'log' || e.category !== 'worker') continue;
    assert.ok(!seen.has(e.message), `${e.message} appears once`);
    seen.add(e.message);
  }
  assert.equal(seen.size, count, `all ${count} worker events are in the trace (${generations} generations passed)`);
  const times = events.filter((e) => e.kind === 'log' && e.category === 'worker').map((e) => e.time);
  for (let i = 1; i < times.length; i++) assert.ok(times[i] >= times[i - 1]);
});

test('workers join the tracer of a process started with --import, without code of their own', () => {
  const script = `
    import { Worker } from 'node:worker_threads';
    import { once } from 'node:events';
    import { FlightRecorder, Reader } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
    const fr = new FlightRecorder({ level: 'none', sources: { threads: true } });
    fr.start();
    const w = new Worker('import { parentPort } from "node:worker_threads"; parentPort.postMessage(process.execArgv.join(" "));', { eval: true });
    const id = w.threadId;
    const [argv] = await once(w, 'message');
    await once(w, 'exit');
    const chunks = [];
    await fr.writeTo({ write(c, cb) { chunks.push(Buffer.from(c)); cb(); return true; } });
    const names = [...new Reader(Buffer.concat(chunks))].filter((e) => e.kind === 'threadName').map((e) => e.thread);
    console.log(JSON.stringify({ argv, worker: id, named: names }));
  `;
  const out = spawnSync(process.execPath, ['--import', new URL('../src/index.js', import.meta.url).href, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(out.status, 0, out.stderr);
  const { argv, worker, named } = JSON.parse(out.stdout);
  assert.match(argv, /--import/, 'the worker inherited --import');
  assert.ok(named.includes(worker), 'the worker joined and named its thread');
});

test('a recorder cannot start on a worker that joined the main thread', async () => {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     import(${JSON.stringify(new URL('../src/index.js', import.meta.url).href)}).then(({ FlightRecorder }) => {
       try { new FlightRecorder().start(); parentPort.postMessage('started'); }
       catch (err) { parentPort.postMessage(err.code); }
     });`,
    { eval: true },
  );
  const [code] = await once(worker, 'message');
  await worker.terminate();
  assert.equal(code, 'ERR_RECORDER_IN_WORKER');
});
