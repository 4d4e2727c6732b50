import { registerSource, type Settings, type SourceContext, type SourceHandle, type SourceModule } from '../tracer/sources.js';

/**
 * The `memory` source: the process's memory every `interval` ms, from `process.memoryUsage()`,
 * as metrics in **bytes**:
 * - `memory.heapUsed`, `memory.heapTotal`: the V8 heap of the tracer's thread, used and reserved;
 * - `memory.external`: memory of C++ objects bound to JavaScript objects (buffers among them);
 * - `memory.arrayBuffers`: the part of `external` held by `ArrayBuffer`s and `SharedArrayBuffer`s
 *   (the trace memory itself is one of them);
 * - `memory.rss`: the resident set size of the whole process.
 */

function start(ctx: SourceContext, settings: Settings): SourceHandle {
  const tracer = ctx.tracer;
  const sample = ctx.guard(() => {
    const usage = process.memoryUsage();
    tracer.metric('memory.heapUsed', usage.heapUsed);
    tracer.metric('memory.heapTotal', usage.heapTotal);
    tracer.metric('memory.external', usage.external);
    tracer.metric('memory.arrayBuffers', usage.arrayBuffers);
    tracer.metric('memory.rss', usage.rss);
  });
  // A first sample at once, so a window taken soon after the start already has one.
  sample();
  const timer = setInterval(sample, settings.interval as number);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
    },
  };
}

const memory: SourceModule = {
  name: 'memory',
  settings: {
    interval: { default: 500, kind: 'ms', merge: 'min', doc: 'How often memory usage is written, in ms.' },
  },
  start,
};

registerSource(memory);
