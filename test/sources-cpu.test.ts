import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector';
import { test } from 'node:test';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { FlightRecorder, Reader, trace, tracerStatus, validate, type EventOf, type StackFrame, type TraceEvent } from '../src/index.js';
import { recordSnapshot } from './helpers/record.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;
const sinksUrl = new URL('./helpers/sinks.js', import.meta.url).href;

/**
 * Keeps the CPU busy until `done()`, letting the event loop run every `yieldEveryMs`. Its name
 * is what the tests look for in sampled stacks. The busy loop is its own body, not a helper it
 * calls: V8 inlines small callees into optimised code, and the profiler then shows the caller.
 */
async function burnCpuForCpuSourceTest(done: () => boolean, yieldEveryMs = Infinity): Promise<number> {
  let sliceEnd = performance.now() + yieldEveryMs;
  let x = 0;
  while (!done()) {
    x += Math.sqrt(x + 1);
    if (performance.now() >= sliceEnd) {
      await yieldToLoop();
      sliceEnd = performance.now() + yieldEveryMs;
    }
  }
  return x;
}

function forMs(ms: number): () => boolean {
  const end = performance.now() + ms;
  return () => performance.now() >= end;
}

/** Where V8 says burnCpuForCpuSourceTest is: the line (1-based) of its declaration in this compiled file, and that line's text. */
function burnDeclaration(): { line: number; text: string } {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const index = lines.findIndex((l) => l.includes('async function burnCpuForCpuSourceTest('));
  assert.ok(index >= 0, 'the compiled test declares burnCpuForCpuSourceTest');
  return { line: index + 1, text: lines[index] };
}

type CpuSample = EventOf<'cpuSample'>;

function burnFrame(sample: CpuSample, name = 'burnCpuForCpuSourceTest'): StackFrame | undefined {
  return sample.stack.find((f) => f.functionName === name);
}

/**
 * A busy function compiled anew, which no earlier test has made hot. On Node 20, V8 attributes
 * code optimized before a profiler started to its caller, so a test about profilers starting
 * must not reuse a function that other tests have already warmed up.
 */
function freshBurner(name: string): (done: () => boolean) => number {
  // eslint-disable-next-line no-new-func
  return new Function(`return function ${name}(done) { let x = 0; while (!done()) x += Math.sqrt(x + 1); return x; }`)() as never;
}

function cpuStatus(events: readonly TraceEvent[]): EventOf<'sourceStatus'> | undefined {
  return events.find((e): e is EventOf<'sourceStatus'> => e.kind === 'sourceStatus' && e.source === 'cpu');
}

test('cpu samples show a busy function with its script and line, between markers written around it', async () => {
  const bytes = await recordSnapshot(
    async () => {
      trace.log('cpu-test', 'before');
      await burnCpuForCpuSourceTest(forMs(200));
      trace.log('cpu-test', 'after');
    },
    { level: 'none', sources: { cpu: { interval: 1 } } },
  );
  const events = [...new Reader(bytes)];
  assert.equal(cpuStatus(events)?.state, 'on');
  const logs = events.filter((e): e is EventOf<'log'> => e.kind === 'log' && e.category === 'cpu-test');
  assert.deepEqual(logs.map((e) => e.message), ['before', 'after']);
  const samples = events.filter((e): e is CpuSample => e.kind === 'cpuSample');
  const burning = samples.filter((s) => burnFrame(s) !== undefined);
  // About 200 at 1 ms; a starved sampler thread on a busy machine takes fewer, never none.
  assert.ok(burning.length >= 5, `${burning.length} samples show burnCpuForCpuSourceTest`);
  const declaration = burnDeclaration();
  for (const sample of burning) {
    const frame = burnFrame(sample)!;
    assert.equal(frame.url, import.meta.url);
    assert.equal(frame.line, declaration.line);
    assert.ok(frame.column >= 1 && frame.column <= declaration.text.length, `column ${frame.column} lies on the declaration's line`);
    assert.ok(sample.time > logs[0].time && sample.time < logs[1].time, `sample at ${sample.time} lies between the markers at ${logs[0].time} and ${logs[1].time}`);
  }
  // The busy function's samples cover most of its run, not one corner of it.
  const covered = burning[burning.length - 1].time - burning[0].time;
  assert.ok(covered >= 50e6, `samples of the 200 ms burn span ${covered / 1e6} ms`);
  assert.equal(samples.filter((s) => s.stack.some((f) => f.functionName === '(idle)')).length, 0, 'idle samples are dropped');
  assert.deepEqual(validate(bytes), []);
});

