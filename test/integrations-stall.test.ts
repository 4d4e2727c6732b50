import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { analyze } from '../src/analysis/index.js';
import { Reader, validate, type EventOf, type TraceEvent } from '../src/index.js';

/**
 * The stall watchdog, end to end: each test runs an application in a child process (a flight
 * recorder, the watchdog, a real HTTP server on loopback) whose main thread blocks until the
 * watchdog has done its work, which proves the work was done while the main thread was
 * blocked; this process then reads what the watchdog left in the directory.
 */

const urls = {
  index: new URL('../src/index.js', import.meta.url).href,
  watchdog: new URL('../src/integrations/stall-watchdog.js', import.meta.url).href,
  budget: new URL('../src/integrations/snapshot-budget.js', import.meta.url).href,
  runtime: new URL('../src/tracer/runtime.js', import.meta.url).href,
  state: new URL('../src/tracer/shared-state.js', import.meta.url).href,
};

/** What every child script starts with: imports, and helpers to wait for conditions and print the outcome. */
const PRELUDE = `
  import { FlightRecorder } from ${JSON.stringify(urls.index)};
  import { startStallWatchdog } from ${JSON.stringify(urls.watchdog)};
  import { SnapshotBudget } from ${JSON.stringify(urls.budget)};
  import { tracerRuntime } from ${JSON.stringify(urls.runtime)};
  import { Ctl } from ${JSON.stringify(urls.state)};
  import crypto from 'node:crypto';
  import fs from 'node:fs';
  import http from 'node:http';
  import { setTimeout as sleep } from 'node:timers/promises';

  const dir = process.env.NFR_STALL_DIR;
  const reports = [];
  const onReport = (r) => reports.push(r);
  const heartbeat = new Float64Array(tracerRuntime().memory.control, Ctl.heartbeat * 4, 1);

  async function until(condition, what, ms = 20000) {
    const deadline = Date.now() + ms;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
      await sleep(5);
    }
  }
  function snapshotWritten() {
    try { return fs.readdirSync(dir).some((f) => f.endsWith('.nfrt')); } catch { return false; }
  }
  /** Blocks the loop in JavaScript until condition() holds (or 20 s pass); true when it held. */
  function blockUntil(condition) {
    const deadline = Date.now() + 20000;
    let x = 0;
    while (Date.now() < deadline) {
      for (let i = 0; i < 1000; i++) x += Math.sqrt(i + x);
      if (condition()) return true;
    }
    return false;
  }
  /** Waits for the main thread's next heartbeat, after which the watchdog can fire again. */
  async function nextHeartbeat() {
    const before = heartbeat[0];
    await until(() => heartbeat[0] !== before, 'a heartbeat');
  }
  function print(extra, wd) {
    const counts = wd === undefined ? undefined : { state: wd.state, failure: wd.failure, stalls: wd.stalls, snapshots: wd.snapshots, skipped: wd.skipped, errors: wd.errors };
    console.log(JSON.stringify({ ...extra, watchdog: counts, reports: reports.map((r) => ({ ...r, bytes: r.bytes === undefined ? undefined : r.bytes.length })) }));
  }
`;

interface Report {
  meta: { trigger: string; reason: string; bytes: number; thread: number; details: Record<string, unknown> };
  path?: string;
  error?: { code: string; message: string };
  skipped?: string;
  bytes?: number;
  timings: { stackMs: number; buildMs: number; writeMs: number; totalMs: number };
}

interface ChildResult {
  watchdog?: { state: string; failure?: { code: string; message: string }; stalls: number; snapshots: number; skipped: number; errors: number };
  reports: Report[];
  [key: string]: unknown;
}

function runChild(script: string, dir: string, flags: string[] = []): ChildResult {
  const out = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', PRELUDE + script], {
    encoding: 'utf8',
    timeout: 90_000,
    env: { ...process.env, NFR_STALL_DIR: dir },
  });
  assert.equal(out.status, 0, `child failed (${out.status ?? out.signal}): ${out.stderr}`);
  // The watchdog prints nothing, in its life or at exit.
  assert.equal(out.stderr, '');
  const lines = out.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `the child printed only its result: ${out.stdout}`);
  return JSON.parse(lines[0]) as ChildResult;
}

function withDir(run: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'nfr-stall-'));
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The snapshot files in `dir` and their sidecars. */
function snapshots(dir: string): { trace: string; sidecar: string }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.nfrt'))
    .map((f) => ({ trace: join(dir, f), sidecar: join(dir, f.replace(/\.nfrt$/, '.json')) }));
}

