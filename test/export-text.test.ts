import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatEvent, formatStack, formatString, formatTime } from '../src/export/text.js';
import { Reader, trace } from '../src/index.js';
import { recordSnapshot } from './helpers/record.js';

test('dump lines keep every value on one line and readable', async () => {
  const bytes = await recordSnapshot(() => {
    const task = trace.newTask('import "users"');
    task.log('app', 'line one\nline two, with "quotes" and ünïcödé');
    task.log('app', '');
    task.withRegion('parse', () => trace.metric('rows', 12.5));
    task.end();
  });
  const events = [...new Reader(bytes)];
  const lines = events.map((e) => formatEvent(e, events[0].time));
  for (const line of lines) assert.ok(!line.includes('\n'), line);
  assert.ok(lines.some((l) => / taskBegin +task=\d+ parent=0 name="import \\"users\\""$/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => l.endsWith(' category=app message="line one\\nline two, with \\"quotes\\" and ünïcödé"')));
  assert.ok(lines.some((l) => l.endsWith(' category=app message=""')));
  assert.ok(lines.some((l) => / metric +name=rows value=12\.5$/.test(l)));
  assert.match(lines[0], /^\+0\.000000000 t\d+ sync +generation=\d+ final=false wall=\d{4}-\d\d-\d\dT[\d:.]+Z /);
});

test('times are exact to the nanosecond on either side of the origin', () => {
  assert.equal(formatTime(1_000_000_123, 0), '+1.000000123');
  assert.equal(formatTime(5, 10), '-0.000000005');
  assert.equal(formatTime(123_456_789_012_345, 123_456_789_012_345 - 9_999_999_999), '+9.999999999');
  assert.equal(formatString('GET'), 'GET');
  assert.equal(formatString('/users/42'), '/users/42');
  assert.equal(formatString('two words'), '"two words"');
  assert.equal(formatStack([]), '[]');
  assert.equal(formatStack([{ functionName: '', url: 'file:///a.js', line: 3, column: 7 }, { functionName: 'main', url: '', line: 0, column: 0 }]), '[(anonymous) (file:///a.js:3:7) < main]');
});
