import type * as Inspector from 'node:inspector';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { frameLocation } from '../analysis/stacks.js';
import type { StackFrame } from '../format/events.js';
import { ChunkPool } from '../tracer/chunk-pool.js';
import { traceNow } from '../tracer/clock.js';
import { tracerRuntime } from '../tracer/runtime.js';
import { snapshotSharedMemory } from '../tracer/shared-snapshot.js';
import { Ctl } from '../tracer/shared-state.js';
import { DirectorySink } from './directory-sink.js';
import { SnapshotBudget } from './snapshot-budget.js';
import { snapshotMeta } from './snapshot-meta.js';
import { Counter, type StallReport, type StallStackOutcome, type StallWorkerData, type StallWorkerMessage, type StallWorkerReport } from './stall-watchdog.js';

/**
 * The stall watchdog's thread (see stall-watchdog.ts for the whole design). It joins the main
 * thread's tracer as a service thread, watches the heartbeat the main thread writes into the
 * control block, and when the main thread has not beaten for `threshold` ms past when it was
 * due, it takes the main thread's JavaScript stack through the inspector, writes a `stall`
 * event with it, builds a snapshot from shared memory and writes it to the sink, all while the
 * main thread is still blocked. The report goes to the main thread, which reads it once its
 * loop runs again.
 *
 * Nothing here may crash or print: every failure becomes a report's `error`.
 */

const data = workerData as StallWorkerData;
const port = parentPort!;
const THREAD_NAME = 'nfr stall watchdog';

const runtime = tracerRuntime();
// Joined, or it would watch and snapshot a tracer of its own: the main thread makes its runtime
// before it starts this thread, so the shared memory is in the environment data.
if (runtime.hub !== undefined) throw new Error("the stall watchdog's thread found no tracer of the main thread to join");
const tracer = runtime.thread;
const pool = new ChunkPool(runtime.memory);
const heartbeat = new Float64Array(runtime.memory.control, Ctl.heartbeat * 4, 1);
const budget = new SnapshotBudget(data.budget);
const sink = data.sink === undefined ? undefined : new DirectorySink(data.sink);
const intervalNs = data.interval * 1e6;
const thresholdNs = data.threshold * 1e6;
const counters = new Int32Array(data.counters);

// Node before 22 has no Worker `name`: the trace names this thread anyway.
if (tracer.name !== THREAD_NAME) {
  tracer.name = THREAD_NAME;
  tracer.threadName(THREAD_NAME);
}

let timer: NodeJS.Timeout | undefined;
/** When the pending check was due (trace ns): a check that runs much later means this thread was not running either. */
let dueAt = 0;
/** The heartbeat of the stall handled last: no second snapshot until the main thread beats again. */
let handledBeat = -1;
/** A stall seen right after this thread itself was late: confirmed at the next check. */
let suspect = false;
let lastSnapshot = -Infinity;
let busy = false;
let stopping = false;
/** Inspector sessions still waiting for the main thread's last answer (see takeMainStack). */
let openSessions = 0;

function post(message: StallWorkerMessage, transfer?: ArrayBuffer[]): void {
  try {
    port.postMessage(message, transfer);
  } catch {
    // The main thread is gone (process exiting): nobody to tell.
  }
}

function schedule(delayNs: number): void {
  if (stopping) return;
  const delay = Math.max(1, Math.min(Math.ceil(delayNs / 1e6), 2 ** 31 - 1));
  dueAt = traceNow() + delay * 1e6;
  timer = setTimeout(check, delay);
}

/**
 * Checks the heartbeat. The main thread writes it every `interval` ms from a timer; when the
 * timer is `threshold` ms overdue, a single turn of its loop has been running at least that
 * long (timers run at every turn). The next check is due when the current heartbeat would be
 * that much overdue, so a busy but healthy process wakes this thread about once per threshold.
 */
