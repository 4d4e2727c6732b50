import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validate, validateStream } from '../src/index.js';
import { BatchKind } from '../src/format/events.js';
import { encodeBatch, generation, traceOf, type EventInput } from './helpers/trace-builder.js';
import { recordStreamed } from './helpers/record.js';

function codes(bytes: Uint8Array): string[] {
  return validate(bytes).map((p) => p.code);
}

function gen(number: number, events: EventInput[], extra: Partial<Parameters<typeof generation>[0]> = {}): Uint8Array[] {
  return generation({ number, start: number * 1_000_000, end: number * 1_000_000 + 900_000, events, ...extra });
}

test('a real trace is valid, read whole or streamed', async () => {
  const bytes = await recordStreamed(3);
  assert.deepEqual(validate(bytes), []);
  assert.deepEqual(await validateStream((async function* () { yield bytes.subarray(0, 100); yield bytes.subarray(100); })()), []);
});

test('a built well-formed trace is valid', () => {
  const bytes = traceOf(
    gen(1, [
      { kind: 'taskBegin', time: 1_000_100, task: 1, parent: 0, name: 'job' },
      { kind: 'regionBegin', time: 1_000_200, task: 1, region: 1, name: 'outer' },
      { kind: 'regionBegin', time: 1_000_300, task: 1, region: 2, name: 'inner' },
      { kind: 'regionEnd', time: 1_000_400, task: 1, region: 2, flags: 1 },
      { kind: 'regionEnd', time: 1_000_500, task: 1, region: 1, flags: 1 },
      { kind: 'taskEnd', time: 1_000_600, task: 1 },
    ]),
    gen(2, [{ kind: 'log', time: 2_000_100, task: 0, category: 'c', message: 'm' }]),
  );
  assert.deepEqual(validate(bytes), []);
});

test('clock snapshots must be non-zero and strictly increasing', () => {
  const zeroClock = traceOf(generation({ number: 1, start: 0, end: 10, events: [] }));
  assert.ok(codes(zeroClock).includes('CLOCK_ZERO'));
  const backwards = traceOf(gen(2, []), generation({ number: 3, start: 1_500_000, end: 1_600_000, events: [], monoSec: 5 }));
  assert.ok(codes(backwards).includes('CLOCK_NOT_INCREASING'));
  assert.deepEqual(validate(backwards, { skipClockChecks: true }).filter((p) => p.code.startsWith('CLOCK')), []);
});

test('timestamps must be monotonic per thread and inside their generation', () => {
  const g = gen(1, [{ kind: 'log', time: 1_000_500, task: 0, category: 'c', message: 'late' }]);
  // A second event batch of thread 0 whose base time is before the first batch's last event.
  const early = encodeBatch({ kind: BatchKind.events, thread: 0, generation: 1, baseTime: 1_000_100, sequence: 1, records: [{ name: 'taskEnd', time: 1_000_100, values: { task: 9 } }] });
  const withEarly = [...g.slice(0, -1), early];
  const rebuilt = generation({ number: 1, start: 1_000_000, end: 1_900_000, events: [{ kind: 'log', time: 1_000_500, task: 0, category: 'c', message: 'late' }], declaredBatches: withEarly.length });
  const bytes = traceOf([...withEarly, rebuilt[rebuilt.length - 1]]);
  assert.ok(codes(bytes).includes('TIME_NOT_MONOTONIC'), JSON.stringify(validate(bytes)));

  const outside = traceOf(gen(1, [{ kind: 'log', time: 5_000_000, task: 0, category: 'c', message: 'after the end' }]));
  assert.ok(codes(outside).includes('TIME_OUTSIDE_GENERATION'));
});

