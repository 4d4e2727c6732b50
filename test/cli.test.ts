import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Finding, TraceStats } from '../src/analysis/types.js';
import { EVENTS, type EventSpec } from '../src/format/events.js';
import { readBatchHeader } from '../src/format/header.js';
import { BATCH_HEADER_BYTES, HEADER_BYTES } from '../src/format/limits.js';
import { BatchKind } from '../src/format/events.js';
import { Reader, trace, type TraceEvent } from '../src/index.js';
import { linesOf, nfrPath, runNfr, runNode } from './helpers/nfr.js';
import { MemorySink } from './helpers/sinks.js';

const fixture = fileURLToPath(new URL('./fixtures/slow-service.js', import.meta.url));

interface ServiceFacts {
  file: string;
  downstreamHost: string;
  blockMs: number;
  downstreamMs: number;
  forcedGcs: number;
}

let dir: string;
let service: ServiceFacts;
let serviceBytes: Buffer;
let serviceEvents: TraceEvent[];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nfr-cli-'));
  const run = await runNode(['--expose-gc', fixture, join(dir, 'service.nfrt'), 'cpu']);
  assert.equal(run.code, 0, `the recorded service failed: ${run.stderr}`);
  service = JSON.parse(run.stdout) as ServiceFacts;
  serviceBytes = readFileSync(service.file);
  serviceEvents = [...new Reader(serviceBytes)];
});

after(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** `nfr <args>`, expected to succeed, with its JSON output parsed. */
async function json<T>(...args: string[]): Promise<T> {
  const run = await runNfr([...args, '--json']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '');
  return JSON.parse(run.stdout) as T;
}

async function text(...args: string[]): Promise<string> {
  const run = await runNfr(args);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '');
  return run.stdout;
}

const ms = (ns: number) => (ns / 1e6).toFixed(1);

test('nfr stats shows the request that blocked the loop among the slowest, with the block in its breakdown', async () => {
  const stats = await json<TraceStats>('stats', service.file);
  const blocked = stats.requests.slowest.find((r) => r.path === '/block');
  assert.ok(blocked !== undefined, `GET /block is among the slowest: ${stats.requests.slowest.map((r) => r.name).join(', ')}`);
  assert.equal(blocked.method, 'GET');
  assert.equal(blocked.status, 200);
  assert.ok(blocked.duration >= 150e6 && blocked.duration < 5e9, `GET /block took ${ms(blocked.duration)} ms`);
  assert.ok(blocked.breakdown.loopBlocked >= 150e6, `${ms(blocked.breakdown.loopBlocked)} ms of it with the loop blocked`);
  assert.ok(blocked.breakdown.loopBlocked <= blocked.duration);
  // Its own region ran the blocking code, so region time covers the block too.
  assert.ok(blocked.breakdown.regions >= 150e6, `${ms(blocked.breakdown.regions)} ms in its region`);
  assert.ok(blocked.breakdown.waiting < 0.2 * blocked.duration, `${ms(blocked.breakdown.waiting)} ms unexplained`);
  const fast = stats.requests.slowest.filter((r) => r.path === '/fast');
  assert.equal(fast.length, 3);
  for (const r of fast) assert.ok(r.duration < blocked.duration, 'a fast request is faster than the blocked one');

  const out = await text('stats', service.file);
  const line = linesOf(out).find((l) => l.includes(`GET /block (task ${blocked.task})`));
  assert.ok(line !== undefined, out);
  const cells = line.trim().split(/\s{2,}/);
  // start, duration, regions, loop blocked, gc, outgoing, waiting, status, thread, request
  assert.equal(cells[1], ms(blocked.duration));
  assert.equal(cells[3], ms(blocked.breakdown.loopBlocked));
  assert.equal(cells[7], '200');
});

