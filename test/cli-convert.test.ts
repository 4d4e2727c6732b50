import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { toChromeJson } from '../src/export/chrome.js';
import { toPerfetto } from '../src/export/perfetto.js';
import { Reader, trace, tracerStatus } from '../src/index.js';
import { recordAppTrace, requestsOf } from './helpers/app-trace.js';
import { linesOf, nfrPath, runNfr } from './helpers/nfr.js';
import { decodePerfetto } from './helpers/perfetto-decode.js';
import { recordStreamed } from './helpers/record.js';
import { MemorySink } from './helpers/sinks.js';

let dir: string;
let traceFile: string;
let bytes: Buffer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nfr-convert-'));
  bytes = (await recordAppTrace()).bytes;
  traceFile = join(dir, 'app.nfrt');
  writeFileSync(traceFile, bytes);
});

after(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Runs nfr and keeps its standard output as bytes (the Perfetto output is binary). */
function runNfrBinary(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [nfrPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

test('--to perfetto writes FILE.perfetto-trace, the same bytes as the in-memory conversion, readable with Perfetto\'s schema', async () => {
  const run = await runNfr(['convert', traceFile, '--to', 'perfetto']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '');
  const outFile = join(dir, 'app.perfetto-trace');
  assert.match(run.stdout, /app\.perfetto-trace \(perfetto, \d+ events/);
  const written = readFileSync(outFile);
  assert.deepEqual(written, Buffer.from(toPerfetto(new Reader(bytes))), 'streaming gives what converting at once gives');
  const decoded = await decodePerfetto(written);
  assert.deepEqual(decoded.problems, []);
  const requests = requestsOf([...new Reader(bytes)]);
  for (const r of requests) assert.ok(decoded.slices.some((s) => s.name === r.name && s.begin === r.begin && s.end === r.end));
});

test('-o - writes to standard output, binary or JSON, and prints nothing else there', async () => {
  const perfetto = await runNfrBinary(['convert', traceFile, '--to', 'perfetto', '-o', '-']);
  assert.equal(perfetto.code, 0, perfetto.stderr);
  assert.equal(perfetto.stderr, '');
  assert.deepEqual(perfetto.stdout, Buffer.from(toPerfetto(new Reader(bytes))));

  const chrome = await runNfr(['convert', traceFile, '--to', 'chrome', '--output', '-']);
  assert.equal(chrome.code, 0, chrome.stderr);
  assert.equal(chrome.stderr, '');
  assert.equal(chrome.stdout, toChromeJson(new Reader(bytes)));
  assert.ok(Array.isArray(JSON.parse(chrome.stdout).traceEvents));
});

test('-o OUT writes there', async () => {
  const outFile = join(dir, 'out.json');
  const run = await runNfr(['convert', traceFile, '--to=chrome', '-o', outFile]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(readFileSync(outFile, 'utf8')).displayTimeUnit, 'ms');
});

async function expectOneLineError(args: string[], code: number, pattern: RegExp): Promise<void> {
  const run = await runNfr(args);
  assert.equal(run.code, code, `exit code of nfr ${args.join(' ')}`);
  assert.equal(linesOf(run.stderr).length, 1, `one line on stderr: ${run.stderr}`);
  assert.match(run.stderr, pattern);
  assert.equal(run.stdout, '');
}

test('a missing or non-trace input fails with one line and creates no output', async () => {
  await expectOneLineError(['convert', join(dir, 'missing.nfrt'), '--to', 'perfetto'], 1, /missing\.nfrt: no such file/);
  assert.equal(existsSync(join(dir, 'missing.perfetto-trace')), false);
  const notTrace = join(dir, 'notes.txt');
  writeFileSync(notTrace, 'hello, I am not a trace\n');
  await expectOneLineError(['convert', notTrace, '--to', 'chrome'], 1, /notes\.txt: not a flight recorder trace/);
  assert.equal(existsSync(join(dir, 'notes.json')), false);
  await expectOneLineError(['convert', dir, '--to', 'chrome'], 1, /is a directory/);
  const empty = join(dir, 'empty.nfrt');
  writeFileSync(empty, '');
  await expectOneLineError(['convert', empty, '--to', 'perfetto'], 1, /empty\.nfrt: not a flight recorder trace: the input is empty/);
  assert.equal(existsSync(join(dir, 'empty.perfetto-trace')), false);
});

test('a truncated trace fails with one line and leaves no half-written output; --allow-truncated converts its complete generations', async () => {
  const streamed = await recordStreamed(3);
  const cut = join(dir, 'cut.nfrt');
  writeFileSync(cut, streamed.subarray(0, streamed.length - 5));
  await expectOneLineError(['convert', cut, '--to', 'perfetto'], 1, /cut\.nfrt: trace truncated/);
  assert.equal(existsSync(join(dir, 'cut.perfetto-trace')), false);

  const run = await runNfr(['convert', cut, '--to', 'perfetto', '--allow-truncated']);
  assert.equal(run.code, 0, run.stderr);
  const decoded = await decodePerfetto(readFileSync(join(dir, 'cut.perfetto-trace')));
  assert.deepEqual(decoded.problems, []);
  const complete = [...new Reader(streamed.subarray(0, streamed.length - 5), { allowTruncated: true })].filter((e) => e.kind === 'log');
  assert.ok(complete.length >= 2, 'complete generations hold logs');
  assert.equal(decoded.instants.filter((i) => i.category === 'log').length, complete.length);
});

test('a trace that fails after output was written removes the half-written file', async () => {
  // Many generations, enough output that it is written before the cut in the last one is reached.
  const sink = new MemorySink();
  trace.start(sink, { level: 'none', period: 20 });
  const started = tracerStatus().generation;
  for (let i = 0; sink.chunks.reduce((n, c) => n + c.length, 0) < 3e6 || tracerStatus().generation < started + 3; i++) {
    const task = trace.newTask('job');
    task.withRegion('step', () => task.log('job', `item ${i}`));
    task.end();
    if (i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await trace.stop();
  const big = sink.bytes();
  const cut = join(dir, 'big-cut.nfrt');
  writeFileSync(cut, big.subarray(0, big.length - 5));
  const outFile = join(dir, 'big-cut.perfetto-trace');
  await expectOneLineError(['convert', cut, '--to', 'perfetto', '-o', outFile], 1, /big-cut\.nfrt: trace truncated/);
  assert.equal(existsSync(outFile), false);
});

test('wrong arguments exit with 2 and one line: unknown or missing --to, unknown option, no FILE', async () => {
  await expectOneLineError(['convert', traceFile, '--to', 'svg'], 2, /--to must be perfetto or chrome, got "svg"/);
  await expectOneLineError(['convert', traceFile], 2, /missing --to/);
  await expectOneLineError(['convert', traceFile, '--to', 'chrome', '--zip'], 2, /--zip/);
  await expectOneLineError(['convert', '--to', 'chrome'], 2, /missing FILE/);
});

test('an output that cannot be written fails with one line', async () => {
  await expectOneLineError(['convert', traceFile, '--to', 'chrome', '-o', join(dir, 'no-such-dir', 'x.json')], 1, /cannot write .*x\.json/);
});

test('--help describes the command', async () => {
  const run = await runNfr(['convert', '--help']);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /^Usage: nfr convert FILE --to perfetto\|chrome/);
  assert.match(run.stdout, /-o, --output OUT/);
});