test('cpu samples are cut per generation: each generation holds the samples taken inside it', async () => {
  const bytes = await recordSnapshot(
    async () => {
      // Busy in slices, so that generations (50 ms) end while the work goes on.
      const first = tracerStatus().generation;
      const minimum = forMs(200);
      const deadline = forMs(20_000);
      await burnCpuForCpuSourceTest(() => deadline() || (minimum() && tracerStatus().generation >= first + 3), 5);
      assert.ok(tracerStatus().generation >= first + 3, 'generations ended while the work went on');
    },
    { level: 'none', period: 50, sources: { cpu: { interval: 1 } } },
  );
  const events = [...new Reader(bytes)];
  const syncs = events.filter((e): e is EventOf<'sync'> => e.kind === 'sync');
  assert.ok(syncs.length >= 4, `${syncs.length - 1} generations recorded`);
  const generationsWithBurn = new Set<number>();
  let sync = -1;
  for (const event of events) {
    if (event.kind === 'sync') {
      sync++;
      continue;
    }
    if (event.kind !== 'cpuSample') continue;
    const start = syncs[sync];
    const next = syncs[sync + 1];
    assert.ok(event.time >= start.time && event.time <= next.time, `a sample at ${event.time} of generation ${start.generation} lies inside it (${start.time} to ${next.time})`);
    if (burnFrame(event) !== undefined) generationsWithBurn.add(start.generation);
    // V8 adds a sample of the current stack when a profile starts: the recorder restarting it, not the application.
    assert.ok(!event.stack.some((f) => f.functionName === 'startProfile' && f.url.endsWith('/sources/cpu.js')), 'no sample shows the profiler restarting');
  }
  assert.ok(generationsWithBurn.size >= 2, `samples of the busy function in ${generationsWithBurn.size} generations`);
  assert.deepEqual(validate(bytes), []);
});

test('an idle process records no samples of its idling', async () => {
  const bytes = await recordSnapshot(
    async () => {
      // Waiting is the behaviour under test: the thread sits in the event loop.
      await sleep(200);
      trace.log('cpu-test', 'woke');
    },
    { level: 'none', sources: { cpu: { interval: 1 } } },
  );
  const events = [...new Reader(bytes)];
  assert.equal(cpuStatus(events)?.state, 'on');
  const samples = events.filter((e): e is CpuSample => e.kind === 'cpuSample');
  // About 200 idle ticks happened; the few samples left are the wake-ups.
  assert.equal(samples.filter((s) => s.stack.some((f) => f.functionName === '(idle)')).length, 0);
  assert.ok(samples.length < 100, `${samples.length} samples while idle for 200 ms at 1 ms`);
});

test('stopping ends the profiles other inspector sessions saw start', async () => {
  const observer = new Session();
  observer.connect();
  const open = new Set<string>();
  let seen = 0;
  observer.on('Profiler.consoleProfileStarted', (m) => {
    seen++;
    open.add(m.params.title ?? '');
  });
  observer.on('Profiler.consoleProfileFinished', (m) => open.delete(m.params.title ?? ''));
  try {
    await new Promise<void>((resolve, reject) => observer.post('Profiler.enable', (err) => (err ? reject(err) : resolve())));
    const fr = new FlightRecorder({ level: 'none', period: 20, sources: { cpu: { interval: 1 } } });
    fr.start();
    const first = tracerStatus().generation;
    const deadline = forMs(20_000);
    await burnCpuForCpuSourceTest(() => deadline() || tracerStatus().generation >= first + 3, 5);
    await fr.stop();
    // One profile kept alive across every generation end, so the cut never restarts V8's profiler.
    if ((process.env.NODE_V8_COVERAGE ?? '') === '') assert.equal(seen, 1);
    assert.deepEqual([...open], [], 'no profile is left running in another session');
  } finally {
    observer.disconnect();
  }
});

