import * as workerThreads from 'node:worker_threads';
import { NfrError } from '../errors/errors.js';
import { ChunkPool } from './chunk-pool.js';
import { initClock, mainThreadEpoch } from './clock.js';
import { Hub } from './hub.js';
import { Ctl, createSharedTraceMemory, ENVIRONMENT_KEY, Slot, slotWord, type SharedTraceMemory } from './shared-state.js';
import { ThreadTracer } from './thread-tracer.js';
import { claimSlot, markExited } from './worker-slots.js';

/**
 * The process's tracer on this thread, made when the library loads:
 *
 * - on the main thread (or a worker whose parent does not run the library), the shared memory,
 *   this thread's writer and the hub, which owns generations and subscribers. The memory is
 *   handed to every worker this thread creates, through worker_threads environment data;
 * - on a worker whose parent runs the library, the parent's memory and a writer of its own:
 *   the worker joins the parent's tracer by itself, with no code in the application, and its
 *   batches reach the parent's recorders without copies.
 */
export interface TracerRuntime {
  readonly memory: SharedTraceMemory;
  readonly thread: ThreadTracer;
  /** Undefined on a worker that joined its parent's tracer: recorders run on the main thread. */
  readonly hub: Hub | undefined;
}

let runtime: TracerRuntime | undefined;

/** This thread's runtime, made on first use. */
export function tracerRuntime(): TracerRuntime {
  if (runtime === undefined) runtime = createRuntime();
  return runtime;
}

/**
 * The hub of this thread's tracer. Throws on a worker that joined its parent's tracer, where
 * recorders do not run: their events go to the main thread's recorders.
 */
export function tracerHub(what: string): Hub {
  const hub = tracerRuntime().hub;
  if (hub === undefined) {
    throw new NfrError('ERR_RECORDER_IN_WORKER', `${what} runs on the main thread: this worker joined the main thread's tracer, and its events go to the recorders started there`);
  }
  return hub;
}

let controlWords: Int32Array | undefined;
let nextTask = 0;
let taskLimit = 0;

/** Task ids a thread takes from the shared counter at once: one atomic operation per block, not per task. */
const TASK_ID_BLOCK = 256;

/** A task id unique in the process, across threads (increasing on each thread, not across them). */
export function nextTaskId(): number {
  if (nextTask === taskLimit) {
    controlWords ??= new Int32Array(tracerRuntime().memory.control);
    nextTask = Atomics.add(controlWords, Ctl.nextTaskId, TASK_ID_BLOCK) + 1;
    taskLimit = nextTask + TASK_ID_BLOCK;
  }
  return nextTask++;
}

/** The runtime if something made it already; never makes one. */
export function existingRuntime(): TracerRuntime | undefined {
  return runtime;
}

/** This thread's writer if the runtime exists; undefined otherwise (nothing was ever traced). */
export function existingThreadTracer(): ThreadTracer | undefined {
  return runtime?.thread;
}

function isSharedMemory(value: unknown): value is SharedTraceMemory {
  const m = value as SharedTraceMemory | undefined;
  return m !== undefined && m !== null && m.control instanceof SharedArrayBuffer && m.pool instanceof SharedArrayBuffer;
}

function threadName(): string {
  const named = (workerThreads as { threadName?: string }).threadName;
  if (workerThreads.isMainThread) return 'main';
  return typeof named === 'string' && named !== '' && named !== 'WorkerThread' ? named : `worker ${workerThreads.threadId}`;
}

function createRuntime(): TracerRuntime {
  const inherited = workerThreads.isMainThread ? undefined : workerThreads.getEnvironmentData(ENVIRONMENT_KEY);
  const made = isSharedMemory(inherited) ? join(inherited) : own();
  // Workers this thread creates join the same tracer, and their exit is noticed here.
  workerThreads.setEnvironmentData(ENVIRONMENT_KEY, made.memory as never);
  const words = new Int32Array(made.memory.control);
  process.on('worker', (worker) => {
    const id = worker.threadId; // -1 once it has exited
    worker.once('exit', () => markExited(words, id));
  });
  return made;
}

function own(): TracerRuntime {
  const memory = createSharedTraceMemory();
  const epoch = mainThreadEpoch();
  new BigInt64Array(memory.control, Ctl.epoch * 4, 1)[0] = epoch;
  initClock(epoch);
  const hub = new Hub(memory, workerThreads.threadId, threadName());
  return { memory, thread: hub.main, hub };
}

/**
 * Set in a worker's `workerData` by the library's own threads (the stall watchdog): such a
 * thread writes whenever the tracer runs, whether or not the threads source lets workers record.
 */
export const SERVICE_THREAD = 'node-flight-recorder/service-thread';

function isServiceThread(): boolean {
  const data = workerThreads.workerData as Record<string, unknown> | null | undefined;
  return data !== null && typeof data === 'object' && data[SERVICE_THREAD] === true;
}

function join(memory: SharedTraceMemory): TracerRuntime {
  const words = new Int32Array(memory.control);
  initClock(new BigInt64Array(memory.control, Ctl.epoch * 4, 1)[0]);
  const pool = new ChunkPool(memory);
  const slot = claimSlot(words, workerThreads.threadId);
  // Full batches are found by the main thread's scan, so there is nothing to report them to.
  const noSink = { sealed: () => undefined };
  const thread = new ThreadTracer(pool, workerThreads.threadId, threadName(), noSink, {
    generationWord: slot < 0 ? Ctl.never : isServiceThread() ? Ctl.generation : Ctl.workerGeneration,
    eventsPositionWord: slot >= 0 ? slotWord(slot, Slot.events) : -1,
    tablesPositionWord: slot >= 0 ? slotWord(slot, Slot.tables) : -1,
  });
  // Say who this thread is right away, in case the worker never writes anything else.
  thread.begin();
  return { memory, thread, hub: undefined };
}
