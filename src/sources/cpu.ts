import type * as Inspector from 'node:inspector';
import { createRequire } from 'node:module';
import { NfrError } from '../errors/errors.js';
import type { StackFrame } from '../format/events.js';
import { traceNow } from '../tracer/clock.js';
import { tracerRuntime } from '../tracer/runtime.js';
import { Ctl } from '../tracer/shared-state.js';
import { registerSource, type Settings, type SourceContext, type SourceHandle } from '../tracer/sources.js';

/**
 * CPU samples: V8's sampling profiler, driven through an in-process inspector session, cut at
 * every generation end into `cpuSample` events whose stacks go to the generation's stack table.
 *
 * How a generation's samples are taken. The tracer calls `flush()` just before a generation
 * ends: it stops the profile (`Profiler.stop`, whose callback runs synchronously, within the
 * call, for a session on the thread itself), writes the profile's samples into the ending
 * generation, and queues a microtask that starts the next profile. The microtask runs once the
 * tracer has finished switching generations, so every sample of the next profile is taken
 * after the next generation started: each generation holds exactly the samples taken inside
 * it. What runs between the flush and the microtask (the tracer finishing the generation end)
 * is not sampled.
 *
 * Why an "anchor" profile. The inspector disposes of its V8 `CpuProfiler` whenever its last
 * profile stops, and starting one again makes V8 log every compiled function anew: a stop and
 * start measured 4-12 ms for a small script, 70-120 ms with 20,000 functions and 400-500 ms with
 * 100,000, a pause of the main thread at every generation end. A second profile kept running
 * across the cut keeps the profiler alive, which brings a stop and start below 0.5 ms. The inspector offers
 * one protocol-started profile per session, so the anchor is a console profile
 * (`inspector.console.profile`). It records samples too, so it is replaced (a new one first,
 * then the old one ended) every {@link ANCHOR_MAX_SAMPLES} samples, which bounds its memory.
 * Console profiles reach every inspector session that enabled the profiler: Node's own
 * coverage (`NODE_V8_COVERAGE`) and `--cpu-prof` sessions print each of them to stderr, so when
 * either is on the source runs without an anchor and pays the full restart at every generation
 * end. A debugger that enabled the profiler sees the anchor's profiles come and go.
 *
 * Time. V8 stamps profiles in microseconds of `base::TimeTicks`, which on Linux reads
 * `CLOCK_MONOTONIC`, the clock `process.hrtime` (libuv's `uv_hrtime`) reads too (on macOS and
 * Windows both read the system's one high-resolution counter as well). So a sample's trace time is
 * `timestamp_us * 1000 - epoch_ns`, the epoch being the trace clock's origin in hrtime ns
 * (kept in the control block). Checked twice: each profile's `startTime` must fall between two
 * trace-clock readings taken around `Profiler.start` (it does, within a few µs); where it does
 * not (a platform on which the clocks differ), the profile is placed by those readings instead.
 * And the tests check that samples of a busy function fall between trace markers written
 * before and after it.
 *
 * Which samples are kept. `(idle)` samples are dropped: the thread waited in the event loop,
 * which the absence of samples already says (and the loop source records), and an idle
 * process would otherwise write a sample every interval (about 600 bytes/s at 10 ms) that says
 * nothing more. `(program)` (native code
 * outside JavaScript: compiling, Node's C++ side) and `(garbage collector)` are kept: they are
 * CPU time the application pays. Samples taken while `Profiler.start` runs are dropped: V8 adds
 * one of the current stack to every profile it starts, which shows only the recorder.
 *
 * Only the thread the tracer's hub runs on (the main thread) is sampled; worker threads have
 * isolates of their own.
 */

/** Samples the anchor may hold before it is replaced: about a minute at the default 10 ms. */
const ANCHOR_MAX_SAMPLES = 6000;

/**
 * How far (ns) a profile's start may lie outside the trace-clock readings around `Profiler.start`
 * and still be taken as read on the trace clock. On the same clock it lies inside them (V8 rounds
 * it down to the µs); different clocks differ by far more.
 */
const CLOCK_TOLERANCE_NS = 100_000;

const ANCHOR_TITLE_PREFIX = 'node-flight-recorder anchor (keeps the profiler alive; ignore)';

/** Nodes V8 adds at the root of every profile. */
const IDLE = '(idle)';
const ROOT = '(root)';

type InspectorModule = typeof Inspector;
type Profile = Inspector.Profiler.Profile;

