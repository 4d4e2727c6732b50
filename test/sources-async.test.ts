import assert from 'node:assert/strict';
import { executionAsyncId } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFile, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { threadId } from 'node:worker_threads';
import { FlightRecorder, Reader, validate, type EventOf, type TraceEvent } from '../src/index.js';
import { recordSnapshot } from './helpers/record.js';
import { MemorySink } from './helpers/sinks.js';

type Create = EventOf<'asyncCreate'>;
type Begin = EventOf<'callbackBegin'>;
type End = EventOf<'callbackEnd'>;

/** A callback as the trace shows it: its begin, and its end unless it was still running at the snapshot. */
interface Callback {
  id: number;
  begin: number;
  end: number | undefined;
}

interface AsyncView {
  creates: Map<number, Create>;
  /** Every recorded callback, in the order they began. */
  callbacks: Callback[];
  all: (Create | Begin | End)[];
}

function read(bytes: Uint8Array): TraceEvent[] {
  assert.deepEqual(validate(bytes), [], 'the snapshot is a valid trace');
  return [...new Reader(bytes)];
}

/**
 * The async source's events, checked for what a viewer relies on: they are on the main thread,
 * every callbackEnd closes the innermost open callbackBegin of the same id (ranges nest), and
 * only callbacks still running when the snapshot was taken stay open.
 */
function asyncView(events: readonly TraceEvent[]): AsyncView {
  const creates = new Map<number, Create>();
  const callbacks: Callback[] = [];
  const open: Callback[] = [];
  const all: (Create | Begin | End)[] = [];
  let last = -Infinity;
  for (const e of events) {
    if (e.kind !== 'asyncCreate' && e.kind !== 'callbackBegin' && e.kind !== 'callbackEnd') continue;
    all.push(e);
    assert.equal(e.thread, threadId, `${e.kind} ${e.id} is on the thread that ran it`);
    assert.ok(e.time >= last, 'events come in time order');
    last = e.time;
    if (e.kind === 'asyncCreate') {
      creates.set(e.id, e);
    } else if (e.kind === 'callbackBegin') {
      const callback = { id: e.id, begin: e.time, end: undefined };
      open.push(callback);
      callbacks.push(callback);
    } else {
      const innermost = open.pop();
      assert.ok(innermost !== undefined, `callbackEnd ${e.id} has a callbackBegin before it`);
      assert.equal(e.id, innermost.id, `callbackEnd ${e.id} closes the innermost open callback (${innermost.id})`);
      innermost.end = e.time;
    }
  }
  // At most the callbacks that were running when the snapshot was taken stay open: the test's
  // own continuation, and what called it (a promise callback inside a callback at most).
  assert.ok(open.length <= 3, `only the callbacks running at the snapshot stay open, found ${open.length}: ${open.map((c) => c.id).join(', ')}`);
  return { creates, callbacks, all };
}

function callbackOf(view: AsyncView, id: number): Callback {
  const found = view.callbacks.filter((c) => c.id === id);
  assert.equal(found.length, 1, `resource ${id} ran one callback`);
  return found[0];
}

/** The resources from `from` back to `to` through asyncCreate.trigger links, `to` first. */
function causalChain(view: AsyncView, from: number, to: number): Create[] {
  const chain: Create[] = [];
  for (let id = from; ; ) {
    const created = view.creates.get(id);
    assert.ok(created !== undefined, `resource ${id} on the way back from ${from} to ${to} has its asyncCreate`);
    chain.push(created);
    if (id === to) break;
    assert.ok(chain.length < 100, `the trigger links from ${from} lead back to ${to}`);
    id = created.trigger;
  }
  return chain.reverse();
}

function tempFile(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'nfr-async-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'data.txt');
  writeFileSync(file, 'what the timer asked for');
  return file;
}

/**
 * setTimeout → fs.readFile → Promise.then → an async function that awaits. Notes the asyncId of
 * each step's callback as Node reports it (executionAsyncId()).
 */
