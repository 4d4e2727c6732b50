import { FlightRecorder, Reader, trace, tracerStatus, type TraceEvent } from '../../src/index.js';
import { MemorySink } from './sinks.js';
import { waitFor } from './wait.js';

/**
 * Runs `body` under a fresh flight recorder and returns its snapshot. By default it records
 * only annotations (level 'none'), so tests see exactly what they wrote.
 */
export async function recordSnapshot(body: () => void | Promise<void>, options: ConstructorParameters<typeof FlightRecorder>[0] = { level: 'none' }): Promise<Buffer> {
  const fr = new FlightRecorder(options);
  fr.start();
  try {
    await body();
    const sink = new MemorySink();
    await fr.writeTo(sink);
    return sink.bytes();
  } finally {
    await fr.stop();
  }
}

/** A streamed trace of `generations` generations, each with a few logs and regions. */
export async function recordStreamed(generations: number): Promise<Buffer> {
  const sink = new MemorySink();
  trace.start(sink, { period: 5, level: 'none' });
  for (let g = 0; g < generations; g++) {
    const task = trace.newTask(`task ${g}`);
    task.log('gen', `generation ${g}`);
    task.withRegion('work', () => trace.metric('g', g));
    task.end();
    const target = tracerStatus().generation + 1;
    await waitFor(() => tracerStatus().generation >= target, 'a generation to end');
  }
  await trace.stop();
  return sink.bytes();
}

/**
 * What an annotations-only recorder sees during `ms` after a source was stopped: a timer or
 * observer the source left behind would write into it. Absence can only be watched for a while.
 */
export async function eventsAfterStop(ms: number): Promise<TraceEvent[]> {
  const probe = new FlightRecorder({ level: 'none' });
  probe.start();
  try {
    const stoppedAt = performance.now();
    await waitFor(() => performance.now() - stoppedAt > ms, `${ms} ms to pass`);
    const sink = new MemorySink();
    await probe.writeTo(sink);
    return [...new Reader(sink.bytes())];
  } finally {
    await probe.stop();
  }
}
