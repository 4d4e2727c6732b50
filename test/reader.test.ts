import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isNfrError, Reader, readTrace, trace, validate, type StackFrame, type TraceEvent } from '../src/index.js';
import { EVENTS, type ArgType, type TimedEventName } from '../src/format/events.js';
import { MAX_STACK_FRAMES, MAX_STRING_BYTES } from '../src/format/limits.js';
import { TraceDecoder, type BatchInfo } from '../src/reader/trace-decoder.js';
import { traceNow } from '../src/tracer/clock.js';
import { tracerRuntime } from '../src/tracer/runtime.js';
import { recordSnapshot, recordStreamed } from './helpers/record.js';
import { mutate } from './helpers/mutate.js';

/** What a string becomes after the writer's cut at MAX_STRING_BYTES (and UTF-8's repair of lone surrogates). */
function written(value: string): string {
  const buf = new Uint8Array(MAX_STRING_BYTES);
  const { written: n } = new TextEncoder().encodeInto(value, buf);
  return new TextDecoder().decode(buf.subarray(0, n));
}

const frameArb = fc.record({
  functionName: fc.string({ maxLength: 20 }),
  url: fc.string({ maxLength: 40 }),
  line: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  column: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

function argArb(type: ArgType): fc.Arbitrary<unknown> {
  switch (type) {
    case 'u':
      return fc.oneof(fc.nat(300), fc.maxSafeNat());
    case 'f64':
      return fc.double();
    case 'str':
    case 'text':
      return fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.string({ unit: 'binary', minLength: 1400, maxLength: 1500 }), fc.constant(''));
    case 'stack':
      return fc.array(frameArb, { maxLength: MAX_STACK_FRAMES + 10 });
    default:
      throw new Error(`no arbitrary for ${type}`);
  }
}

// threadName is written by the tracer itself at each generation's start; the reader test filters those out.
const TIMED = (Object.keys(EVENTS) as (keyof typeof EVENTS)[]).filter((k) => EVENTS[k].timed && !('backdatedBy' in EVENTS[k]) && k !== 'threadName') as TimedEventName[];

const eventArb = fc.oneof(
  ...TIMED.map((kind) => fc.tuple(fc.constant(kind), fc.tuple(...EVENTS[kind].args.map(([, type]) => argArb(type))))),
);

function expectedFields(kind: TimedEventName, args: unknown[]): Record<string, unknown> {
  const fields: Record<string, unknown> = { kind };
  EVENTS[kind].args.forEach(([name, type], i) => {
    const v = args[i];
    if (type === 'str' || type === 'text') fields[name] = written(v as string);
    else if (type === 'stack') {
      fields[name] = (v as StackFrame[]).slice(0, MAX_STACK_FRAMES).map((f) => ({ functionName: written(f.functionName), url: written(f.url), line: f.line, column: f.column }));
    } else fields[name] = v;
  });
  return fields;
}

function actualFields(ev: TraceEvent): Record<string, unknown> {
  const { time: _time, thread: _thread, ...rest } = ev as TraceEvent & Record<string, unknown>;
  return rest;
}

test('every timed event type round-trips through writer and reader (property)', async () => {
  const tracer = tracerRuntime().thread as unknown as Record<string, (...a: unknown[]) => void>;
  await fc.assert(
    fc.asyncProperty(fc.array(eventArb, { minLength: 1, maxLength: 40 }), async (events) => {
      const bytes = await recordSnapshot(() => {
        for (const [kind, args] of events) tracer[kind](...args);
      });
      // Random task and region ids break the task and region rules on purpose; everything else must hold.
      assert.deepEqual(validate(bytes).filter((p) => !/^(TASK|REGION)_/.test(p.code)), []);
      const read = [...new Reader(bytes)].filter((e) => e.kind !== 'sync' && e.kind !== 'threadName');
      assert.equal(read.length, events.length);
      read.forEach((ev, i) => {
        const [kind, args] = events[i];
        assert.deepEqual(actualFields(ev), expectedFields(kind, args), `event ${i} (${kind})`);
        assert.equal(ev.thread, tracerRuntime().thread.thread);
      });
      for (let i = 1; i < read.length; i++) assert.ok(read[i].time >= read[i - 1].time, 'times never go back');
    }),
    { numRuns: 60 },
  );
});

test('a backdated range is placed at its real start, before events written earlier', async () => {
  const tracer = tracerRuntime().thread;
  let start = 0;
  const bytes = await recordSnapshot(() => {
    start = traceNow();
    trace.log('order', 'first written');
    trace.log('order', 'second written');
    tracer.range(start, 1234, 'gc', 'major', 'detail');
  });
  const read = [...new Reader(bytes)].filter((e) => e.kind === 'log' || e.kind === 'range');
  assert.deepEqual(read.map((e) => e.kind), ['range', 'log', 'log']);
  const range = read[0] as Extract<TraceEvent, { kind: 'range' }>;
  assert.ok(Math.abs(range.time - start) <= 1, `range starts at ${range.time}, expected ${start}`);
  assert.equal(range.duration, 1234);
  assert.equal(range.name, 'major');
  assert.deepEqual(validate(bytes), []);
});

test('long strings are cut at a character boundary, never rejected', async () => {
  const long = 'é'.repeat(5000);
  const bytes = await recordSnapshot(() => trace.log('long', long));
  const log = [...new Reader(bytes)].find((e) => e.kind === 'log') as Extract<TraceEvent, { kind: 'log' }>;
  assert.equal(log.message, 'é'.repeat(MAX_STRING_BYTES / 2));
});

test('the streaming reader gives the same events for any chunking', async () => {
  const bytes = await recordStreamed(3);
  const whole = [...new Reader(bytes)];
  for (const size of [1, 3, 31, 32, 33, 4096, bytes.length]) {
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
    const streamed: TraceEvent[] = [];
    for await (const ev of readTrace(chunks)) streamed.push(ev);
    assert.deepEqual(streamed, whole, `chunks of ${size}`);
  }
});

/** Offsets where generations end, from the decoder's batch hook. */
function generationEnds(bytes: Uint8Array): number[] {
  const ends: number[] = [];
  const decoder = new TraceDecoder({ onBatch: (b: BatchInfo) => b.kind === 4 && ends.push(b.offset + 32 + b.payloadSize) });
  decoder.push(bytes);
  decoder.finish();
  return ends;
}

test('a truncated trace yields its complete generations, then ERR_TRACE_TRUNCATED where it was cut', async () => {
  const bytes = await recordStreamed(4);
  const ends = generationEnds(bytes);
  const full = [...new Reader(bytes)];
  const cuts = new Set<number>([1, 8, 15, 16, 17, 47, 48, ...ends.map((e) => e - 1), ...ends.map((e) => e + 5)]);
  for (let i = 0; i < 40; i++) cuts.add(1 + Math.floor(Math.random() * (bytes.length - 1)));
  for (const cut of cuts) {
    if (cut >= bytes.length) continue;
    const input = bytes.subarray(0, cut);
    const complete = ends.filter((e) => e <= cut).length;
    const expected = full.filter((e) => e.kind !== 'sync' || !e.final).slice(0, indexAfterGenerations(full, complete));
    const seen: TraceEvent[] = [];
    let error: unknown;
    try {
      for (const ev of new Reader(input)) seen.push(ev);
    } catch (err) {
      error = err;
    }
    if (cut === 16 || ends.includes(cut)) {
      assert.equal(error, undefined, `a cut at a generation boundary (${cut}) is a valid trace`);
      continue;
    }
    assert.ok(isNfrError(error, 'ERR_TRACE_TRUNCATED'), `cut at ${cut}: ${String(error)}`);
    assert.equal(error.offset, cut);
    assert.deepEqual(seen, expected, `cut at ${cut}: the complete generations come first`);
    const lenient = [...new Reader(input, { allowTruncated: true })];
    if (complete > 0) {
      assert.deepEqual(lenient.slice(0, -1), expected);
      const last = lenient[lenient.length - 1];
      assert.ok(last.kind === 'sync' && last.final, 'allowTruncated ends with a final sync');
    } else {
      assert.deepEqual(lenient, []);
    }
  }
});

/** Index in `events` just after the first `count` generations. */
function indexAfterGenerations(events: TraceEvent[], count: number): number {
  let starts = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e.kind === 'sync' && !e.final && starts++ === count) return i;
    if (e.kind === 'sync' && e.final) return i;
  }
  return events.length;
}