async function timerReadPromiseChain(file: string): Promise<{ timer: number; read: number; then: number; final: number; length: number }> {
  const ids = { timer: 0, read: 0, then: 0, final: 0, length: 0 };
  await new Promise<void>((resolve, reject) => {
    setTimeout(() => {
      ids.timer = executionAsyncId();
      readFile(file, (err, data) => {
        if (err) {
          reject(err);
          return;
        }
        ids.read = executionAsyncId();
        Promise.resolve(data)
          .then((d) => {
            ids.then = executionAsyncId();
            return d.length;
          })
          .then(async (n) => {
            ids.length = await Promise.resolve(n);
            ids.final = executionAsyncId();
            resolve();
          })
          .catch(reject);
      });
    }, 5);
  });
  return ids;
}

test('a timer, the file read it starts and the promises that follow are linked from the last callback back to the timer', async (t) => {
  const file = tempFile(t);
  let ids = { timer: 0, read: 0, then: 0, final: 0, length: 0 };
  const bytes = await recordSnapshot(async () => {
    ids = await timerReadPromiseChain(file);
  }, { level: 'none', sources: { async: true } });
  assert.equal(ids.length, 'what the timer asked for'.length);
  const view = asyncView(read(bytes));

  const chain = causalChain(view, ids.final, ids.timer);
  const types = chain.map((c) => c.type).join(' ');
  assert.match(types, /^Timeout( FSREQ[A-Z]*)+( PROMISE)+$/, `the chain from the timer to the last callback: ${types}`);
  const onChain = new Set(chain.map((c) => c.id));
  assert.ok(onChain.has(ids.read), 'the file read callback is on the chain');
  assert.ok(onChain.has(ids.then), 'the then callback is on the chain');
  assert.match(view.creates.get(ids.read)!.type, /^FSREQ/);

  for (let i = 0; i < chain.length; i++) {
    const created = chain[i];
    const ran = view.callbacks.filter((c) => c.id === created.id);
    for (const callback of ran) {
      assert.ok(created.time < callback.begin, `${created.type} ${created.id} is created before its callback begins`);
      assert.ok(callback.end !== undefined && callback.begin < callback.end, `${created.type} ${created.id}'s callback ends after it begins`);
    }
    if (i === 0) continue;
    const trigger = chain[i - 1];
    assert.ok(trigger.time < created.time, `${trigger.type} ${trigger.id} is created before ${created.type} ${created.id}, which it triggered`);
    if (trigger.type !== 'PROMISE') {
      // A timer or a file request triggers what its callback creates; a promise's trigger may be
      // its parent promise instead, which need not be running.
      const callback = callbackOf(view, trigger.id);
      assert.ok(callback.begin < created.time && created.time < callback.end!, `${created.type} ${created.id} is created while ${trigger.type} ${trigger.id}'s callback runs`);
    }
  }
  for (const step of [ids.timer, ids.read, ids.then, ids.final]) callbackOf(view, step);
});

test('a callback is a begin/end range on its thread with its real duration, and its type is on its creation', async () => {
  let blocker = 0;
  let immediate = 0;
  const bytes = await recordSnapshot(async () => {
    await new Promise<void>((resolve) => {
      setTimeout(() => {
        blocker = executionAsyncId();
        const until = performance.now() + 200;
        while (performance.now() < until) {
          // Holds the event loop for 200 ms.
        }
        setImmediate(() => {
          immediate = executionAsyncId();
          resolve();
        });
      }, 1);
    });
  }, { level: 'none', sources: { async: true } });
  const view = asyncView(read(bytes));
  const blocked = callbackOf(view, blocker);
  const duration = blocked.end! - blocked.begin;
  assert.ok(duration >= 150e6 && duration < 5e9, `the 200 ms callback lasted ${duration / 1e6} ms in the trace`);
  assert.equal(view.creates.get(blocker)?.type, 'Timeout');
  assert.equal(view.creates.get(immediate)?.type, 'Immediate');
  assert.equal(view.creates.get(immediate)?.trigger, blocker, 'the immediate was created by the timer callback');
  const ran = callbackOf(view, immediate);
  assert.ok(ran.begin > blocked.end!, 'the immediate runs after the timer callback that queued it');
});

