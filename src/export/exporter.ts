/**
 * What the converters have in common: events in (in reader order), output chunks out, so a
 * caller streams a trace of any size through them with bounded memory.
 */
import type { TraceEvent } from '../reader/events.js';
import type { TimelineStats } from './timeline.js';

/** The output formats of `nfr convert`. */
export type ExportFormat = 'perfetto' | 'chrome';

export interface Exporter {
  readonly format: ExportFormat;
  /** Feeds the next event, in the order the reader hands them out. */
  event(event: TraceEvent): void;
  /** Ends what is still open at the end of the trace and writes the trailer. Call once, last. */
  finish(): void;
  /** The output written since the last call, in order: binary for Perfetto, text for Chrome JSON. */
  take(): (Uint8Array | string)[];
  /** How much output waits to be taken (bytes, or UTF-16 units for text), to decide when to take it. */
  readonly buffered: number;
  /** What the conversion had to approximate or leave out. */
  readonly stats: TimelineStats;
}
