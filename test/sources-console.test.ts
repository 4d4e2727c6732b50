import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FlightRecorder, LEVELS, Reader, validate, type EventOf, type TraceEvent } from '../src/index.js';
import { MAX_MESSAGE_CHARS } from '../src/sources/console.js';
import { MemorySink } from './helpers/sinks.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;

type Log = EventOf<'log'>;
type SourceStatusEvent = EventOf<'sourceStatus'>;

/**
 * Whether this Node's console publishes on the console.* channels: known for the versions the
 * project tests on (20 has no such channels; 24 and 26 have them), undefined for others.
 */
function expectChannels(): boolean | undefined {
  const major = Number(process.versions.node.split('.')[0]);
  if (major === 20) return false;
  if (major >= 24) return true;
  return undefined;
}

function consoleStatuses(list: readonly TraceEvent[]): SourceStatusEvent[] {
  return list.filter((e): e is SourceStatusEvent => e.kind === 'sourceStatus' && e.source === 'console');
}

test('console output is recorded as log events where Node publishes it, and still printed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nfr-console-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tracePath = join(dir, 'console.nfrt');
  const script = `
    import { writeFileSync } from 'node:fs';
    import { FlightRecorder } from ${JSON.stringify(indexUrl)};
    import { MemorySink } from ${JSON.stringify(new URL('./helpers/sinks.js', import.meta.url).href)};
    const fr = new FlightRecorder({ level: 'none', sources: { console: true } });
    fr.start();
    console.log('hello %s', 'world', 42);
    console.info('info', { a: 1 });
    console.debug('debug');
    console.warn('careful');
    console.error('failed:', new Error('boom').message);
    console.log('y'.repeat(10000));
    const sink = new MemorySink();
    await fr.writeTo(sink);
    await fr.stop();
    console.log('after stop');
    writeFileSync(process.argv[process.argv.length - 1], sink.bytes());
  `;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script, tracePath], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(out.status, 0, out.stderr);
  // The console itself is untouched.
  assert.match(out.stdout, /^hello world 42$/m);
  assert.match(out.stdout, /^info \{ a: 1 \}$/m);
  assert.match(out.stderr, /^careful$/m);
  assert.match(out.stderr, /^failed: boom$/m);

  const bytes = readFileSync(tracePath);
  assert.deepEqual(validate(bytes), []);
  const list = [...new Reader(bytes)];
  const statuses = consoleStatuses(list);
  assert.ok(statuses.length > 0, 'the trace says what became of the console source');
  const supported = statuses[0].state === 'on';
  const expected = expectChannels();
  if (expected !== undefined) assert.equal(supported, expected, `console channels on Node ${process.version}`);
  const logs = list.filter((e): e is Log => e.kind === 'log');
  if (!supported) {
    assert.equal(statuses[0].state, 'unsupported');
    assert.deepEqual(logs, []);
    return;
  }
  assert.deepEqual(
    logs.slice(0, 5).map((e) => [e.task, e.category, e.message]),
    [
      [0, 'console.log', 'hello world 42'],
      [0, 'console.info', 'info { a: 1 }'],
      [0, 'console.debug', 'debug'],
      [0, 'console.warn', 'careful'],
      [0, 'console.error', 'failed: boom'],
    ],
  );
  const long = logs[5];
  assert.equal(long.category, 'console.log');
  assert.ok(long.message.length <= MAX_MESSAGE_CHARS && long.message.startsWith('y'.repeat(100)), `a long message is cut: ${long.message.length} chars`);
  assert.equal(logs.length, 6, 'nothing after the stop');
});

test('the console source reports itself unsupported where Node lacks the channels, and unsubscribes on stop', async () => {
  const names = ['console.log', 'console.info', 'console.debug', 'console.warn', 'console.error'];
  assert.ok(names.every((name) => !diagnosticsChannel.hasSubscribers(name)), 'nobody listens before');
  const fr = new FlightRecorder({ level: 'none', sources: { console: true } });
  fr.start();
  let list: TraceEvent[];
  let state: string;
  try {
    const status = fr.status().sources.console;
    state = status.state;
    const expected = expectChannels();
    if (expected !== undefined) assert.equal(state, expected ? 'on' : 'unsupported');
    if (state === 'on') {
      assert.ok(names.every((name) => diagnosticsChannel.hasSubscribers(name)), 'subscribed to every console channel');
    } else {
      assert.equal(state, 'unsupported');
      assert.match(status.detail, /console\.\* diagnostics channels/);
      assert.ok(names.every((name) => !diagnosticsChannel.hasSubscribers(name)), 'nothing subscribed');
    }
    const sink = new MemorySink();
    await fr.writeTo(sink);
    list = [...new Reader(sink.bytes())];
  } finally {
    await fr.stop();
  }
  assert.ok(names.every((name) => !diagnosticsChannel.hasSubscribers(name)), 'every channel unsubscribed after stop');
  const statuses = consoleStatuses(list);
  assert.ok(statuses.length > 0 && statuses.every((s) => s.state === state), `the trace says ${state}: ${JSON.stringify(statuses)}`);
  if (state === 'unsupported') assert.match(statuses[0].detail, /console\.\* diagnostics channels/);
});

test('the console source is opt-in: no level records it', () => {
  for (const [level, sources] of Object.entries(LEVELS)) assert.ok(!(sources as readonly string[]).includes('console'), `level ${level}`);
});
