import protobuf from 'protobufjs';

/**
 * Reads a Perfetto trace the way trace processor does, with Perfetto's own schema (the subset in
 * test/fixtures/perfetto/perfetto_trace.proto): packets in file order build the interning state
 * of their sequence (reset by SEQ_INCREMENTAL_STATE_CLEARED); then events are sorted by
 * timestamp (ties in file order) and each track's BEGIN/END events are matched as a stack.
 * Everything that trace processor would reject or misread is listed in `problems`.
 */

const schemaPath = new URL('../../../test/fixtures/perfetto/perfetto_trace.proto', import.meta.url).pathname;

export interface PTrack {
  uuid: string;
  parent: string | undefined;
  name: string | undefined;
  pid?: number;
  tid?: number;
  threadName?: string;
  processName?: string;
  counterUnit?: string;
  isCounter: boolean;
}

export interface PSlice {
  track: string;
  name: string;
  category: string;
  begin: number;
  end: number;
  args: Record<string, unknown>;
  flowIds: string[];
  terminatingFlowIds: string[];
}

export interface PInstant {
  track: string;
  name: string;
  category: string;
  time: number;
  args: Record<string, unknown>;
  flowIds: string[];
  callstack: { functionName: string; sourceFile?: string; lineNumber?: number }[] | undefined;
}

export interface PCounter {
  track: string;
  time: number;
  value: number;
}

export interface PSnapshot {
  clocks: Map<number, bigint>;
  primary: string | undefined;
}

export interface DecodedPerfetto {
  packets: Record<string, any>[];
  tracks: Map<string, PTrack>;
  slices: PSlice[];
  instants: PInstant[];
  counters: PCounter[];
  snapshots: PSnapshot[];
  problems: string[];
}

let traceType: protobuf.Type | undefined;

async function traceMessage(): Promise<protobuf.Type> {
  traceType ??= (await protobuf.load(schemaPath)).lookupType('perfetto.protos.Trace');
  return traceType;
}

interface RawEvent {
  index: number;
  ts: number;
  type: string;
  track: string;
  name: string;
  category: string;
  args: Record<string, unknown>;
  flowIds: string[];
  terminatingFlowIds: string[];
  value?: number;
  callstack?: PInstant['callstack'];
}

