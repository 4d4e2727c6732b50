import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BatchKind, EVENTS, SPEC_BY_CODE, type EventSpec } from '../src/format/events.js';
import { MAX_EVENT_ARGS } from '../src/format/limits.js';
import { putUvarint, readUvarint, uvarintSize, varintResult } from '../src/format/varint.js';
import { encoderSource } from '../src/tracer/encoders.js';

test('varints round-trip every safe integer and report their size', () => {
  fc.assert(
    fc.property(fc.oneof(fc.nat(200), fc.nat(2 ** 31), fc.maxSafeNat()), (value) => {
      const buf = new Uint8Array(10);
      const end = putUvarint(buf, 0, value);
      assert.equal(end, uvarintSize(value));
      assert.equal(readUvarint(buf, 0, end), end);
      assert.equal(varintResult.value, value);
      assert.equal(readUvarint(buf, 0, end - 1), -1, 'a cut varint is reported');
    }),
  );
});

test('varints longer than 8 bytes or above 2^53 are refused', () => {
  assert.equal(readUvarint(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 0, 9), -2);
  assert.equal(readUvarint(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), 0, 8), -2);
  assert.equal(readUvarint(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]), 0, 8), 8);
  assert.equal(varintResult.value, Number.MAX_SAFE_INTEGER);
});

test('the event table is consistent: unique codes, timed records only in event batches, few arguments', () => {
  const names = Object.keys(EVENTS) as (keyof typeof EVENTS)[];
  const codes = new Set(names.map((n) => EVENTS[n].code));
  assert.equal(codes.size, names.length);
  for (const name of names) {
    const spec: EventSpec = EVENTS[name];
    assert.equal(spec.timed, spec.batch === 'events', `${name}: timed exactly when in an event batch`);
    assert.ok(spec.args.length <= MAX_EVENT_ARGS, `${name} has too many arguments`);
    for (const [arg] of spec.args) assert.ok(!['kind', 'time', 'thread'].includes(arg), `${name}.${arg} would hide the decoded event's own field`);
    assert.ok(spec.batch in BatchKind);
    assert.equal(SPEC_BY_CODE[spec.code]?.name, name);
    if (spec.backdatedBy !== undefined) assert.ok(spec.args.some(([a, t]) => a === spec.backdatedBy && t === 'u'));
  }
});

test('each generated encoder writes its table arguments in table order', () => {
  for (const name of Object.keys(EVENTS) as (keyof typeof EVENTS)[]) {
    const spec: EventSpec = EVENTS[name];
    if (!spec.timed) continue;
    const source = encoderSource(name, spec);
    assert.match(source, new RegExp(`b\\[w\\.pos\\+\\+\\] = ${spec.code};`));
    const writes = [...source.matchAll(/putUvarint\(b, p, ([^)]+)\)|putText\(b, p, ([^)]+)\)|f64\[0\] = (\w+)/g)].length;
    assert.equal(writes, spec.args.length, `${name} writes each argument once`);
  }
});

test('docs/format.md shows the event table as the code has it', async () => {
  const { readFileSync } = await import('node:fs');
  const { describeBatchKinds, describeEventTable } = await import('../src/format/describe.js');
  const doc = readFileSync(new URL('../../docs/format.md', import.meta.url), 'utf8');
  assert.ok(doc.includes(describeEventTable()), 'docs/format.md is out of date: run `npm run build && node scripts/update-docs.mjs`');
  assert.ok(doc.includes(describeBatchKinds()), 'docs/format.md is out of date: run `npm run build && node scripts/update-docs.mjs`');
});

test('docs/sources.md shows the levels and settings as the code has them', async () => {
  const { readFileSync } = await import('node:fs');
  await import('../src/index.js');
  const { describeSources } = await import('../src/tracer/sources.js');
  const doc = readFileSync(new URL('../../docs/sources.md', import.meta.url), 'utf8');
  assert.ok(doc.includes(describeSources()), 'docs/sources.md is out of date: run `npm run build && node scripts/update-docs.mjs`');
});
