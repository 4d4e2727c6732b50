import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { FlightRecorder, Reader, trace, validate, type EventOf, type TraceEvent } from '../../src/index.js';
import { MemorySink } from './sinks.js';
import { waitFor } from './wait.js';

/** The values the app writes to its own metric, in order. */
export const QUEUE_VALUES = [3, 1, 4, 1.5, 9];
/** How long the /block request keeps the loop busy, ms (the loop source records turns of 50 ms or more). */
export const BLOCK_MS = 120;

export interface AppTrace {
  bytes: Buffer;
  events: TraceEvent[];
  /** threadId of the worker that logged. */
  workerThread: number;
}

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the handler computes on the loop, as a slow request would
  }
}

function get(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const task = trace.taskOf(req)!;
  // An async region (it awaits), and a synchronous one.
  await task.withRegion('load', () => sleep(3));
  task.withRegion('render', () => {
    if (req.url === '/block') busyWait(BLOCK_MS);
  });
  task.log('app', `handled ${req.url}`);
  res.end('ok');
}

/**
 * Records a small real application at level 'detailed': an HTTP server on 127.0.0.1 answering
 * concurrent requests (each a task with an async and a sync region and a log), one request that
 * blocks the loop, a metric, an instant, a region outside any task, and a worker thread that
 * logs. Returns the flight recorder's snapshot, once it holds the loop block.
 */
export async function recordAppTrace(): Promise<AppTrace> {
  const recorder = new FlightRecorder({ level: 'detailed', minAge: 60_000, maxBytes: 64 << 20 });
  recorder.start();
  const server = http.createServer((req, res) => void handle(req, res));
  const worker = new Worker(new URL('../fixtures/logging-worker.js', import.meta.url), { workerData: { count: 3, crash: false, prefix: 'from the worker' } });
  try {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const workerThread = worker.threadId;
    await once(worker, 'message');
    worker.postMessage('go');
    await once(worker, 'message');

    trace.withRegion('startup', () => trace.instant('app', 'ready', 'listening'));
    for (const value of QUEUE_VALUES) trace.metric('app.queue', value);
    // Concurrent requests: their tasks overlap in time.
    await Promise.all(['/a', '/b', '/c', '/d'].map((path) => get(origin + path)));
    await get(`${origin}/block`);

    let bytes: Buffer = Buffer.alloc(0);
    await waitFor(async () => {
      const sink = new MemorySink();
      await recorder.writeTo(sink);
      bytes = sink.bytes();
      const events = [...new Reader(bytes)];
      // The block the app made (the loop may have blocked briefly before, on a busy machine),
      // and the end of every request (the server ends a task after the client has its answer).
      const blocked = events.some((e) => e.kind === 'range' && e.category === 'loop' && e.name === 'blocked' && e.duration >= (BLOCK_MS - 20) * 1e6);
      return blocked && requestsOf(events).length === 5;
    }, 'the loop block and the ends of the requests to be recorded');
    const problems = validate(bytes);
    if (problems.length > 0) throw new Error(`the recorded trace is not valid: ${JSON.stringify(problems[0])}`);
    return { bytes, events: [...new Reader(bytes)], workerThread };
  } finally {
    server.close();
    await worker.terminate();
    await recorder.stop();
  }
}

/** A slice the trace says happened: its name, thread, task and exact begin and end. */
export interface ExpectedSlice {
  name: string;
  thread: number;
  task: number;
  begin: number;
  end: number;
  sync: boolean;
}

/** Regions of the trace with both ends in it. */
export function regionsOf(events: readonly TraceEvent[]): ExpectedSlice[] {
  const open = new Map<string, EventOf<'regionBegin'>>();
  const out: ExpectedSlice[] = [];
  for (const e of events) {
    if (e.kind === 'regionBegin') open.set(`${e.thread}:${e.region}`, e);
    if (e.kind === 'regionEnd') {
      const begin = open.get(`${e.thread}:${e.region}`);
      if (begin !== undefined) out.push({ name: begin.name, thread: e.thread, task: begin.task, begin: begin.time, end: e.time, sync: (e.flags & 1) !== 0 });
    }
  }
  return out;
}

/** HTTP server requests of the trace with both ends in it (a request is a task: httpRequest begins it, httpResponse ends it). */
export function requestsOf(events: readonly TraceEvent[]): (ExpectedSlice & { path: string; status: number })[] {
  const begins = new Map<number, EventOf<'httpRequest'>>();
  const out: (ExpectedSlice & { path: string; status: number })[] = [];
  for (const e of events) {
    if (e.kind === 'httpRequest') begins.set(e.task, e);
    if (e.kind === 'httpResponse' && begins.has(e.task)) {
      const b = begins.get(e.task)!;
      out.push({ name: `${b.method} ${b.path}`, thread: b.thread, task: e.task, begin: b.time, end: e.time, sync: false, path: b.path, status: e.status });
    }
  }
  return out;
}

export function eventsOf<K extends TraceEvent['kind']>(events: readonly TraceEvent[], kind: K): EventOf<K>[] {
  return events.filter((e): e is EventOf<K> => e.kind === kind);
}