test('with the source off, no callback or async resource is recorded', async (t) => {
  const file = tempFile(t);
  const work = async () => {
    await timerReadPromiseChain(file);
  };
  const countAsync = (bytes: Uint8Array) => read(bytes).filter((e) => e.kind === 'asyncCreate' || e.kind === 'callbackBegin' || e.kind === 'callbackEnd').length;
  assert.equal(countAsync(await recordSnapshot(work, { level: 'none' })), 0, 'level none');
  assert.equal(countAsync(await recordSnapshot(work, { level: 'default' })), 0, 'level default');
  assert.equal(countAsync(await recordSnapshot(work, { level: 'detailed', sources: { async: false } })), 0, 'level detailed with async: false');
  assert.ok(countAsync(await recordSnapshot(work, { level: 'detailed' })) > 0, 'level detailed records callbacks');
});

test('promises: false leaves promises out and keeps timers and file reads linked', async (t) => {
  const file = tempFile(t);
  let ids = { timer: 0, read: 0, then: 0, final: 0, length: 0 };
  const bytes = await recordSnapshot(async () => {
    ids = await timerReadPromiseChain(file);
  }, { level: 'none', sources: { async: { promises: false } } });
  const events = read(bytes);
  const status = events.find((e): e is EventOf<'sourceStatus'> => e.kind === 'sourceStatus' && e.source === 'async');
  assert.equal(status?.state, 'on');
  const view = asyncView(events);
  assert.deepEqual([...view.creates.values()].filter((c) => c.type === 'PROMISE'), [], 'no promise is recorded');
  for (const callback of view.callbacks) {
    assert.notEqual(view.creates.get(callback.id)?.type, 'PROMISE');
  }
  const types = causalChain(view, ids.read, ids.timer).map((c) => c.type).join(' ');
  assert.match(types, /^Timeout( FSREQ[A-Z]*)+$/, `the chain from the timer to the file read: ${types}`);
  callbackOf(view, ids.read);
});

/** Whether a promise callback runs with its own asyncId (promise tracking on), probed inside an immediate. */
async function promiseCallbacksHaveIds(): Promise<boolean> {
  const [outer, inThen] = await new Promise<[number, number]>((resolve) => {
    setImmediate(() => {
      const outer = executionAsyncId();
      void Promise.resolve().then(() => resolve([outer, executionAsyncId()]));
    });
  });
  return inThen > outer;
}

test('stop() disables the hooks: promise asyncIds are as before, and nothing is recorded afterwards', async (t) => {
  const file = tempFile(t);
  const before = await promiseCallbacksHaveIds();
  const fr = new FlightRecorder({ level: 'none', sources: { async: true } });
  fr.start();
  assert.equal(fr.status().sources.async.state, 'on');
  assert.equal(await promiseCallbacksHaveIds(), true, 'while recording, promise callbacks have their own asyncIds');
  await fr.stop();
  assert.equal(fr.status().sources.async.state, 'off');
  assert.equal(await promiseCallbacksHaveIds(), before, 'after stop, promise callbacks have asyncIds only if they had before');

  // A recorder without the source, running the same work: hooks left enabled would write into it.
  const bytes = await recordSnapshot(async () => {
    await timerReadPromiseChain(file);
    await promiseCallbacksHaveIds();
  }, { level: 'none' });
  const left = read(bytes).filter((e) => e.kind === 'asyncCreate' || e.kind === 'callbackBegin' || e.kind === 'callbackEnd');
  assert.deepEqual(left, [], 'no async event after stop');
});

