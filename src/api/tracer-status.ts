import type { HubStats } from '../tracer/hub.js';
import { existingRuntime } from '../tracer/runtime.js';

/** The shared tracer's state: generation, subscribers, trace memory in use, events dropped. */
export type TracerStatus = HubStats;

/** Reports the shared tracer's state (all zeros before anything was ever recorded). */
export function tracerStatus(): TracerStatus {
  return existingRuntime()?.hub?.stats() ?? { generation: 0, running: false, subscribers: 0, poolChunksInUse: 0, poolBytesInUse: 0, eventsLost: 0, workers: 0 };
}
