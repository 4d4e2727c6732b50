import { constants, PerformanceObserver, type PerformanceEntry, type PerformanceObserverEntryList } from 'node:perf_hooks';
import { fromPerformanceTime } from '../tracer/clock.js';
import { registerSource, type SourceContext, type SourceHandle, type SourceModule } from '../tracer/sources.js';

/**
 * The `gc` source: every garbage collection of the tracer's thread as a `range` event, category
 * `gc`, name the collection's kind (`minor`, `major`, `incremental`, `weakcb`), detail the
 * collection's flags by name, comma-separated (`forced`, `scheduleIdle`, ...; empty for none).
 *
 * The entries come from a `PerformanceObserver` on `gc` entries, which Node delivers some time
 * after the collection; each range carries the collection's real start (`entry.startTime`) and
 * duration, and the reader places it there. Before each generation ends the source takes the
 * entries Node has queued but not yet delivered, so a snapshot holds the collections up to a
 * moment before it was taken.
 */

const KINDS = new Map<number, string>([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);

const FLAGS: readonly (readonly [number, string])[] = [
  [constants.NODE_PERFORMANCE_GC_FLAGS_CONSTRUCT_RETAINED, 'constructRetained'],
  [constants.NODE_PERFORMANCE_GC_FLAGS_FORCED, 'forced'],
  [constants.NODE_PERFORMANCE_GC_FLAGS_SYNCHRONOUS_PHANTOM_PROCESSING, 'synchronousPhantomProcessing'],
  [constants.NODE_PERFORMANCE_GC_FLAGS_ALL_AVAILABLE_GARBAGE, 'allAvailableGarbage'],
  [constants.NODE_PERFORMANCE_GC_FLAGS_ALL_EXTERNAL_MEMORY, 'allExternalMemory'],
  [constants.NODE_PERFORMANCE_GC_FLAGS_SCHEDULE_IDLE, 'scheduleIdle'],
];

/** Flag names by flags value, built once per value seen (a handful), so writing a range allocates nothing. */
const flagNames = new Map<number, string>();

function describeFlags(flags: number): string {
  let names = flagNames.get(flags);
  if (names === undefined) {
    names = FLAGS.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name).join(',');
    if (flagNames.size < 256) flagNames.set(flags, names);
  }
  return names;
}

function kindName(kind: number): string {
  return KINDS.get(kind) ?? `kind ${kind}`;
}

/** The shape of a gc entry: `detail` since Node 16; `kind`/`flags` on the entry itself before (deprecated since). */
interface GcEntry extends PerformanceEntry {
  readonly detail?: { kind?: number; flags?: number } | null;
  readonly kind?: number;
  readonly flags?: number;
}

function start(ctx: SourceContext): SourceHandle {
  const tracer = ctx.tracer;

  const write = (entry: GcEntry): void => {
    const detail = entry.detail;
    // The entry's own `kind` and `flags` are read only where `detail` is missing: elsewhere they warn as deprecated.
    const kind = detail != null ? (detail.kind ?? 0) : (entry.kind ?? 0);
    const flags = detail != null ? (detail.flags ?? 0) : (entry.flags ?? 0);
    tracer.range(fromPerformanceTime(entry.startTime), Math.max(0, entry.duration) * 1e6, 'gc', kindName(kind), describeFlags(flags));
  };

  const observer = new PerformanceObserver(
    ctx.guard((list: PerformanceObserverEntryList) => {
      const entries = list.getEntries();
      for (let i = 0; i < entries.length; i++) write(entries[i] as GcEntry);
    }),
  );
  observer.observe({ entryTypes: ['gc'] });

  return {
    stop() {
      observer.disconnect();
    },
    flush() {
      const entries = observer.takeRecords();
      for (let i = 0; i < entries.length; i++) write(entries[i] as GcEntry);
    },
  };
}

const gc: SourceModule = { name: 'gc', settings: {}, start };

registerSource(gc);
