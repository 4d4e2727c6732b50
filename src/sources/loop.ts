import { createHistogram, monitorEventLoopDelay, performance, type EventLoopUtilization, type Histogram, type RecordableHistogram } from 'node:perf_hooks';
import { fromPerformanceTime } from '../tracer/clock.js';
import { registerSource, type Settings, type SourceContext, type SourceHandle, type SourceModule } from '../tracer/sources.js';

/**
 * The `loop` source: how busy and how late the event loop of the tracer's thread is, and every
 * loop turn that blocked it. No `async_hooks`.
 *
 * **Metrics**, every `interval` ms, about that interval:
 * - `loop.utilization`: event-loop utilization, 0..1 (the share of the time the loop was not
 *   waiting for I/O), from `performance.eventLoopUtilization` deltas.
 * - `loop.delay.p50`, `loop.delay.p99`, `loop.delay.max`: event-loop delay in **milliseconds**
 *   (not written for an interval without samples). Where Node can sample each loop iteration
 *   (`monitorEventLoopDelay({ samplePerIteration })`: Node 26.5+ and 24.19+, found by feature
 *   detection, not by version), a sample is how long one iteration kept the loop busy. Elsewhere
 *   (Node 20) a sample is how late the source's `resolution` timer ran, which is what
 *   `monitorEventLoopDelay`'s timer mode measures; that mode itself is not used because its
 *   `reset()` drops the pending reading, so a block that ended just before an interval's end
 *   vanished from every interval's max. The two kinds of sample differ (Node's docs say not to
 *   compare them), so an `instant` event `loop`/`delaySampling` in every generation says which
 *   the trace holds: `per-iteration` or `interval N ms`.
 *
 * **Blocked turns**: every loop turn that kept the loop busy for `blockThreshold` ms or more is
 * one `range` event, category `loop`, name `blocked`, placed at the block's real start with its
 * real duration (not at the time it was noticed).
 *
 * How blocks are found: an unref'd interval timer ticks every `resolution` ms (at most half of
 * `blockThreshold`). Timers run at the start of a loop iteration, so a turn that blocks longer
 * than the tick period holds the next tick back until just after it ends. Each tick reads the
 * loop's idle time (`performance.nodeTiming.idleTime`: the time libuv spent waiting for I/O,
 * the counter `eventLoopUtilization` is made of) and so knows how long the loop was busy since
 * the previous tick. Ticks come every `resolution` ms while turns are short, so busy time of
 * `blockThreshold` or more between two ticks means a turn held the tick back: the block ends at
 * this tick and began `busy` ms before it. (The per-iteration histogram cannot place blocks: it
 * says how long iterations took, not when.)
 *
 * Precision: the end is late by what ran between the blocking callback and the tick (the rest
 * of that loop phase, immediates, timers due before the tick); the start is early by the busy
 * time between the previous tick and the block, at most one tick period, and on a loop that was
 * idle before the block only the fraction of a millisecond it spent reaching the callback (idle
 * time does not count). Measured on 36 blocks of 55 to 500 ms per run in HTTP handlers and
 * timers, 12 runs over Node 20, 24 and 26: median error −0.1 ms at the start and +0.4 ms at the
 * end. On a machine loaded by other processes (load 5 on 2 cores) the worst seen were −72 ms and
 * +922 ms: time the process is descheduled outside the I/O wait counts as busy, so it joins the
 * block it is next to. Busy time made of short turns is reported only when one of them also held
 * the tick back by `blockThreshold − resolution` or more (a 40 ms turn among others at the 50 ms
 * default, about one time in 15): such a near-miss is one range over the busy stretch. The cost
 * is one timer callback per tick (100 per second at the default resolution), each two clock
 * reads and, on Node 20, one histogram record.
 */

/** The `monitorEventLoopDelay` option of Node 26.5 and 24.19 (the bundled types are Node 20's). */
type PerIterationOptions = Parameters<typeof monitorEventLoopDelay>[0] & { samplePerIteration?: boolean };

