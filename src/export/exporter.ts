/**
 * What the converters have in common: events in (in reader order), output chunks out, so a
 * caller streams a trace of any size through them with bounded memory.
 */
import type { TraceEvent } from '../reader/events.js';
import type { TimelineFacts, TimelineStats, TimelineWriter } from './timeline.js';

/** The output formats of `nfr convert`. */
export type ExportFormat = 'perfetto' | 'chrome';

export interface Exporter extends TimelineWriter {
  readonly format: ExportFormat;
  /** Feeds the next event, in the order the reader hands them out. */
  event(event: TraceEvent): void;
  /** Ends what is still open at the end of the trace and writes the trailer. Call once, last. */
  finish(): void;
  /** The output written since the last call, in order (UTF-8 for Chrome JSON); the chunks are the caller's. */
  take(): Uint8Array[];
  /**
   * Gives back a chunk of `take()` that the caller is done with (written out), to be written into
   * again rather than new memory. Optional: a chunk never given back is left to the collector.
   */
  recycle(chunk: Uint8Array): void;
  /** How many bytes of output wait to be taken, to decide when to take them. */
  readonly buffered: number;
  /** What the conversion had to approximate or leave out. */
  readonly stats: TimelineStats;
  /**
   * What the writer asks of the timeline: by default the exporter's own builder, which
   * `event()` feeds. A caller that runs a {@link TimelineBuilder} elsewhere (another thread) and
   * calls the {@link TimelineWriter} methods itself sets what that builder knows here instead.
   */
  facts: TimelineFacts;
}