/** A snapshot, validated; `stall` is its newest stall event (a window may hold earlier ones too: `stallsInWindow` 'some'). */
function readSnapshot(file: string, stallsInWindow: number | 'some' = 1): { bytes: Buffer; events: TraceEvent[]; stall: EventOf<'stall'> } {
  const bytes = readFileSync(file);
  assert.deepEqual(validate(bytes), [], 'the snapshot validates');
  const events = [...new Reader(bytes)];
  const stalls = events.filter((e): e is EventOf<'stall'> => e.kind === 'stall');
  if (stallsInWindow !== 'some') assert.equal(stalls.length, stallsInWindow, 'the snapshot holds the stall');
  else assert.ok(stalls.length >= 1, 'the snapshot holds the stall');
  return { bytes, events, stall: stalls[stalls.length - 1] };
}

const STANDARD_WATCHDOG = `{ threshold: 200, cooldown: 0, sink: { dir, maxFiles: 10, maxTotalBytes: 1e9 }, budget: SnapshotBudget.create(5, 60000).state }`;

test('a request handler that blocks the loop: the snapshot is written while it blocks, with its stack and the request in flight', () => {
  withDir((dir) => {
    const result = runChild(
      `
      const fr = new FlightRecorder();
      fr.start();
      const wd = startStallWatchdog(${STANDARD_WATCHDOG}, onReport);
      const ready = await wd.ready;

      // Hashes a report in small chunks, like a handler that does too much work synchronously.
      // It stops once the snapshot file exists, which only the watchdog's thread can write while
      // this loop runs; the deadline ends it if that never happens.
      function hashReportsSynchronously(deadline) {
        let chunk = 0;
        while (Date.now() < deadline) {
          crypto.createHash('sha256').update('report chunk ' + chunk++).digest();
          if (chunk % 32 === 0 && snapshotWritten()) return true;
        }
        return false;
      }
      const server = http.createServer((req, res) => {
        const sawSnapshot = hashReportsSynchronously(Date.now() + 20000);
        res.end(JSON.stringify({ sawSnapshot }));
      });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const answer = await new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: server.address().port, path: '/reports/42' }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve(JSON.parse(body)));
        }).on('error', reject);
      });
      await until(() => reports.length > 0, 'the report');
      // The window once the loop has recovered: it holds the whole blocked turn as well.
      fs.writeFileSync(dir + '/window-after.bin', fr.snapshotSync());
      server.close();
      await wd.stop();
      await fr.stop();
      print({ ready, answer }, wd);
      `,
      dir,
    );
    assert.equal(result.ready, true);
    assert.deepEqual(result.answer, { sawSnapshot: true }, 'the snapshot was written while the handler blocked');
    const files = snapshots(dir);
    assert.equal(files.length, 1);
    const { bytes, events, stall } = readSnapshot(files[0].trace);

    // The cause: the stalled turn, with the main thread's stack taken while it was stuck.
    assert.equal(stall.blockedThread, 0);
    assert.ok(stall.blocked >= 200e6, `blocked ${stall.blocked} ns, at least the threshold`);
    assert.ok(stall.thread !== 0, 'written by the watchdog thread');
    assert.ok(stall.stack.some((f) => f.functionName === 'hashReportsSynchronously'), JSON.stringify(stall.stack));
    assert.ok(stall.stack.every((f) => f.line > 0 && f.url !== ''), 'frames have their scripts and 1-based lines');
    assert.ok(events.some((e) => e.kind === 'threadName' && e.thread === stall.thread && e.name === 'nfr stall watchdog'));

    // The request in flight: it began, and had not ended when the snapshot was taken.
    const request = events.find((e): e is EventOf<'httpRequest'> => e.kind === 'httpRequest' && e.path === '/reports/42');
    assert.ok(request !== undefined, 'the request is in the snapshot');
    assert.ok(!events.some((e) => e.kind === 'httpResponse' && e.task === request.task), 'and had not been answered');

    // The sidecar, and the report the main thread got afterwards.
    const sidecar = JSON.parse(readFileSync(files[0].sidecar, 'utf8'));
    assert.equal(sidecar.trigger, 'stall');
    assert.equal(sidecar.reason, 'loop stall');
    assert.equal(sidecar.details.stackTaken, 'paused');
    assert.equal(sidecar.details.stillBlocked, true);
    assert.ok(sidecar.details.stack.some((f: string) => f.startsWith('hashReportsSynchronously (')));
    assert.equal(sidecar.bytes, bytes.length);
    assert.equal(result.reports.length, 1);
    const [report] = result.reports;
    assert.equal(report.path, files[0].trace);
    assert.equal(report.bytes, bytes.length, 'the report carries the bytes, for a callback sink');
    assert.deepEqual(result.watchdog, { state: 'stopped', stalls: 1, snapshots: 1, skipped: 0, errors: 0 });

    // The analyzer reports it, naming the code and the request it held up.
    const finding = analyze(new Reader(bytes)).findings.find((f) => f.rule === 'loop-stalled');
    assert.ok(finding !== undefined, 'a loop-stalled finding');
    assert.match(finding.detail, /was stalled \d+\.\d ms .*stack: .*hashReportsSynchronously \(/);
    // The pause lands wherever the loop is: in the blocking function or in one it calls.
    assert.ok(['hashReportsSynchronously', 'snapshotWritten'].includes(finding.frame?.functionName ?? ''), `the finding's frame: ${finding.frame?.functionName}`);
    assert.equal(finding.request, 'GET /reports/42');

    // Later, the window holds the stall and the loop source's record of the whole turn.
    const after = readFileSync(join(dir, 'window-after.bin'));
    assert.deepEqual(validate(after), []);
    const later = analyze(new Reader(after)).findings.find((f) => f.rule === 'loop-stalled');
    assert.match(later?.detail ?? '', /The whole blocked turn lasted \d+\.\d ms/);

    const t = report.timings;
    console.log(`stall detected to snapshot written: ${t.totalMs} ms (stack ${t.stackMs} ms, build ${t.buildMs} ms, write ${t.writeMs} ms; ${bytes.length} bytes)`);
  });
});

test('a loop stuck in native code: the snapshot is written with no stack, and says why', () => {
  withDir((dir) => {
    const result = runChild(
      `
      const { spawnSync } = await import('node:child_process');
      const fr = new FlightRecorder();
      fr.start();
      const wd = startStallWatchdog(${STANDARD_WATCHDOG}, onReport);
      await wd.ready;
      // The main thread waits inside spawnSync (native code) for a process that polls the directory.
      const poll = "const fs = require('fs'); const end = Date.now() + 20000; (function poll() { if (fs.readdirSync(process.env.NFR_STALL_DIR).some((f) => f.endsWith('.nfrt'))) process.exit(0); if (Date.now() > end) process.exit(1); setTimeout(poll, 5); })();";
      function waitForSnapshotInNativeCode() {
        return spawnSync(process.execPath, ['-e', poll], { timeout: 25000 }).status === 0;
      }
      const sawSnapshot = waitForSnapshotInNativeCode();
      await until(() => reports.length > 0, 'the report');
      // The main thread goes on: not left paused by a debugger request that arrived late.
      let ticks = 0;
      const ticking = setInterval(() => ticks++, 1);
      await until(() => ticks >= 5, 'timers to run');
      clearInterval(ticking);
      await wd.stop();
      await fr.stop();
      print({ sawSnapshot }, wd);
      `,
      dir,
    );
    assert.equal(result.sawSnapshot, true, 'the snapshot was written while the main thread was in native code');
    const files = snapshots(dir);
    assert.equal(files.length, 1);
    const { stall } = readSnapshot(files[0].trace);
    assert.deepEqual(stall.stack, []);
    assert.ok(stall.blocked >= 200e6);
    const details = result.reports[0].meta.details;
    assert.equal(details.stackTaken, 'native');
    assert.equal(details.mainThreadStuckInNative, true);
    assert.equal(details.stillBlocked, true);
    assert.match(String(details.note), /native code/);
    const finding = analyze(new Reader(readFileSync(files[0].trace))).findings.find((f) => f.rule === 'loop-stalled');
    assert.match(finding?.title ?? '', /no JavaScript stack \(native code\)/);
  });
});

test('a loop blocked in Atomics.wait: V8 serves the inspector there, so the stack is taken', () => {
  withDir((dir) => {
    const result = runChild(
      `
      const { Worker } = await import('node:worker_threads');
      const fr = new FlightRecorder();
      fr.start();
      const wd = startStallWatchdog(${STANDARD_WATCHDOG}, onReport);
      await wd.ready;
      // A helper thread releases the lock once the snapshot exists.
      const lock = new Int32Array(new SharedArrayBuffer(4));
      const helper = new Worker(\`(async () => {
        const { workerData } = await import('node:worker_threads');
        const fs = await import('node:fs');
        const lock = new Int32Array(workerData.lock);
        const end = Date.now() + 20000;
        (function poll() {
          const found = fs.readdirSync(workerData.dir).some((f) => f.endsWith('.nfrt'));
          if (found || Date.now() > end) { Atomics.store(lock, 0, found ? 1 : 2); Atomics.notify(lock, 0); return; }
          setTimeout(poll, 5);
        })();
      })();\`, { eval: true, workerData: { lock: lock.buffer, dir } });
      function waitForLockSynchronously() {
        return Atomics.wait(lock, 0, 0, 20000);
      }
      const woken = waitForLockSynchronously();
      await until(() => reports.length > 0, 'the report');
      await helper.terminate();
      await wd.stop();
      await fr.stop();
      print({ woken, sawSnapshot: lock[0] === 1 }, wd);
      `,
      dir,
    );
    assert.equal(result.woken, 'ok');
    assert.equal(result.sawSnapshot, true, 'the snapshot was written while the main thread waited');
    const files = snapshots(dir);
    assert.equal(files.length, 1);
    const { stall } = readSnapshot(files[0].trace);
    assert.ok(stall.stack.some((f) => f.functionName === 'waitForLockSynchronously'), JSON.stringify(stall.stack));
    assert.equal(result.reports[0].meta.details.stackTaken, 'paused');
    assert.equal(result.reports[0].meta.details.stillBlocked, true);
  });
});

test('an unwritable directory: the report says why, and the application goes on', () => {
  withDir((dir) => {
    // A directory under a regular file cannot be made, even by root.
    writeFileSync(join(dir, 'a-file'), '');
    const unwritable = join(dir, 'a-file', 'snapshots');
    const result = runChild(
      `
      const fr = new FlightRecorder();
      fr.start();
      const wd = startStallWatchdog({ threshold: 200, cooldown: 0, sink: { dir: ${JSON.stringify(unwritable)}, maxFiles: 10, maxTotalBytes: 1e9 }, budget: SnapshotBudget.create(5, 60000).state }, onReport);
      await wd.ready;
      const server = http.createServer((req, res) => {
        const failed = blockUntil(() => wd.errors > 0);
        res.end(JSON.stringify({ failed }));
      });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const answer = await (await fetch('http://127.0.0.1:' + server.address().port + '/')).json();
      await until(() => reports.length > 0, 'the report');
      const afterwards = await (await fetch('http://127.0.0.1:' + server.address().port + '/again')).text();
      server.close();
      await wd.stop();
      await fr.stop();
      print({ answer, state: wd.state }, wd);
      `,
      dir,
    );
    assert.deepEqual(result.answer, { failed: true }, 'the write failed while the loop was blocked');
    assert.equal(result.reports.length, 1);
    const [report] = result.reports;
    assert.equal(report.error?.code, 'ERR_SINK_FAILED');
    assert.match(report.error?.message ?? '', /a-file/);
    assert.equal(report.path, undefined);
    assert.ok((report.bytes ?? 0) > 0, 'the snapshot is still handed over, for a callback sink');
    assert.equal(result.watchdog?.errors, 1);
    assert.equal(result.watchdog?.snapshots, 0);
    assert.deepEqual(readdirSync(dir), ['a-file']);
  });
});

test('the shared rate limit: two stalls in a row with a budget of one give one snapshot and one skip', () => {
  withDir((dir) => {
    const result = runChild(
      `
      const fr = new FlightRecorder();
      fr.start();
      const budget = SnapshotBudget.create(1, 60000);
      const wd = startStallWatchdog({ threshold: 200, cooldown: 0, sink: { dir, maxFiles: 10, maxTotalBytes: 1e9 }, budget: budget.state }, onReport);
      await wd.ready;
      const first = blockUntil(snapshotWritten);
      await until(() => reports.length === 1, 'the first report');
      await nextHeartbeat();
      // The budget is shared memory: this thread sees the watchdog's skip while still blocked.
      const second = blockUntil(() => budget.skipped === 1);
      await until(() => reports.length === 2, 'the second report');
      await wd.stop();
      await fr.stop();
      print({ first, second }, wd);
      `,
      dir,
    );
    assert.equal(result.first, true);
    assert.equal(result.second, true);
    assert.equal(snapshots(dir).length, 1);
    assert.deepEqual(result.reports.map((r) => r.skipped), [undefined, 'rateLimit']);
    assert.equal(result.reports[1].meta.bytes, 0);
    assert.equal(result.reports[1].bytes, undefined);
    assert.deepEqual(result.watchdog, { state: 'stopped', stalls: 2, snapshots: 1, skipped: 1, errors: 0 });
  });
});

test('the cooldown: a second stall right after a snapshot is skipped', () => {
  withDir((dir) => {
    const result = runChild(
      `
      const fr = new FlightRecorder();
      fr.start();
      const wd = startStallWatchdog({ threshold: 200, cooldown: 60000, sink: { dir, maxFiles: 10, maxTotalBytes: 1e9 }, budget: SnapshotBudget.create(5, 60000).state }, onReport);
      await wd.ready;
      const first = blockUntil(snapshotWritten);
      await until(() => reports.length === 1, 'the first report');
      await nextHeartbeat();
      const second = blockUntil(() => wd.skipped === 1);
      await until(() => reports.length === 2, 'the second report');
      await wd.stop();
      await fr.stop();
      print({ first, second }, wd);
      `,
      dir,
    );
    assert.equal(result.first, true);
    assert.equal(result.second, true);
    assert.equal(snapshots(dir).length, 1);
    assert.deepEqual(result.reports.map((r) => r.skipped), [undefined, 'cooldown']);
    assert.deepEqual(result.watchdog, { state: 'stopped', stalls: 2, snapshots: 1, skipped: 1, errors: 0 });
  });
});

test('a stall while another thread writes at full speed: the snapshot from shared memory still validates', () => {
  withDir((dir) => {
    // Tables and events of a busy worker are read while it writes: every event's strings must
    // be in the snapshot (events are read before tables), and no batch of a run may be missing.
    const result = runChild(
      `
      const { Worker } = await import('node:worker_threads');
      const fr = new FlightRecorder({ period: 50, level: 'detailed' });
      fr.start();
      const wd = startStallWatchdog({ threshold: 200, cooldown: 0, sink: { dir, maxFiles: 10, maxTotalBytes: 1e9 }, budget: SnapshotBudget.create(10, 60000).state }, onReport);
      await wd.ready;
      const stop = new Int32Array(new SharedArrayBuffer(4));
      const writer = new Worker(\`(async () => {
        const { workerData, parentPort } = await import('node:worker_threads');
        const { trace } = await import(workerData.index);
        const stop = new Int32Array(workerData.stop);
        parentPort.postMessage('writing');
        for (let i = 0; Atomics.load(stop, 0) === 0; i++) trace.log('busy', 'a new string ' + i);
      })();\`, { eval: true, workerData: { index: ${JSON.stringify(urls.index)}, stop: stop.buffer } });
      await new Promise((resolve) => writer.once('message', resolve));
      const stalls = [];
      for (let i = 0; i < 3; i++) {
        stalls.push(blockUntil(() => wd.snapshots + wd.errors > i));
        await until(() => reports.length > i, 'a report');
        await nextHeartbeat();
      }
      Atomics.store(stop, 0, 1);
      await writer.terminate();
      await wd.stop();
      await fr.stop();
      print({ stalls }, wd);
      `,
      dir,
    );
    assert.deepEqual(result.stalls, [true, true, true]);
    assert.equal(result.watchdog?.errors, 0);
    const files = snapshots(dir);
    assert.equal(files.length, 3);
    for (const file of files) {
      // The busy thread fills the window (10 MiB) within a second or two: earlier stalls may have left it.
      const { events } = readSnapshot(file.trace, 'some');
      assert.ok(events.filter((e) => e.kind === 'log' && e.category === 'busy').length > 0, 'the busy thread is in it');
    }
  });
});

test('a main thread paused in a debugger: no snapshot, and the debugger\'s pause is left alone', () => {
  withDir((dir) => {
    // A debugger (here a session on another thread, like a developer's breakpoint) pauses the
    // main thread. The watchdog sees the heartbeat stop, takes the budget, and finds the thread
    // paused as it enables the debugger: that is not a stall, and it must not resume it.
    const result = runChild(
      `
      const { Worker } = await import('node:worker_threads');
      const fr = new FlightRecorder();
      fr.start();
      const budget = SnapshotBudget.create(1, 60000);
      const wd = startStallWatchdog({ threshold: 200, cooldown: 0, sink: { dir, maxFiles: 10, maxTotalBytes: 1e9 }, budget: budget.state }, onReport);
      await wd.ready;
      const debuggerThread = new Worker(\`(async () => {
        const { workerData, parentPort } = await import('node:worker_threads');
        const { Session } = await import('node:inspector');
        const { SnapshotBudget } = await import(workerData.budgetUrl);
        const budget = new SnapshotBudget(workerData.budget);
        const alive = setInterval(() => {}, 1000);
        const session = new Session();
        session.connectToMainThread();
        let resumedByOther = false;
        let resuming = false;
        let acted = false;
        session.on('Debugger.resumed', () => {
          if (!resuming) {
            resumedByOther = true;
            return;
          }
          // Disconnected before this thread ends, and kept alive until the main thread ends it:
          // Node (seen on 24) aborts the process when the main thread handles a session's close
          // after the session's thread has gone.
          session.post('Debugger.disable', () => {
            session.disconnect();
            parentPort.postMessage({ acted, resumedByOther });
          });
        });
        session.once('Debugger.paused', () => {
          const deadline = Date.now() + 20000;
          (function holdUntilTheWatchdogActed() {
            if (budget.remaining() > 0 && Date.now() < deadline) return setTimeout(holdUntilTheWatchdogActed, 5);
            acted = budget.remaining() === 0;
            // The watchdog acts within milliseconds of taking the budget; the pause is held well past that.
            setTimeout(() => {
              resuming = true;
              session.post('Debugger.resume');
            }, 2000);
          })();
        });
        session.post('Debugger.enable', () => session.post('Debugger.pause'));
      })();\`, { eval: true, workerData: { budget: budget.state, budgetUrl: ${JSON.stringify(urls.budget)} } });
      let debuggerSaw;
      debuggerThread.on('message', (m) => (debuggerSaw = m));
      // Runs JavaScript (where the debugger's pause lands) until the debugger let the thread go.
      await until(() => debuggerSaw !== undefined, 'the debugger to resume');
      await until(() => reports.length > 0, 'the report');
      await wd.stop();
      await fr.stop();
      // The main thread ran JavaScript since the debugger closed its session, so it has handled the close.
      await debuggerThread.terminate();
      print({ debuggerSaw }, wd);
      `,
      dir,
    );
    assert.deepEqual(result.debuggerSaw, { acted: true, resumedByOther: false });
    assert.deepEqual(result.reports.map((r) => r.skipped), ['debuggerPaused']);
    assert.deepEqual(readdirSync(dir), []);
  });
});

const permissionFlag = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';

test('no worker threads allowed (permission model): the watchdog is off, and the application goes on', () => {
  withDir((dir) => {
    const result = runChild(
      `
      const fr = new FlightRecorder();
      fr.start();
      const wd = startStallWatchdog(${STANDARD_WATCHDOG}, onReport);
      const ready = await wd.ready;
      const recording = fr.enabled;
      await fr.stop();
      print({ ready, recording }, wd);
      `,
      dir,
      [permissionFlag, '--allow-fs-read=*', '--no-warnings'],
    );
    assert.equal(result.ready, false);
    assert.equal(result.recording, true);
    assert.equal(result.watchdog?.state, 'failed');
    assert.equal(result.watchdog?.failure?.code, 'ERR_ACCESS_DENIED');
  });
});

test('no inspector allowed (permission model): the snapshot is written without a stack, and the process does not abort', () => {
  withDir((dir) => {
    // Calling connectToMainThread() from a worker there aborts the whole process in Node: the
    // watchdog must know not to. It is not stopped either: it must not keep the process alive.
    const result = runChild(
      `
      const fr = new FlightRecorder();
      fr.start();
      const wd = startStallWatchdog(${STANDARD_WATCHDOG}, onReport);
      await wd.ready;
      const sawSnapshot = blockUntil(snapshotWritten);
      await until(() => reports.length > 0, 'the report');
      print({ sawSnapshot }, wd);
      `,
      dir,
      [permissionFlag, '--allow-fs-read=*', '--allow-fs-write=*', '--allow-worker', '--no-warnings'],
    );
    assert.equal(result.sawSnapshot, true);
    const details = result.reports[0].meta.details;
    assert.equal(details.stackTaken, 'unavailable');
    assert.match(String(details.note), /permission model denies the inspector/);
    const { stall } = readSnapshot(snapshots(dir)[0].trace);
    assert.deepEqual(stall.stack, []);
  });
});