test('another inspector session profiling at the same time keeps its profile, and the recorder gets its samples', async () => {
  // Each session has its own V8 profiler: neither stops or starves the other.
  const other = new Session();
  other.connect();
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) => other.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T))));
  try {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 1000 });
    await post('Profiler.start');
    const name = 'burnWhileAnotherSessionProfiles';
    const bytes = await recordSnapshot(async () => {
      freshBurner(name)(forMs(100));
    }, { level: 'none', sources: { cpu: { interval: 1 } } });
    const { profile } = await post<{ profile: { nodes: { callFrame: { functionName: string } }[]; samples?: number[] } }>('Profiler.stop');
    assert.ok(profile.nodes.some((n) => n.callFrame.functionName === name), "the other session's profile saw the busy function");
    const samples = [...new Reader(bytes)].filter((e): e is CpuSample => e.kind === 'cpuSample');
    assert.ok(samples.some((s) => burnFrame(s, name) !== undefined), "the recorder's samples saw it too");
  } finally {
    other.disconnect();
  }
});

test('without the inspector (denied by the permission model) the cpu source is recorded as failed and recording goes on', () => {
  const permission = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';
  const script = `
    import { FlightRecorder, Reader, trace } from ${JSON.stringify(indexUrl)};
    import { MemorySink } from ${JSON.stringify(sinksUrl)};
    const fr = new FlightRecorder({ level: 'none', sources: { cpu: true } });
    fr.start();
    trace.log('still', 'recording');
    const sink = new MemorySink();
    await fr.writeTo(sink);
    await fr.stop();
    const events = [...new Reader(sink.bytes())];
    console.log(JSON.stringify({
      status: events.find((e) => e.kind === 'sourceStatus' && e.source === 'cpu'),
      logs: events.filter((e) => e.kind === 'log').length,
      samples: events.filter((e) => e.kind === 'cpuSample').length,
    }));
  `;
  const out = spawnSync(process.execPath, [permission, '--allow-fs-read=*', '--no-warnings', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(out.status, 0, out.stderr);
  const result = JSON.parse(out.stdout);
  assert.equal(result.status.state, 'failed');
  assert.match(result.status.detail, /inspector.*--allow-inspector/);
  assert.equal(result.logs, 1);
  assert.equal(result.samples, 0);
});

test("under Node's own coverage session the cpu source records without disturbing it", () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfr-cpu-coverage-'));
  try {
    const script = `
      import { FlightRecorder, Reader, tracerStatus } from ${JSON.stringify(indexUrl)};
      import { MemorySink } from ${JSON.stringify(sinksUrl)};
      import { setImmediate } from 'node:timers/promises';
      const fr = new FlightRecorder({ level: 'none', period: 20, sources: { cpu: { interval: 1 } } });
      fr.start();
      const first = tracerStatus().generation;
      const deadline = performance.now() + 20000;
      let x = 0;
      while (tracerStatus().generation < first + 3 && performance.now() < deadline) {
        const end = performance.now() + 5;
        while (performance.now() < end) x += Math.sqrt(x + 1);
        await setImmediate();
      }
      const sink = new MemorySink();
      await fr.writeTo(sink);
      await fr.stop();
      const events = [...new Reader(sink.bytes())];
      console.log(JSON.stringify({
        status: events.find((e) => e.kind === 'sourceStatus' && e.source === 'cpu'),
        samples: events.filter((e) => e.kind === 'cpuSample').length,
      }));
    `;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, NODE_V8_COVERAGE: dir },
    });
    assert.equal(out.status, 0, out.stderr);
    const result = JSON.parse(out.stdout);
    assert.equal(result.status.state, 'on');
    assert.ok(result.samples > 0);
    // Node's coverage session prints every console profile it is sent; the source sends none.
    assert.doesNotMatch(out.stderr, /Cannot retrieve id|consoleProfile/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
