import { threadId } from 'node:worker_threads';
import { initClock, mainThreadEpoch } from './clock.js';
import { Hub } from './hub.js';
import { Ctl, createSharedTraceMemory, type SharedTraceMemory } from './shared-state.js';
import type { ThreadTracer } from './thread-tracer.js';

/**
 * The process's tracer, made on first use: the shared memory, this thread's writer and, on the
 * thread that owns the memory, the hub. Nothing is allocated until something asks for it, so
 * importing the library costs nothing.
 */
export interface TracerRuntime {
  readonly memory: SharedTraceMemory;
  readonly thread: ThreadTracer;
  readonly hub: Hub;
}

let runtime: TracerRuntime | undefined;

export function tracerRuntime(): TracerRuntime {
  if (runtime === undefined) runtime = createRuntime();
  return runtime;
}

/** The runtime if something made it already; never makes one. */
export function existingRuntime(): TracerRuntime | undefined {
  return runtime;
}

/** This thread's writer if the runtime exists; undefined otherwise (nothing was ever traced). */
export function existingThreadTracer(): ThreadTracer | undefined {
  return runtime?.thread;
}

function createRuntime(): TracerRuntime {
  const memory = createSharedTraceMemory();
  const epoch = mainThreadEpoch();
  new BigInt64Array(memory.control, Ctl.epoch * 4, 1)[0] = epoch;
  initClock(epoch);
  const hub = new Hub(memory, threadId, threadId === 0 ? 'main' : `worker ${threadId}`);
  return { memory, thread: hub.main, hub };
}
