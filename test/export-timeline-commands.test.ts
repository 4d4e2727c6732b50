import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ChromeExporter } from '../src/export/chrome.js';
import { PerfettoExporter } from '../src/export/perfetto.js';
import { CommandReplay, CommandWriter } from '../src/export/timeline-commands.js';
import { Args, TimelineBuilder, type TimelineWriter, type Track } from '../src/export/timeline.js';
import type { StackFrame } from '../src/format/events.js';
import type { SyncEvent, TraceEvent } from '../src/index.js';
import { recordAppTrace } from './helpers/app-trace.js';

let events: TraceEvent[];

before(async () => {
  events = (await recordAppTrace()).events;
});

/** A writer that notes every call, with copies of what it was given. */
class Recorder implements TimelineWriter {
  readonly calls: unknown[] = [];
  private track(t: Track): unknown {
    return { uuid: t.uuid, kind: t.kind, name: t.name, parent: t.parent?.uuid, thread: t.thread, category: t.category };
  }
  private args(a: Args): unknown {
    // A string may come as its UTF-8 bytes (Utf8Text): what counts is the text.
    return a.keys.slice(0, a.length).map((k, i) => [k, typeof a.values[i] === 'object' ? String(a.values[i]) : a.values[i]]);
  }
  clock(sync: SyncEvent): void {
    this.calls.push(['clock', JSON.parse(JSON.stringify(sync))]);
  }
  declare(track: Track): void {
    this.calls.push(['declare', this.track(track)]);
  }
  slice(track: Track, thread: number, group: number, begin: number, end: number, name: string, category: string, args: Args, flowThread: number, flowId: number): void {
    this.calls.push(['slice', this.track(track), thread, group, begin, end, name, category, this.args(args), flowThread, flowId]);
  }
  instant(track: Track, thread: number, time: number, name: string, category: string, args: Args, flowThread: number, flowId: number, stack: readonly StackFrame[] | undefined): void {
    this.calls.push(['instant', this.track(track), thread, time, name, category, this.args(args), flowThread, flowId, stack === undefined ? undefined : stack.map((f) => ({ ...f }))]);
  }
  counter(track: Track, thread: number, time: number, value: number): void {
    this.calls.push(['counter', this.track(track), thread, time, value]);
  }
  end(): void {
    this.calls.push(['end']);
  }
}

/** Records the calls in chunks of about `chunkBytes`, and replays each chunk on `target` as it comes. */
function throughCommands(target: TimelineWriter & { facts?: unknown }, chunkBytes: number): { writer: CommandWriter; replay: CommandReplay; chunks: number } {
  const replay = new CommandReplay();
  if ('facts' in target) target.facts = replay;
  const state = { writer: undefined as unknown as CommandWriter, replay, chunks: 0 };
  state.writer = new CommandWriter(
    (chunk) => {
      state.chunks++;
      replay.replay(chunk, target);
    },
    () => new Uint8Array(chunkBytes),
  );
  return state;
}

test('replayed commands make the same calls, with the same arguments, as the builder made', () => {
  const direct = new Recorder();
  const builder = new TimelineBuilder(direct);
  for (const e of events) builder.event(e);
  builder.finish();

  const replayed = new Recorder();
  // Small chunks: commands and strings cross many chunk boundaries.
  const through = throughCommands(replayed, 8_000);
  const { writer, replay } = through;
  const remote = new TimelineBuilder(writer);
  writer.facts = remote;
  for (const e of events) remote.event(e);
  remote.finish();
  assert.ok(through.chunks > 1, `chunks (${through.chunks})`);
  assert.ok(replayed.calls.length > 100, `calls (${replayed.calls.length})`);
  assert.deepEqual(replayed.calls, direct.calls);
  assert.equal(replay.ended, true);
  assert.deepEqual(replay.stats, remote.stats);
  assert.equal(replay.pid, remote.pid);
  assert.deepEqual(replay.process, remote.process);
});

test('strings and times come back exactly: non-ASCII, lone surrogates, empty, longer than a chunk, more names than are kept; -0, fractions, huge and not finite times', () => {
  const recorder = new Recorder();
  const { writer } = throughCommands(recorder, 1 << 12);
  const track: Track = { uuid: 3, kind: 'thread', name: 'main', parent: undefined, thread: 0, category: '' };
  const lane: Track = { uuid: 4, kind: 'lane', name: 'Tasks \u{1F600}', parent: track, thread: 0, category: 'task' };
  const strings = ['', 'plain', 'é "quoted" \\ \n', '\u{1F600} emoji', 'lone \ud800 high', 'lone \udc00 low', '\u0000\u007f\u0080\u00ff', 'x'.repeat(50_000), '\ud800'.repeat(3000)];
  // The same calls go through the commands and straight to the expected recorder.
  const makeCalls = (writer: TimelineWriter): void => {
    writer.declare(track);
    writer.declare(lane);
    const args = new Args();
    for (const s of strings) {
      args.clear().add(s, s).add('n', -0).add('big', 2 ** 53 - 1).add('frac', 0.1).add('yes', true).add('no', false);
      writer.instant(track, 0, -12.5, s, s, args, 7, 2 ** 40, [{ functionName: s, url: s, line: 3, column: 2 ** 31 }]);
      writer.slice(lane, 1, 2 ** 52, 1e15, 1e15 + 1, s, s, args, 0, -1);
    }
    // Times: whole, fractional, negative, -0, far apart, huge, not finite.
    for (const t of [0, 5, 3, -0, -7.5, 1e15, 2 ** 53 - 1, -(2 ** 53), 2 ** 60, 1.5e300, NaN, Infinity, -Infinity, 12]) writer.counter(track, 0, t, t);
    // More distinct kept names than the writer keeps: both sides start their list over.
    for (let i = 0; i < 70_000; i++) writer.slice(track, 0, 0, i, i + 1, `name ${i}`, 'c', args.clear(), 0, -1);
    writer.slice(track, 0, 0, 1, 2, 'name 5', 'c', args.clear(), 0, -1);
    writer.end();
  };
  makeCalls(writer);
  const expected = new Recorder();
  makeCalls(expected);
  assert.equal(recorder.calls.length, expected.calls.length);
  for (let i = 0; i < expected.calls.length; i++) assert.deepEqual(recorder.calls[i], expected.calls[i], `call ${i}`);
  assert.ok(Object.is(((recorder.calls[2] as unknown[])[6] as unknown[][])[1][1], -0), '-0 stays -0');
});

test('an exporter fed replayed commands writes the same bytes as one fed the events', () => {
  for (const make of [() => new PerfettoExporter(), () => new ChromeExporter()]) {
    const direct = make();
    for (const e of events) direct.event(e);
    direct.finish();
    const expected = Buffer.concat(direct.take());

    const replayed = make();
    const { writer } = throughCommands(replayed, 1 << 16);
    const builder = new TimelineBuilder(writer);
    writer.facts = builder;
    for (const e of events) builder.event(e);
    builder.finish();
    const got = Buffer.concat(replayed.take());
    assert.ok(expected.length > 1000);
    assert.ok(got.equals(expected), `${replayed.format}: ${got.length} bytes, expected ${expected.length}`);
    assert.deepEqual(replayed.stats, direct.stats);
  }
});