test('changing the settings while recording (a second recorder) keeps every callback range closed and nested', async () => {
  const a = new FlightRecorder({ level: 'none', sources: { async: { promises: false } } });
  const b = new FlightRecorder({ level: 'none', sources: { async: true } });
  a.start();
  let startedIn = 0;
  let stoppedIn = 0;
  try {
    // b starts and stops inside timer callbacks: the source restarts (promises on, then off)
    // while those callbacks run.
    await new Promise<void>((resolve) => setTimeout(() => {
      startedIn = executionAsyncId();
      b.start();
      resolve();
    }, 1));
    await Promise.resolve().then(() => undefined);
    await new Promise<void>((resolve) => setTimeout(() => {
      stoppedIn = executionAsyncId();
      void b.stop().then(resolve);
    }, 1));
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
    const sink = new MemorySink();
    await a.writeTo(sink);
    const view = asyncView(read(sink.bytes()));
    const started = callbackOf(view, startedIn);
    const stopped = callbackOf(view, stoppedIn);
    assert.ok(started.end !== undefined && stopped.end !== undefined, 'the callbacks in which the source restarted are closed');
    const promises = view.all.filter((e) => e.kind === 'asyncCreate' && e.type === 'PROMISE');
    assert.ok(promises.length > 0, 'promises are recorded while the second recorder asks for them');
    for (const p of promises) {
      assert.ok(p.time > started.begin && p.time < stopped.end!, 'promises are recorded only while the second recorder runs');
    }
  } finally {
    await b.stop();
    await a.stop();
  }
});

const indexUrl = new URL('../src/index.js', import.meta.url).href;
const sinksUrl = new URL('./helpers/sinks.js', import.meta.url).href;

/**
 * A child process (an uncaught exception would fail this test file) records a timer callback
 * that throws from inside a nested AsyncResource scope; its uncaughtException handler lets it
 * go on, and it writes its snapshot and the ids to files.
 */
const throwingChild = `
  import { writeFileSync } from 'node:fs';
  import { AsyncResource, executionAsyncId } from 'node:async_hooks';
  import { FlightRecorder } from ${JSON.stringify(indexUrl)};
  import { MemorySink } from ${JSON.stringify(sinksUrl)};
  const [tracePath, idsPath] = process.argv.slice(-2);
  const fr = new FlightRecorder({ level: 'none', sources: { async: true } });
  fr.start();
  const ids = { thrower: 0, inner: 0, after: 0, caught: '' };
  process.on('uncaughtException', (err) => { ids.caught = err.message; });
  await new Promise((resolve) => {
    setTimeout(() => {
      ids.thrower = executionAsyncId();
      setTimeout(() => { ids.after = executionAsyncId(); resolve(); }, 1);
      const scope = new AsyncResource('NestedScope');
      scope.runInAsyncScope(() => {
        ids.inner = executionAsyncId();
        throw new Error('thrown from a callback');
      });
    }, 1);
  });
  const sink = new MemorySink();
  await fr.writeTo(sink);
  await fr.stop();
  writeFileSync(tracePath, sink.bytes());
  writeFileSync(idsPath, JSON.stringify(ids));
`;

test('a callback that throws (the process goes on through uncaughtException) still ends, nested ranges too', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nfr-async-throw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tracePath = join(dir, 'trace.nfrt');
  const idsPath = join(dir, 'ids.json');
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', throwingChild, tracePath, idsPath], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(child.status, 0, `child failed: ${child.stderr}`);
  const ids = JSON.parse(readFileSync(idsPath, 'utf8')) as { thrower: number; inner: number; after: number; caught: string };
  assert.equal(ids.caught, 'thrown from a callback');
  const view = asyncView(read(readFileSync(tracePath)));
  const thrower = callbackOf(view, ids.thrower);
  const inner = callbackOf(view, ids.inner);
  const after = callbackOf(view, ids.after);
  assert.equal(view.creates.get(ids.inner)?.type, 'NestedScope');
  assert.ok(thrower.end !== undefined && inner.end !== undefined, 'both ranges end');
  assert.ok(thrower.begin < inner.begin && inner.end < thrower.end, 'the nested scope is inside the timer callback');
  assert.ok(after.begin > thrower.end, 'the next timer runs after the one that threw');
});