function check(): void {
  timer = undefined;
  if (stopping || busy) return;
  const now = traceNow();
  const late = now - dueAt;
  const beat = heartbeat[0];
  if (beat === 0 || beat === handledBeat) {
    schedule(intervalNs);
    return;
  }
  const overdue = now - beat - intervalNs;
  if (overdue < thresholdNs) {
    suspect = false;
    schedule(thresholdNs - overdue);
    return;
  }
  if (late > intervalNs && !suspect) {
    // This thread ran late too: the whole process may have been stopped (SIGSTOP, a suspended
    // machine, a starved container). Give the main thread one interval to beat before calling it a stall.
    suspect = true;
    schedule(intervalNs);
    return;
  }
  suspect = false;
  handledBeat = beat;
  busy = true;
  void onStall(beat, now).finally(() => {
    busy = false;
    if (stopping) {
      if (openSessions === 0) exit();
    } else {
      schedule(intervalNs);
    }
  });
}

/** Ms the main thread's loop has been stuck at least, at trace time `now`. */
function stuckMs(beat: number, now: number): number {
  return Math.max(0, now - beat - intervalNs) / 1e6;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

async function onStall(beat: number, detected: number): Promise<void> {
  // The tracer is not running: there is nothing to snapshot, and no reason to touch the main thread.
  if (Atomics.load(pool.words, Ctl.generation) === 0) return;
  const blockedAtDetection = stuckMs(beat, detected);
  Atomics.add(counters, Counter.stalls, 1);
  const skip = (skipped: NonNullable<StallReport['skipped']>) => {
    Atomics.add(counters, Counter.skipped, 1);
    const meta = snapshotMeta('stall', 'loop stall', { blockedMs: round1(blockedAtDetection), thresholdMs: data.threshold }, 0);
    post({ type: 'report', report: { meta, skipped, timings: { stackMs: 0, buildMs: 0, writeMs: 0, totalMs: 0 } } });
  };
  try {
    // Cheap refusals first: taking the stack costs the main thread time (see takeMainStack).
    if (Date.now() - lastSnapshot < data.cooldown) return skip('cooldown');
    if (!budget.tryTake()) return skip('rateLimit');
    const stack = await takeMainStack(data.stackTimeout);
    const stacked = traceNow();
    if (stack.outcome === 'debuggerPaused') return skip('debuggerPaused');
    const now = traceNow();
    const blockedNs = Math.max(0, Math.round(now - beat - intervalNs));
    tracer.stall(0, blockedNs, stack.frames);
    const bytes = snapshotSharedMemory(pool);
    const built = traceNow();
    if (bytes === undefined) return; // the tracer stopped meanwhile
    const stillBlocked = heartbeat[0] === beat;
    const details: Record<string, unknown> = {
      blockedMs: round1(blockedNs / 1e6),
      thresholdMs: data.threshold,
      stack: stack.frames.map(frameLocation),
      stackTaken: stack.outcome,
      stillBlocked,
    };
    if (stack.outcome === 'native') details.mainThreadStuckInNative = true;
    if (stack.note !== undefined) details.note = stack.note;
    const meta = snapshotMeta('stall', 'loop stall', details, bytes.length);
    lastSnapshot = Date.now();
    const report: StallWorkerReport = { meta, timings: { stackMs: 0, buildMs: 0, writeMs: 0, totalMs: 0 } };
    if (sink !== undefined) {
      try {
        report.path = sink.writeSync(bytes, meta);
      } catch (err) {
        report.error = sinkErrorOf(err);
      }
    }
    Atomics.add(counters, report.error === undefined ? Counter.snapshots : Counter.errors, 1);
    const written = traceNow();
    report.timings = {
      stackMs: round1((stacked - detected) / 1e6),
      buildMs: round1((built - stacked) / 1e6),
      writeMs: round1((written - built) / 1e6),
      totalMs: round1((written - detected) / 1e6),
    };
    const transfer: ArrayBuffer[] = [];
    if (data.deliverBytes) {
      // Transferred, not copied: the snapshot owns its whole buffer.
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
      report.bytes = whole.buffer as ArrayBuffer;
      transfer.push(report.bytes);
    }
    post({ type: 'report', report }, transfer);
  } catch (err) {
    Atomics.add(counters, Counter.errors, 1);
    const meta = snapshotMeta('stall', 'loop stall', { blockedMs: round1(blockedAtDetection), thresholdMs: data.threshold }, 0);
    post({ type: 'report', report: { meta, error: errorOf(err), timings: { stackMs: 0, buildMs: 0, writeMs: 0, totalMs: 0 } } });
  }
}

/** A sink's failure as `ERR_SINK_FAILED`, whatever it threw (a failed clean-up can throw a bare system error). */
function sinkErrorOf(err: unknown): { code: string; message: string } {
  const error = errorOf(err);
  if (error.code === 'ERR_SINK_FAILED') return error;
  return { code: 'ERR_SINK_FAILED', message: `could not write a snapshot in ${sink?.dir}: ${error.code !== 'ERR_STALL_WATCHDOG' ? `${error.code}: ` : ''}${error.message}` };
}

function errorOf(err: unknown): { code: string; message: string } {
  const code = (err as { code?: unknown })?.code;
  return { code: typeof code === 'string' ? code : 'ERR_STALL_WATCHDOG', message: err instanceof Error ? err.message : String(err) };
}

// ---- the main thread's stack ----

interface MainStack {
  frames: StackFrame[];
  outcome: StallStackOutcome;
  note?: string;
}

let inspectorModule: typeof Inspector | null | undefined;

function loadInspector(): typeof Inspector | undefined {
  if (inspectorModule === undefined) {
    try {
      inspectorModule = createRequire(import.meta.url)('node:inspector') as typeof Inspector;
    } catch {
      inspectorModule = null;
    }
  }
  return inspectorModule ?? undefined;
}

function toFrames(callFrames: readonly Inspector.Debugger.CallFrame[], scripts: ReadonlyMap<string, string>): StackFrame[] {
  return callFrames.map((cf) => ({
    functionName: cf.functionName,
    // V8 leaves the deprecated `url` of a call frame empty: the script's comes from its scriptParsed.
    url: cf.url !== undefined && cf.url !== '' ? cf.url : (scripts.get(cf.location.scriptId) ?? ''),
    line: cf.location.lineNumber + 1,
    column: cf.location.columnNumber !== undefined ? cf.location.columnNumber + 1 : 0,
  }));
}

/**
 * The main thread's JavaScript stack, taken while it is blocked: a session connected to the
 * main thread enables the debugger and pauses it, reads the paused call frames, and resumes.
 *
 * The main thread serves such a session through V8 interrupts, which run only while it runs
 * JavaScript (or waits in `Atomics.wait`, which V8 wakes for interrupts). Stuck in native code
 * (a synchronous crypto, zlib or file call, `child_process.execSync`), it answers nothing
 * until that call returns: after `timeout` ms the stack is given up as empty, outcome `native`.
 * The pause is sent only once the debugger answered it is enabled, which means the main thread
 * was serving interrupts a moment ago; so a pause almost never arrives late. When it does (the
 * thread entered native code in between), the resume and the disable that follow it in the
 * queue undo it: a pause already taken is resumed, and with no other debugger session
 * enabled, V8 drops a pending break when the debugger is disabled.
 *
 * Costs on the main thread, which is stalled already: enabling the debugger makes V8 announce
 * every loaded script to the session (measured about 15 ms with 130 scripts and 100 ms with
 * 3,100), then the pause itself takes about a millisecond.
 *
 * Another debugger. When the main thread is already paused (a developer's breakpoint), V8
 * announces the pause to our session as it enables the debugger, before answering the enable:
 * that is not a stall, and that pause is never resumed from here (outcome `debuggerPaused`);
 * nor is one that stops the thread for another reason than ours (a breakpoint) in between.
 * Disabling our debugger and disconnecting leave such a pause in place: V8 leaves its nested
 * loop only when no session still enabled accepts the pause. A debugger attached but not
 * paused sees our pause (reason `other`) and our resume, a millisecond apart.
 */
function takeMainStack(timeout: number): Promise<MainStack> {
  if (data.noStack !== undefined) return Promise.resolve({ frames: [], outcome: 'unavailable', note: `the stack cannot be taken: ${data.noStack}` });
  const inspector = loadInspector();
  if (inspector === undefined) return Promise.resolve({ frames: [], outcome: 'unavailable', note: 'this Node.js has no inspector: the stack cannot be taken' });
  let session: Inspector.Session;
  try {
    session = new inspector.Session();
    session.connectToMainThread();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why = code === 'ERR_ACCESS_DENIED' ? 'the permission model denies the inspector' : err instanceof Error ? err.message : String(err);
    return Promise.resolve({ frames: [], outcome: 'unavailable', note: `the stack cannot be taken: ${why}` });
  }
  const send = (method: string, callback?: (err: Error | null) => void): void => {
    try {
      session.post(method, (err: Error | null) => callback?.(err));
    } catch (err) {
      callback?.(err as Error);
    }
  };
  return new Promise<MainStack>((resolve) => {
    const scripts = new Map<string, string>();
    let enabled = false;
    let pausing = false;
    let done = false;
    let earlier: StackFrame[] | undefined;
    const finish = (result: MainStack) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      // A pause sent but not seen yet must not outlive us: resume (an error if it is not
      // paused), then disable; the main thread handles them in this order. The session is
      // closed once the main thread has answered the disable (which may be long after, if it
      // is in native code): with no domain enabled it then sends this thread nothing more.
      // This thread must not end before that: Node (seen on 24) aborts the process when the
      // main thread sends a message to an inspector session of a thread that is ending.
      if (pausing && result.outcome !== 'paused') send('Debugger.resume');
      openSessions++;
      send('Debugger.disable', () => {
        try {
          session.disconnect();
        } catch {
          // already closed
        }
        openSessions--;
        if (openSessions === 0 && stopping && !busy) exit();
      });
      resolve(result);
    };
    const deadline = setTimeout(() => {
      finish(
        enabled
          ? { frames: [], outcome: 'native', note: 'the main thread did not pause in time: it went into native code right after the debugger was enabled' }
          : { frames: [], outcome: 'native', note: `the main thread did not answer the inspector within ${timeout} ms: it is in native code (a synchronous call into Node or an addon), which JavaScript stacks do not show` },
      );
    }, timeout);
    session.on('Debugger.scriptParsed', (message) => {
      const p = message.params;
      if (p.url !== '') scripts.set(p.scriptId, p.url);
    });
    session.on('Debugger.paused', (message) => {
      const frames = toFrames(message.params.callFrames, scripts);
      if (!enabled) {
        // Announced while enabling: somebody else's pause. Not ours to resume.
        earlier = frames;
        return;
      }
      if (done) return;
      if (message.params.reason !== 'other') {
        // Another session's breakpoint (or exception pause) hit before ours: the thread stays
        // paused for that session, and our pause request is moot. Never resume it.
        pausing = false;
        finish({ frames, outcome: 'debuggerPaused', note: `the main thread stopped in a debugger (${message.params.reason})` });
        return;
      }
      pausing = false;
      send('Debugger.resume');
      finish({ frames, outcome: 'paused' });
    });
    send('Debugger.enable', (err) => {
      enabled = true;
      if (done) return;
      if (err !== null) {
        finish({ frames: [], outcome: 'unavailable', note: `the debugger could not be enabled: ${err.message}` });
        return;
      }
      if (earlier !== undefined) {
        finish({ frames: earlier, outcome: 'debuggerPaused', note: 'the main thread is paused in a debugger' });
        return;
      }
      pausing = true;
      send('Debugger.pause', (err) => {
        if (err !== null) finish({ frames: [], outcome: 'unavailable', note: `the main thread could not be paused: ${err.message}` });
      });
    });
  });
}

// ---- life ----

/**
 * Ends the thread once the main thread has answered: closing an inspector session is handled by
 * the main thread later, through an interrupt, and Node (seen on 24) aborts the process when that
 * happens after the session's thread has gone. The main thread's answer comes from JavaScript,
 * which runs after its pending interrupts.
 */
function exit(): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  post({ type: 'exiting' });
}

port.on('message', (message: { type?: string }) => {
  if (message?.type === 'exit') {
    port.close();
    return;
  }
  if (message?.type !== 'stop') return;
  stopping = true;
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  if (!busy && openSessions === 0) exit();
});

schedule(intervalNs);
post({ type: 'ready' });