test('nfr stats --json matches the trace and the text report', async () => {
  const stats = await json<TraceStats>('stats', service.file);
  // Counted independently through the Reader.
  assert.equal(stats.totalEvents, serviceEvents.length);
  const counts = new Map<string, number>();
  for (const e of serviceEvents) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(Object.entries(stats.byKind).map(([k, v]) => [k, v.count])), Object.fromEntries(counts));
  assert.equal(stats.totalBytes, statSync(service.file).size, 'events, tables and framing add up to the file');
  const gcRanges = serviceEvents.filter((e) => e.kind === 'range' && e.category === 'gc');
  assert.equal(stats.gc.count, gcRanges.length);
  assert.ok(stats.gc.count >= service.forcedGcs, `${stats.gc.count} collections, ${service.forcedGcs} of them forced`);
  const syncs = serviceEvents.filter((e) => e.kind === 'sync');
  assert.equal(stats.start, syncs[0].time);
  assert.equal(stats.end, syncs[syncs.length - 1].time);
  const clock = syncs[0].kind === 'sync' ? syncs[0].clock : undefined;
  assert.equal(stats.wallStart, clock!.wallSec * 1e3 + clock!.wallNsec / 1e6);
  assert.ok(stats.cpu.samples > 0 && stats.cpu.topStacks.length > 0, 'the cpu level recorded samples');
  assert.equal(stats.requests.count, serviceEvents.filter((e) => e.kind === 'httpRequest').length);

  const out = await text('stats', service.file);
  assert.ok(out.includes(`window      ${new Date(stats.wallStart).toISOString()} to ${new Date(stats.wallEnd).toISOString()}`), out);
  for (const r of stats.requests.slowest) {
    const line = linesOf(out).find((l) => l.includes(`${r.name} (task ${r.task})`));
    assert.ok(line !== undefined && line.includes(ms(r.duration)), `the text shows ${r.name} with ${ms(r.duration)} ms`);
  }
  for (const [kind, k] of Object.entries(stats.byKind)) {
    assert.ok(linesOf(out).some((l) => l.trim().split(/\s+/)[0] === kind && l.includes(k.count.toLocaleString('en-US'))), `the text counts ${kind}`);
  }
  assert.ok(out.includes(`collections    ${stats.gc.count}, `));

  const top = await json<TraceStats>('stats', service.file, '--top', '2');
  assert.equal(top.requests.slowest.length, 2);
  assert.deepEqual(top.requests.slowest.map((r) => r.task), stats.requests.slowest.slice(0, 2).map((r) => r.task));
});

test('nfr findings names the function that blocked the loop, from the CPU samples taken during the block', async () => {
  const findings = await json<Finding[]>('findings', service.file);
  const block = findings.find((f) => f.rule === 'request-slowed-by-loop-block');
  assert.ok(block !== undefined, `rules found: ${findings.map((f) => f.rule).join(', ')}`);
  assert.equal(block.request, 'GET /block');
  assert.equal(findings.filter((f) => f.request === 'GET /block' && f.rule === block.rule).length, 1, 'the block is reported once (its synchronous region and the loop record are one block)');
  assert.match(block.title, /blockEventLoopOnPurpose/);
  assert.ok(block.duration >= 150e6 && block.duration < 5e9, `a block of ${ms(block.duration)} ms`);
  assert.equal(block.frame?.functionName, 'blockEventLoopOnPurpose');
  assert.ok(block.stack !== undefined && block.stack.some((f) => f.functionName === 'blockEventLoopOnPurpose' && f.url.endsWith('/fixtures/slow-service.js')), 'its stack shows the function and its script');
  assert.ok(block.confidence > 0.55 && block.confidence <= 1, `confidence ${block.confidence}`);
  assert.match(block.confidenceReason ?? '', /CPU samples/);
  assert.ok(['warning', 'critical'].includes(block.severity), 'a 200 ms delay is at least a warning');
  // Most severe first.
  const rank = { critical: 3, warning: 2, info: 1 };
  for (let i = 1; i < findings.length; i++) assert.ok(rank[findings[i - 1].severity] >= rank[findings[i].severity], 'findings are sorted by severity');

  const out = await text('findings', service.file);
  assert.ok(out.includes(block.title), 'the text has the same title');
  assert.ok(out.includes('rule        request-slowed-by-loop-block'));
  assert.ok(out.includes(`confidence  ${block.confidence.toFixed(2)}`));
  assert.ok(out.includes('request     GET /block'));
  // The blamed frame is marked in the stack.
  assert.match(out, /^ {13}> blockEventLoopOnPurpose \(file:\/\/.*\/fixtures\/slow-service\.js:\d+:\d+\)$/m);
});