test('tasks begin and end once; ends cut by the window are fine', () => {
  const twice = traceOf(
    gen(1, [
      { kind: 'taskBegin', time: 1_000_100, task: 1, parent: 0, name: 'a' },
      { kind: 'taskBegin', time: 1_000_200, task: 1, parent: 0, name: 'a' },
      { kind: 'taskEnd', time: 1_000_300, task: 1 },
      { kind: 'taskEnd', time: 1_000_400, task: 1 },
    ]),
  );
  assert.deepEqual(codes(twice).sort(), ['TASK_BEGUN_TWICE', 'TASK_ENDED_TWICE']);
  const cut = traceOf(gen(1, [{ kind: 'taskEnd', time: 1_000_100, task: 7 }, { kind: 'taskBegin', time: 1_000_200, task: 8, parent: 7, name: 'open at the end' }]));
  assert.deepEqual(validate(cut), []);
});

test('regions end once, in their task, and synchronous regions nest strictly', () => {
  const base = (events: EventInput[]) => traceOf(gen(1, events));
  assert.deepEqual(
    codes(base([
      { kind: 'regionBegin', time: 1_000_100, task: 1, region: 1, name: 'r' },
      { kind: 'regionEnd', time: 1_000_200, task: 1, region: 1, flags: 0 },
      { kind: 'regionEnd', time: 1_000_300, task: 1, region: 1, flags: 0 },
    ])),
    ['REGION_ENDED_TWICE'],
  );
  assert.deepEqual(
    codes(base([
      { kind: 'regionBegin', time: 1_000_100, task: 1, region: 1, name: 'r' },
      { kind: 'regionEnd', time: 1_000_200, task: 2, region: 1, flags: 0 },
    ])),
    ['REGION_TASK_MISMATCH'],
  );
  assert.deepEqual(
    codes(base([
      { kind: 'regionBegin', time: 1_000_100, task: 1, region: 1, name: 'outer' },
      { kind: 'regionBegin', time: 1_000_200, task: 1, region: 2, name: 'inner' },
      { kind: 'regionEnd', time: 1_000_300, task: 1, region: 1, flags: 1 },
      { kind: 'regionEnd', time: 1_000_400, task: 1, region: 2, flags: 1 },
    ])),
    ['REGION_NOT_NESTED'],
  );
  // An asynchronous region may outlive the synchronous one it began in; an end without a begin was cut by the window.
  assert.deepEqual(
    validate(base([
      { kind: 'regionEnd', time: 1_000_050, task: 3, region: 9, flags: 1 },
      { kind: 'regionBegin', time: 1_000_100, task: 1, region: 1, name: 'outer' },
      { kind: 'regionBegin', time: 1_000_200, task: 1, region: 2, name: 'query' },
      { kind: 'regionEnd', time: 1_000_300, task: 1, region: 1, flags: 1 },
      { kind: 'regionEnd', time: 1_000_400, task: 1, region: 2, flags: 0 },
    ])),
    [],
  );
});

test('generations are consecutive unless a loss record explains the gap', () => {
  const gap = traceOf(gen(1, []), gen(4, []));
  assert.deepEqual(codes(gap), ['GENERATION_GAP']);
  const loss = encodeBatch({ kind: BatchKind.loss, generation: 2, records: [{ name: 'generationsLost', values: { first: 2, count: 2, bytes: 999 } }] });
  const explained = traceOf(gen(1, []), [loss], gen(4, []));
  assert.deepEqual(validate(explained), []);
});

test('structural errors become problems with their code and offset', () => {
  const g = gen(1, [{ kind: 'log', time: 1_000_100, task: 0, category: 'c', message: 'm' }]);
  const miscounted = traceOf(generation({ number: 1, start: 1_000_000, end: 1_900_000, events: [{ kind: 'log', time: 1_000_100, task: 0, category: 'c', message: 'm' }], declaredBatches: 9 }));
  const [problem] = validate(miscounted);
  assert.equal(problem.code, 'ERR_TRACE_CORRUPT');
  assert.match(problem.message, /declares 9 batches but holds/);
  assert.equal(typeof problem.offset, 'number');
  const truncated = traceOf(g).subarray(0, 60);
  assert.equal(validate(truncated)[0].code, 'ERR_TRACE_TRUNCATED');
});
