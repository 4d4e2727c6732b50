import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ChromeExporter } from '../src/export/chrome.js';
import { PerfettoExporter } from '../src/export/perfetto.js';
import type { Exporter } from '../src/export/exporter.js';
import { Reader, trace, tracerStatus } from '../src/index.js';
import { linesOf, runNfr } from './helpers/nfr.js';
import { MemorySink } from './helpers/sinks.js';

// `nfr convert` reads traces of 8 MB and more on a second thread when there is a second core
// (src/cli/commands/convert-threaded.ts): these tests give it such a trace and expect exactly
// what converting in memory on one thread gives, and the same errors.

let dir: string;
let file: string;
let bytes: Buffer;

/** A streamed trace of a bit over `megabytes` MB and several generations: tasks, regions, logs, metrics, instants. */
async function bigTrace(megabytes: number): Promise<Buffer> {
  const sink = new MemorySink();
  trace.start(sink, { level: 'none', period: 100 });
  const started = tracerStatus().generation;
  for (let i = 0; sink.chunks.reduce((n, c) => n + c.length, 0) < megabytes * 1e6 || tracerStatus().generation < started + 3; ) {
    for (let k = 0; k < 2000; k++, i++) {
      const task = trace.newTask(i % 5 === 0 ? `GET /users/${i}` : 'job');
      task.log('http', `request ${i} from 127.0.0.1 "quoted" é`);
      task.withRegion('db.query', () => trace.metric('pool.size', k));
      trace.instant('cache', k % 3 === 0 ? 'miss' : 'hit', k % 7 === 0 ? 'cold' : '');
      task.end();
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await trace.stop();
  return sink.bytes();
}

/** What the exporter writes for the events of `input`, converting in memory on this thread. */
function inMemory(exporter: Exporter, input: Uint8Array, allowTruncated = false): Buffer {
  for (const e of new Reader(input, { allowTruncated })) exporter.event(e);
  exporter.finish();
  return Buffer.concat(exporter.take());
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nfr-convert-threaded-'));
  bytes = await bigTrace(9);
  file = join(dir, 'big.nfrt');
  writeFileSync(file, bytes);
});

after(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('a trace of 8 MB or more converts to the same bytes as converting it in memory, to Perfetto and Chrome JSON', async () => {
  assert.ok(bytes.length >= 8 << 20, `the trace is big enough for two threads (${bytes.length} bytes)`);
  if (availableParallelism() < 2) process.stderr.write('# one core: nfr convert stays on one thread here\n');
  const perfettoOut = join(dir, 'big.perfetto-trace');
  const perfetto = await runNfr(['convert', file, '--to', 'perfetto', '-o', perfettoOut]);
  assert.equal(perfetto.code, 0, perfetto.stderr);
  assert.equal(perfetto.stderr, '');
  const events = [...new Reader(bytes)].length;
  assert.match(perfetto.stdout, new RegExp(`\\(perfetto, ${events} events, `));
  assert.ok(readFileSync(perfettoOut).equals(inMemory(new PerfettoExporter(), bytes)), 'Perfetto bytes');

  const chromeOut = join(dir, 'big.json');
  const chrome = await runNfr(['convert', file, '--to', 'chrome', '-o', chromeOut]);
  assert.equal(chrome.code, 0, chrome.stderr);
  const json = readFileSync(chromeOut);
  assert.ok(json.equals(inMemory(new ChromeExporter(), bytes)), 'Chrome JSON bytes');
  assert.ok(Array.isArray(JSON.parse(json.toString('utf8')).traceEvents));
});

test('a cut or corrupt big trace fails with the one-thread message and leaves no output; --allow-truncated converts its complete generations', async () => {
  const cut = join(dir, 'cut.nfrt');
  writeFileSync(cut, bytes.subarray(0, bytes.length - 5));
  const out = join(dir, 'cut.json');
  const failed = await runNfr(['convert', cut, '--to', 'chrome', '-o', out]);
  assert.equal(failed.code, 1);
  assert.equal(linesOf(failed.stderr).length, 1, failed.stderr);
  assert.match(failed.stderr, /cut\.nfrt: trace truncated at byte \d+: generation \d+ .* \(--allow-truncated reads them\)/);
  assert.equal(existsSync(out), false, 'the half-written output is removed');

  const kept = await runNfr(['convert', cut, '--to', 'perfetto', '--allow-truncated', '-o', join(dir, 'cut.perfetto-trace')]);
  assert.equal(kept.code, 0, kept.stderr);
  assert.ok(readFileSync(join(dir, 'cut.perfetto-trace')).equals(inMemory(new PerfettoExporter(), bytes.subarray(0, bytes.length - 5), true)));

  // An unknown event type in the middle of the trace, after output was written.
  const corrupt = Buffer.from(bytes);
  const at = Math.floor(corrupt.length * 0.6);
  let expected = '';
  for (let offset = at; expected === '' && offset < at + 4096; offset++) {
    const copy = Buffer.from(bytes);
    copy[offset] = 0xff;
    try {
      for (const _ of new Reader(copy));
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_TRACE_CORRUPT') {
        corrupt[offset] = 0xff;
        expected = (err as Error).message;
      }
    }
  }
  assert.notEqual(expected, '', 'a byte whose change the reader reports');
  const corruptFile = join(dir, 'corrupt.nfrt');
  writeFileSync(corruptFile, corrupt);
  const bad = await runNfr(['convert', corruptFile, '--to', 'perfetto', '-o', join(dir, 'corrupt.out')]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, `nfr: ${corruptFile}: ${expected}\n`);
  assert.equal(existsSync(join(dir, 'corrupt.out')), false);
});