test('nfr findings names the downstream host a request waited on', async () => {
  const findings = await json<Finding[]>('findings', service.file);
  const wait = findings.find((f) => f.rule === 'request-waiting-on-outgoing-call');
  assert.ok(wait !== undefined, `rules found: ${findings.map((f) => f.rule).join(', ')}`);
  assert.equal(wait.request, 'GET /down');
  assert.ok(wait.title.includes(service.downstreamHost), wait.title);
  assert.ok(wait.detail.includes(`${service.downstreamHost}/inventory`), wait.detail);
  assert.ok(wait.duration >= 0.75 * service.downstreamMs * 1e6 && wait.duration < 10e9, `waited ${ms(wait.duration)} ms`);
  const out = await text('findings', service.file);
  assert.ok(out.includes(wait.title));
  assert.ok(out.includes('rule        request-waiting-on-outgoing-call'));
  // The waiting request's breakdown says the same.
  const stats = await json<TraceStats>('stats', service.file);
  const down = stats.requests.slowest.find((r) => r.path === '/down');
  assert.ok(down !== undefined && down.breakdown.outgoing >= 0.5 * down.duration, 'GET /down spent most of its time in the outgoing call');
  assert.equal(down.slowestCall?.host, service.downstreamHost);
});

test('nfr dump prints every event, one line each, in the order the reader gives them', async () => {
  const out = await text('dump', service.file);
  const lines = linesOf(out);
  assert.equal(lines.length, serviceEvents.length);
  let previous = -Infinity;
  lines.forEach((line, i) => {
    const event = serviceEvents[i];
    const [time, thread, kind] = line.split(/\s+/);
    assert.equal(kind, event.kind, `line ${i + 1}: ${line}`);
    assert.equal(thread, `t${event.thread}`);
    const offset = Number(time);
    assert.ok(Math.abs(offset * 1e9 - (event.time - serviceEvents[0].time)) < 1000, `line ${i + 1} has the event's time`);
    assert.ok(offset >= previous, 'time order');
    previous = offset;
    if (event.kind === 'sync' || event.kind === 'generationsLost') return;
    // Driven by the event table: every argument is shown by name.
    const spec: EventSpec = EVENTS[event.kind];
    for (const [arg] of spec.args) if (arg !== spec.backdatedBy) assert.ok(line.includes(` ${arg}=`), `line ${i + 1} shows ${arg}: ${line}`);
  });
  assert.ok(lines.some((l) => l.includes('name=blocked') && l.includes('category=loop')));
  assert.ok(lines.some((l) => l.includes('blockEventLoopOnPurpose (file://')));
});

test('nfr validate exits 0 on a good trace, 1 with the problem on a corrupt or cut one', async () => {
  const good = await runNfr(['validate', service.file]);
  assert.equal(good.code, 0, good.stderr);
  assert.equal(good.stdout, `${service.file}: valid\n`);
  assert.equal(good.stderr, '');

  // A rule only the validator checks (the reader accepts it): an event batch out of sequence.
  const bytes = Buffer.from(serviceBytes);
  let at = HEADER_BYTES;
  for (;;) {
    const header = readBatchHeader(new DataView(bytes.buffer, bytes.byteOffset + at, BATCH_HEADER_BYTES), 0);
    if (header.kind === BatchKind.events) break;
    at += BATCH_HEADER_BYTES + header.payloadSize;
  }
  bytes.writeUInt32LE(7, at + 24);
  const outOfSequence = join(dir, 'sequence.nfrt');
  writeFileSync(outOfSequence, bytes);
  const bad = await runNfr(['validate', outOfSequence]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /BATCH_SEQUENCE at byte \d+: batch 7 of thread \d+ in generation \d+ should be batch 0/);
  assert.equal(linesOf(bad.stderr).length, 1, bad.stderr);
  assert.match(bad.stderr, /^nfr: .*sequence\.nfrt: invalid, 1 problem: batch 7/);
  const problems = await runNfr(['validate', outOfSequence, '--json']);
  assert.equal(problems.code, 1);
  assert.equal((JSON.parse(problems.stdout) as { code: string }[])[0].code, 'BATCH_SEQUENCE');

  // Reserved header bytes set: the reader refuses it.
  const corrupt = Buffer.from(serviceBytes);
  corrupt[HEADER_BYTES + 2] = 1;
  const corruptFile = join(dir, 'corrupt.nfrt');
  writeFileSync(corruptFile, corrupt);
  const refused = await runNfr(['validate', corruptFile]);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /ERR_TRACE_CORRUPT at byte 16: corrupt trace at byte 16: reserved batch header bytes are not zero/);

  const cutFile = join(dir, 'cut.nfrt');
  writeFileSync(cutFile, serviceBytes.subarray(0, serviceBytes.length - 10));
  const cut = await runNfr(['validate', cutFile]);
  assert.equal(cut.code, 1);
  assert.match(cut.stdout, /ERR_TRACE_TRUNCATED/);
});