let perIterationOption: boolean | undefined;

/** Whether this Node's `monitorEventLoopDelay` has `samplePerIteration`, detected once. */
function hasPerIterationMode(): boolean {
  if (perIterationOption === undefined) {
    // Versions that know the option validate it; older ones ignore unknown keys silently.
    try {
      monitorEventLoopDelay({ samplePerIteration: 'probe' } as unknown as PerIterationOptions);
      perIterationOption = false;
    } catch {
      perIterationOption = true;
    }
  }
  return perIterationOption;
}

function start(ctx: SourceContext, settings: Settings): SourceHandle {
  const tracer = ctx.tracer;
  const interval = settings.interval as number;
  const threshold = settings.blockThreshold as number;
  // Ticks must come faster than the shortest block, or a block could end before its tick was
  // due; and in whole ms, as timers run.
  const tick = Math.max(1, Math.floor(Math.min(settings.resolution as number, threshold / 2)));
  // The delay samples: Node's own per iteration where it can, else the tick's lateness (see above).
  const monitor = hasPerIterationMode() ? monitorEventLoopDelay({ samplePerIteration: true } as PerIterationOptions) : undefined;
  const lateness: RecordableHistogram | undefined = monitor === undefined ? createHistogram() : undefined;
  const delays = (monitor ?? lateness) as Histogram;
  const sampling = monitor !== undefined ? 'per-iteration' : `interval ${tick} ms`;
  monitor?.enable();

  const timing = performance.nodeTiming;
  let lastTick = performance.now();
  let lastIdle = timing.idleTime;

  // Runs every tick: written out with try/catch rather than wrapped by ctx.guard, whose rest
  // parameters would allocate an array per call.
  const onTick = (): void => {
    try {
      const now = performance.now();
      const idle = timing.idleTime;
      const gap = now - lastTick;
      let busy = gap - (idle - lastIdle);
      lastTick = now;
      lastIdle = idle;
      if (lateness !== undefined) lateness.record(Math.max(1, Math.round((gap - tick) * 1e6)));
      if (busy < threshold) return;
      if (busy > gap) busy = gap;
      tracer.range(fromPerformanceTime(now - busy), busy * 1e6, 'loop', 'blocked', '');
    } catch (err) {
      ctx.error(err);
    }
  };
  const tickTimer = setInterval(onTick, tick);
  tickTimer.unref();

  let lastUtilization: EventLoopUtilization = performance.eventLoopUtilization();
  const onInterval = ctx.guard(() => {
    const current = performance.eventLoopUtilization();
    const active = current.active - lastUtilization.active;
    const total = active + current.idle - lastUtilization.idle;
    lastUtilization = current;
    if (total > 0) tracer.metric('loop.utilization', Math.min(1, Math.max(0, active / total)));
    if (delays.count > 0) {
      tracer.metric('loop.delay.p50', delays.percentile(50) / 1e6);
      tracer.metric('loop.delay.p99', delays.percentile(99) / 1e6);
      tracer.metric('loop.delay.max', delays.max / 1e6);
    }
    delays.reset();
  });
  const metricsTimer = setInterval(onInterval, interval);
  metricsTimer.unref();

  return {
    stop() {
      clearInterval(tickTimer);
      clearInterval(metricsTimer);
      monitor?.disable();
    },
    flush() {
      tracer.instant('loop', 'delaySampling', sampling);
    },
  };
}

const loop: SourceModule = {
  name: 'loop',
  settings: {
    interval: { default: 100, kind: 'ms', merge: 'min', doc: 'How often utilization and delay metrics are written, in ms.' },
    blockThreshold: { default: 50, kind: 'ms', merge: 'min', doc: 'A loop turn busy this long (ms) or longer is recorded as a `loop`/`blocked` range.' },
    resolution: { default: 10, kind: 'ms', merge: 'min', doc: 'Period of the block-detection timer in ms (at most half of blockThreshold), and of delay sampling where Node lacks per-iteration sampling.' },
  },
  start,
};

registerSource(loop);