const TRACE_ERRORS = new Set(['ERR_TRACE_CORRUPT', 'ERR_TRACE_TRUNCATED', 'ERR_NOT_A_TRACE', 'ERR_TRACE_VERSION', 'ERR_TRACE_LIMIT']);

test('corrupt input of any kind gives a typed error with the byte offset (fuzz)', async () => {
  const base = await recordStreamed(3);
  const random = fc.sample(fc.integer({ min: 0, max: 2 ** 31 - 1 }), 1500);
  for (const seed of random) {
    const input = mutate(base, seed);
    try {
      let count = 0;
      for (const _ of new Reader(input, { maxGenerationBytes: 1 << 20 })) count++;
      assert.ok(count >= 0);
    } catch (err) {
      assert.ok(isNfrError(err), `seed ${seed}: not an NfrError: ${String(err)}`);
      assert.ok(TRACE_ERRORS.has(err.code), `seed ${seed}: unexpected code ${err.code}`);
      assert.equal(typeof err.offset, 'number', `seed ${seed}: no offset`);
      assert.ok(err.offset! >= 0 && err.offset! <= input.length, `seed ${seed}: offset ${err.offset} outside the input`);
    }
    const problems = validate(input);
    assert.ok(Array.isArray(problems));
  }
});

test('input that is not a trace, or another version, is refused with its own code', () => {
  assert.throws(() => [...new Reader(Buffer.from('{"traceEvents": []}'))], { code: 'ERR_NOT_A_TRACE', offset: 0 });
  assert.throws(() => [...new Reader(new Uint8Array(0))], { code: 'ERR_NOT_A_TRACE' });
  const header = Buffer.from('NFRTRACE\u0002\u0000\u0000\u0000\u0000\u0000\u0000\u0000', 'latin1');
  assert.throws(() => [...new Reader(header)], { code: 'ERR_TRACE_VERSION' });
  assert.throws(() => new Reader('text' as never), { code: 'ERR_INVALID_ARGUMENT' });
});

test('breaking out of readTrace stops reading the stream', async () => {
  const bytes = await recordStreamed(3);
  let pulled = 0;
  let returned = false;
  const source = {
    [Symbol.asyncIterator]() {
      let at = 0;
      return {
        async next() {
          pulled++;
          if (at >= bytes.length) return { value: undefined, done: true as const };
          const chunk = bytes.subarray(at, at + 64);
          at += 64;
          return { value: chunk, done: false as const };
        },
        async return() {
          returned = true;
          return { value: undefined, done: true as const };
        },
      };
    },
  };
  let seen = 0;
  for await (const _ of readTrace(source)) if (++seen === 3) break;
  assert.equal(seen, 3);
  assert.ok(returned, 'the source was told to stop');
  assert.ok(pulled * 64 < bytes.length, 'the rest was never read');
});
