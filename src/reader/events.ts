import type { ArgType, ClockSnapshot, EVENTS, StackFrame, TimedEventName } from '../format/events.js';

/** Decoded events: a discriminated union on `kind`, derived from the event table. */

type ArgValue<T extends ArgType> = T extends 'u' | 'f64' ? number : T extends 'str' | 'text' ? string : T extends 'stack' | 'frames' ? readonly StackFrame[] : never;

type BackdatedArg<S> = S extends { backdatedBy: infer B } ? B : never;

type Fields<S extends { args: readonly (readonly [string, ArgType])[] }> = {
  [A in S['args'][number] as A[0] extends BackdatedArg<S> ? never : A[0]]: ArgValue<A[1]>;
};

/** A timed event of the table, with its arguments as fields (strings and stacks resolved). */
export type TimedEvent<K extends TimedEventName = TimedEventName> = K extends TimedEventName
  ? {
      readonly kind: K;
      /** Trace time in ns. For a backdated event (`range`), when it began. */
      readonly time: number;
      readonly thread: number;
    } & Readonly<Fields<(typeof EVENTS)[K]>>
  : never;

/** Process facts carried by every generation. */
export interface ProcessInfo {
  pid: number;
  nodeVersion: string;
  platform: string;
  arch: string;
  hostname: string;
  title: string;
}

/**
 * A sync point: emitted at the start of every generation and once at the end of the trace, with
 * the clock snapshot taken there. `n` counts sync events from 1 in this reading.
 */
export interface SyncEvent {
  readonly kind: 'sync';
  readonly time: number;
  readonly thread: number;
  readonly n: number;
  /** The generation that starts here, or for the last sync, the one that ends. */
  readonly generation: number;
  /** True for the sync at the end of the trace. */
  readonly final: boolean;
  readonly frequency: number;
  readonly clock: ClockSnapshot;
  readonly process: ProcessInfo | undefined;
}

/** A streaming trace dropped these whole generations because its destination was too slow. */
export interface GenerationsLostEvent {
  readonly kind: 'generationsLost';
  /** Time of the last event before the gap. */
  readonly time: number;
  readonly thread: number;
  readonly first: number;
  readonly count: number;
  readonly bytes: number;
}

export type TraceEvent = SyncEvent | GenerationsLostEvent | TimedEvent;

export type EventKind = TraceEvent['kind'];

/** The event of one kind: `EventOf<'log'>`. */
export type EventOf<K extends EventKind> = Extract<TraceEvent, { kind: K }>;