/** Loads the inspector only when the source starts: on a Node built without it, importing it throws. */
function loadInspector(): InspectorModule {
  try {
    return createRequire(import.meta.url)('node:inspector') as InspectorModule;
  } catch (err) {
    throw new NfrError('ERR_SOURCE_UNSUPPORTED', `cpu: this Node.js has no inspector, which the CPU profiler is reached through (${messageOf(err)})`);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Why the anchor would disturb another of the process's inspector sessions; undefined when nothing is known to. */
function anchorConflict(): string | undefined {
  if ((process.env.NODE_V8_COVERAGE ?? '') !== '') return 'NODE_V8_COVERAGE is set';
  const cpuProf = /(^|\s)--cpu-prof(\s|=|$)/;
  if (process.execArgv.some((a) => cpuProf.test(a)) || cpuProf.test(process.env.NODE_OPTIONS ?? '')) return '--cpu-prof is on';
  return undefined;
}

/** The trace clock's epoch in hrtime ns, from the control block. */
function traceEpoch(): bigint {
  return new BigInt64Array(tracerRuntime().memory.control, Ctl.epoch * 4, 1)[0];
}

/**
 * The stacks of a profile's nodes, innermost frame first, indexed by node id; `null` for nodes
 * whose samples are dropped. Built for the sampled nodes only, once per profile, so writing a
 * sample allocates nothing.
 */
function nodeStacks(profile: Profile): (readonly StackFrame[] | null | undefined)[] {
  const nodes = profile.nodes;
  let maxId = 0;
  for (const node of nodes) if (node.id > maxId) maxId = node.id;
  const parent = new Int32Array(maxId + 1);
  const frame: (StackFrame | undefined)[] = new Array(maxId + 1);
  for (const node of nodes) {
    const cf = node.callFrame;
    if (node.children !== undefined) for (const child of node.children) parent[child] = node.id;
    // The root stands for "everything": it is no frame of any stack.
    if (cf.functionName === ROOT && cf.url === '') continue;
    frame[node.id] = {
      functionName: cf.functionName,
      url: cf.url,
      line: cf.lineNumber >= 0 ? cf.lineNumber + 1 : 0,
      column: cf.columnNumber >= 0 ? cf.columnNumber + 1 : 0,
    };
  }
  const stacks: (readonly StackFrame[] | null | undefined)[] = new Array(maxId + 1);
  for (const id of profile.samples ?? []) {
    if (stacks[id] !== undefined) continue;
    const own = frame[id];
    if (own === undefined || (own.functionName === IDLE && own.url === '')) {
      stacks[id] = null;
      continue;
    }
    const frames: StackFrame[] = [];
    // Walk to the root; the depth bound guards against a malformed tree with a cycle.
    for (let at = id; at !== 0 && frames.length <= nodes.length; at = parent[at]) {
      const f = frame[at];
      if (f !== undefined) frames.push(f);
    }
    stacks[id] = frames;
  }
  return stacks;
}

class CpuProfilerSource implements SourceHandle {
  private readonly session: Inspector.Session;
  private readonly epoch = traceEpoch();
  /** Title of the running anchor profile; undefined when none runs. */
  private anchorTitle: string | undefined;
  private anchorSerial = 0;
  private anchorSamples = 0;
  private readonly anchorAllowed: boolean;
  /** True while our protocol-started profile runs. */
  private profiling = false;
  private restartQueued = false;
  private stopped = false;
  /** Trace-clock readings taken just before and after the running profile's `Profiler.start`. */
  private startedAfter = 0;
  private startedBefore = 0;
  private readonly restart: () => void;
  private readonly onConsoleProfileFinished: (message: Inspector.InspectorNotification<Inspector.Profiler.ConsoleProfileFinishedEventDataType>) => void;

  constructor(
    private readonly inspector: InspectorModule,
    private readonly ctx: SourceContext,
    intervalMs: number,
  ) {
    this.anchorAllowed = anchorConflict() === undefined;
    this.restart = ctx.guard(() => {
      this.restartQueued = false;
      if (!this.stopped && !this.profiling) this.startProfile();
    });
    // A user's console.profileEnd() without a title ends the profile started last, which may be
    // the anchor: it is then started again at the next cut, while our own profile still runs.
    this.onConsoleProfileFinished = (message) => {
      if (message.params.title === this.anchorTitle) this.anchorTitle = undefined;
    };
    let session: Inspector.Session;
    try {
      session = new inspector.Session();
      session.connect();
    } catch (err) {
      // Not "unsupported": this Node has the inspector, but something (the permission model) refuses it.
      const code = (err as { code?: unknown }).code;
      const why = code === 'ERR_ACCESS_DENIED' ? 'the permission model denies the inspector (allow it with --allow-inspector)' : messageOf(err);
      throw new Error(`cpu: cannot open an inspector session for the CPU profiler: ${why}`, { cause: err });
    }
    this.session = session;
    try {
      session.on('Profiler.consoleProfileFinished', this.onConsoleProfileFinished);
      this.call('Profiler.enable');
      this.call('Profiler.setSamplingInterval', { interval: Math.max(1, Math.round(intervalMs * 1000)) });
      this.ensureAnchor();
      this.startProfile();
    } catch (err) {
      this.stop();
      throw err;
    }
  }

  flush(): void {
    if (!this.profiling) return; // two generation ends in one synchronous run: the restart is still queued
    try {
      // Keeps the profiler alive across the cut.
      this.ensureAnchor();
      const profile = this.call('Profiler.stop').profile;
      this.profiling = false;
      this.writeSamples(profile);
      this.renewAnchor(profile.samples?.length ?? 0);
    } finally {
      this.profiling = false;
      if (!this.restartQueued && !this.stopped) {
        this.restartQueued = true;
        queueMicrotask(this.restart);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    const steps: (() => void)[] = [
      () => {
        if (this.profiling) this.call('Profiler.stop');
      },
      // Ended explicitly, not by the disconnect: the other sessions that received it end their copies too.
      () => this.endAnchor(),
      () => this.session.off('Profiler.consoleProfileFinished', this.onConsoleProfileFinished),
      () => this.session.disconnect(),
    ];
    this.profiling = false;
    for (const step of steps) {
      try {
        step();
      } catch (err) {
        this.ctx.error(err);
      }
    }
  }

  private startProfile(): void {
    this.startedBefore = traceNow();
    this.call('Profiler.start');
    this.startedAfter = traceNow();
    this.profiling = true;
  }

  private writeSamples(profile: Profile): void {
    const samples = profile.samples;
    const deltas = profile.timeDeltas;
    if (samples === undefined || deltas === undefined || samples.length === 0) return;
    const stacks = nodeStacks(profile);
    const startUs = profile.startTime;
    let startNs = Number(BigInt(Math.round(startUs)) * 1000n - this.epoch);
    if (startNs < this.startedBefore - CLOCK_TOLERANCE_NS || startNs > this.startedAfter + CLOCK_TOLERANCE_NS) {
      // Not the trace clock's clock: place the profile by the readings taken around its start.
      startNs = (this.startedBefore + this.startedAfter) / 2;
    }
    const tracer = this.ctx.tracer;
    const from = this.startedAfter;
    let us = startUs;
    for (let i = 0; i < samples.length; i++) {
      us += deltas[i];
      const frames = stacks[samples[i]];
      if (frames === null || frames === undefined) continue;
      const time = startNs + (us - startUs) * 1000;
      if (time < from) continue;
      tracer.cpuSample(time, frames);
    }
  }

  private ensureAnchor(): void {
    if (!this.anchorAllowed || this.anchorTitle !== undefined) return;
    this.anchorTitle = `${ANCHOR_TITLE_PREFIX} ${process.pid}.${++this.anchorSerial}`;
    this.anchorSamples = 0;
    this.inspector.console.profile(this.anchorTitle);
  }

  /** Replaces the anchor once it holds many samples: the new one starts before the old one ends, so the profiler stays alive. */
  private renewAnchor(samples: number): void {
    if (this.anchorTitle === undefined) return;
    this.anchorSamples += samples;
    if (this.anchorSamples < ANCHOR_MAX_SAMPLES) return;
    const old = this.anchorTitle;
    this.anchorTitle = undefined;
    this.ensureAnchor();
    this.inspector.console.profileEnd(old);
  }

  private endAnchor(): void {
    const title = this.anchorTitle;
    this.anchorTitle = undefined;
    if (title !== undefined) this.inspector.console.profileEnd(title);
  }

  /**
   * Posts a protocol command and returns its result. A session connected on its own thread
   * answers within `post`; the cut relies on that, so anything else is an error.
   */
  private call(method: 'Profiler.stop'): Inspector.Profiler.StopReturnType;
  private call(method: string, params?: object): object;
  private call(method: string, params?: object): object {
    let answered = false;
    let failure: Error | null = null;
    let result: object | undefined;
    this.session.post(method, params, (err: Error | null, value?: object) => {
      answered = true;
      failure = err;
      result = value;
    });
    if (!answered) throw new Error(`cpu: the inspector did not answer ${method} synchronously`);
    if (failure !== null) throw new Error(`cpu: inspector ${method} failed: ${messageOf(failure)}`, { cause: failure });
    return result ?? {};
  }
}

registerSource({
  name: 'cpu',
  settings: {
    interval: {
      default: 10,
      kind: 'ms',
      merge: 'min',
      doc: 'Sampling interval of the CPU profiler, in ms. A busy thread costs about 13 trace bytes per sample (stack tables included); an idle one writes none.',
    },
  },
  start(ctx: SourceContext, settings: Settings): SourceHandle {
    return new CpuProfilerSource(loadInspector(), ctx, settings.interval as number);
  },
});