test('every command fails with one line and exit 1 on a missing, unreadable, non-trace, empty or cut file', async () => {
  const notATrace = join(dir, 'notes.txt');
  writeFileSync(notATrace, 'just some text, not a trace\n');
  const empty = join(dir, 'empty.nfrt');
  writeFileSync(empty, '');
  const cut = join(dir, 'half.nfrt');
  writeFileSync(cut, serviceBytes.subarray(0, Math.floor(serviceBytes.length / 2)));
  const cases: [string, RegExp][] = [
    [join(dir, 'missing.nfrt'), /missing\.nfrt: no such file$/],
    [dir, /: is a directory, not a trace file$/],
    [notATrace, /notes\.txt: not a flight recorder trace: the input does not start with "NFRTRACE"$/],
    [empty, /empty\.nfrt: not a flight recorder trace: the input is empty$/],
    [cut, /half\.nfrt: trace truncated at byte \d+: generation \d+ \(from byte \d+\) has no end-of-generation record/],
  ];
  for (const command of ['stats', 'findings', 'dump', 'validate']) {
    for (const [file, expected] of cases) {
      const run = await runNfr([command, file]);
      assert.equal(run.code, 1, `nfr ${command} ${file}: exit ${run.code}`);
      const lines = linesOf(run.stderr);
      assert.equal(lines.length, 1, `nfr ${command} ${file} prints one line: ${run.stderr}`);
      assert.match(lines[0], /^nfr: /);
      if (command !== 'validate' || file === dir || file.endsWith('missing.nfrt')) assert.match(lines[0], expected);
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    }
  }
  // A cut trace still reads to its last complete generation when asked.
  const partial = await runNfr(['stats', cut, '--allow-truncated', '--json']);
  assert.equal(partial.code, 0, partial.stderr);
  assert.ok((JSON.parse(partial.stdout) as TraceStats).totalEvents >= 0);
});

test('nfr usage errors exit 2 with one line; --help exits 0', async () => {
  for (const args of [['frobnicate'], ['stats'], ['stats', '--bogus', service.file], ['stats', service.file, 'extra'], ['stats', '--top', 'many', service.file], ['--bogus']]) {
    const run = await runNfr(args);
    assert.equal(run.code, 2, `nfr ${args.join(' ')}: exit ${run.code}`);
    assert.equal(linesOf(run.stderr).length, 1, run.stderr);
    assert.equal(run.stdout, '');
  }
  const none = await runNfr([]);
  assert.equal(none.code, 2, none.stderr);
  assert.match(none.stderr, /^Usage: nfr <command>/);

  const help = await runNfr(['--help']);
  assert.equal(help.code, 0, help.stderr);
  for (const command of ['stats', 'findings', 'dump', 'validate']) assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
  for (const command of ['stats', 'findings', 'dump', 'validate']) {
    const own = await runNfr([command, '--help']);
    assert.equal(own.code, 0, own.stderr);
    assert.match(own.stdout, new RegExp(`^Usage: nfr ${command} FILE`));
  }
  const dumpHelp = await runNfr(['dump', '-h']);
  for (const name of Object.keys(EVENTS).filter((n) => (EVENTS as Record<string, EventSpec>)[n].timed)) assert.ok(dumpHelp.stdout.includes(`  ${name} `), `dump --help lists ${name}`);
});

test('nfr dump stops quietly when its reader goes away (| head)', async () => {
  // A trace whose dump is far larger than a pipe's buffer.
  const sink = new MemorySink();
  trace.start(sink, { level: 'none' });
  for (let i = 0; i < 30_000; i++) {
    const task = trace.newTask(`job ${i % 10}`);
    task.withRegion('step', () => task.log('jobs', `job ${i} ran`));
    task.end();
  }
  await trace.stop();
  const file = join(dir, 'jobs.nfrt');
  writeFileSync(file, sink.bytes());

  const child = spawn(process.execPath, [nfrPath, 'dump', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const first = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  assert.match(first, /^\+0\.000000000 t\d+ sync/);
  child.stdout.destroy();
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  assert.equal(signal, null);
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
});