export async function decodePerfetto(bytes: Uint8Array): Promise<DecodedPerfetto> {
  const Trace = await traceMessage();
  const decoded = Trace.toObject(Trace.decode(bytes), { longs: String, enums: String, defaults: false }) as { packet?: Record<string, any>[] };
  const packets = decoded.packet ?? [];
  const problems: string[] = [];
  const tracks = new Map<string, PTrack>();
  const snapshots: PSnapshot[] = [];
  const raw: RawEvent[] = [];
  // Interning state of the (only) sequence, and every iid ever given, which may never change meaning.
  let names = new Map<string, string>();
  let categories = new Map<string, string>();
  let annotationNames = new Map<string, string>();
  const everIid = new Map<string, string>();
  let stateValid = false;

  packets.forEach((p, index) => {
    if (p.trustedPacketSequenceId !== 1) problems.push(`packet ${index}: trusted_packet_sequence_id ${p.trustedPacketSequenceId}`);
    const flags = p.sequenceFlags ?? 0;
    if (flags & 1) {
      stateValid = true;
      names = new Map();
      categories = new Map();
      annotationNames = new Map();
      if (p.tracePacketDefaults?.timestampClockId !== 64) problems.push(`packet ${index}: cleared state without the clock default`);
    } else if (!(flags & 2)) {
      problems.push(`packet ${index}: neither SEQ_INCREMENTAL_STATE_CLEARED nor SEQ_NEEDS_INCREMENTAL_STATE`);
    }
    if (!stateValid) problems.push(`packet ${index}: before any SEQ_INCREMENTAL_STATE_CLEARED (trace processor drops it)`);
    const interned = p.internedData;
    if (interned !== undefined) {
      const add = (table: Map<string, string>, entries: { iid: string; name: string }[] | undefined, kind: string): void => {
        for (const { iid, name } of entries ?? []) {
          const before = everIid.get(`${kind}:${iid}`);
          if (before !== undefined && before !== name) problems.push(`packet ${index}: ${kind} iid ${iid} reused for "${name}" (was "${before}")`);
          everIid.set(`${kind}:${iid}`, name);
          table.set(iid, name);
        }
      };
      add(categories, interned.eventCategories, 'category');
      add(names, interned.eventNames, 'name');
      add(annotationNames, interned.debugAnnotationNames, 'annotation');
    }
    if (p.clockSnapshot !== undefined) {
      const clocks = new Map<number, bigint>();
      for (const c of p.clockSnapshot.clocks ?? []) clocks.set(c.clockId, BigInt(c.timestamp ?? 0));
      snapshots.push({ clocks, primary: p.clockSnapshot.primaryTraceClock });
    }
    const d = p.trackDescriptor;
    if (d !== undefined) {
      const track: PTrack = {
        uuid: d.uuid,
        parent: d.parentUuid,
        name: d.name,
        pid: d.process?.pid ?? d.thread?.pid,
        tid: d.thread?.tid,
        threadName: d.thread?.threadName,
        processName: d.process?.processName,
        counterUnit: d.counter?.unit,
        isCounter: d.counter !== undefined,
      };
      const earlier = tracks.get(d.uuid);
      if (earlier !== undefined && (earlier.parent !== track.parent || earlier.pid !== track.pid || earlier.tid !== track.tid)) problems.push(`packet ${index}: track ${d.uuid} described twice differently`);
      if (track.parent !== undefined && !tracks.has(track.parent)) problems.push(`packet ${index}: track ${d.uuid} has unknown parent ${track.parent}`);
      tracks.set(d.uuid, track);
    }
    const te = p.trackEvent;
    if (te !== undefined) {
      if (p.timestamp === undefined) problems.push(`packet ${index}: track event without timestamp`);
      if (!tracks.has(te.trackUuid)) problems.push(`packet ${index}: track event on undeclared track ${te.trackUuid}`);
      const resolve = (table: Map<string, string>, iid: string | undefined, what: string): string => {
        if (iid === undefined) return '';
        const s = table.get(iid);
        if (s === undefined) problems.push(`packet ${index}: ${what} iid ${iid} not interned on the sequence`);
        return s ?? '';
      };
      const args: Record<string, unknown> = {};
      for (const a of te.debugAnnotations ?? []) {
        const key = resolve(annotationNames, a.nameIid, 'annotation name');
        args[key] = a.stringValue ?? (a.uintValue !== undefined ? Number(a.uintValue) : a.intValue !== undefined ? Number(a.intValue) : a.doubleValue ?? a.boolValue);
      }
      raw.push({
        index,
        ts: Number(p.timestamp),
        type: te.type,
        track: te.trackUuid,
        name: resolve(names, te.nameIid, 'name'),
        category: (te.categoryIids ?? []).map((iid: string) => resolve(categories, iid, 'category')).join(','),
        args,
        flowIds: te.flowIds ?? [],
        terminatingFlowIds: te.terminatingFlowIds ?? [],
        value: te.doubleCounterValue,
        callstack: te.callstack?.frames,
      });
    }
  });

  // Trace processor sorts by timestamp (ties keep file order), then matches each track's slices.
  const sorted = [...raw].sort((a, b) => a.ts - b.ts || a.index - b.index);
  const stacks = new Map<string, RawEvent[]>();
  const slices: PSlice[] = [];
  const instants: PInstant[] = [];
  const counters: PCounter[] = [];
  for (const e of sorted) {
    if (e.type === 'TYPE_SLICE_BEGIN') {
      let stack = stacks.get(e.track);
      if (stack === undefined) stacks.set(e.track, (stack = []));
      stack.push(e);
    } else if (e.type === 'TYPE_SLICE_END') {
      const begin = stacks.get(e.track)?.pop();
      if (begin === undefined) {
        problems.push(`packet ${e.index}: END on track ${e.track} with no open slice`);
        continue;
      }
      // The writer puts each END right after its BEGIN: the END must close that very slice.
      if (begin.index !== e.index - 1) problems.push(`packet ${e.index}: END on track ${e.track} closes "${begin.name}" (packet ${begin.index}), not its own BEGIN`);
      slices.push({ track: e.track, name: begin.name, category: begin.category, begin: begin.ts, end: e.ts, args: begin.args, flowIds: begin.flowIds, terminatingFlowIds: begin.terminatingFlowIds });
    } else if (e.type === 'TYPE_INSTANT') {
      instants.push({ track: e.track, name: e.name, category: e.category, time: e.ts, args: e.args, flowIds: e.flowIds, callstack: e.callstack });
    } else if (e.type === 'TYPE_COUNTER') {
      if (!tracks.get(e.track)?.isCounter) problems.push(`packet ${e.index}: counter value on a track without CounterDescriptor`);
      counters.push({ track: e.track, time: e.ts, value: e.value ?? NaN });
    } else {
      problems.push(`packet ${e.index}: track event of type ${e.type}`);
    }
  }
  for (const [track, stack] of stacks) if (stack.length > 0) problems.push(`track ${track}: ${stack.length} slices never end`);
  return { packets, tracks, slices, instants, counters, snapshots, problems };
}
