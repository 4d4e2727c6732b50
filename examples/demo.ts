/**
 * `npm run demo`: a flight recorder in a small HTTP service. The service answers requests; one
 * in a while a request is slow because its handler blocks the event loop. When a request is
 * slow, the service saves what the recorder holds, and the demo prints what the trace says
 * about that request. It ends by itself in a few seconds.
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FlightRecorder, Reader, trace, validate, type TraceEvent } from '../src/index.js';

const SLOW_MS = 100;
const recorder = new FlightRecorder({ minAge: 5_000, maxBytes: 4 * 1024 * 1024 });
recorder.start();

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // a synchronous computation the handler should not have done on the loop
  }
}

let slowTaken: Promise<string> | undefined;

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const task = trace.taskOf(req) ?? trace.newTask(`${req.method} ${req.url}`);
  await task.withRegion('load data', () => new Promise((resolve) => setTimeout(resolve, 2)));
  if (req.url === '/report') task.withRegion('render report', () => busyWait(150));
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ ok: true, url: req.url }));
  const took = performance.now() - started;
  if (took > SLOW_MS && slowTaken === undefined) {
    task.log('slow', `${req.url} took ${took.toFixed(0)} ms`);
    slowTaken = saveSnapshot();
  }
}

async function saveSnapshot(): Promise<string> {
  // Keep recording a moment after the trigger, like a flight recorder's post-trigger delay: the
  // loop block that made the request slow is noticed on the loop's next turn.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const dir = join(process.cwd(), 'flight-recordings');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `demo-${Date.now()}.nfrt`);
  const out = createWriteStream(file);
  await recorder.writeTo(out);
  out.end();
  await once(out, 'finish');
  return file;
}

const server = createServer((req, res) => void handle(req, res));
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address() as AddressInfo;
console.log(`service on http://127.0.0.1:${port}; sending requests, every tenth one to /report`);

for (let i = 1; i <= 60 && slowTaken === undefined; i++) {
  const response = await fetch(`http://127.0.0.1:${port}/${i % 10 === 0 ? 'report' : `items/${i}`}`);
  await response.arrayBuffer();
}
const file = await (slowTaken ?? saveSnapshot());
server.close();
await recorder.stop();

const { readFileSync } = await import('node:fs');
const bytes = readFileSync(file);
const events: TraceEvent[] = [...new Reader(bytes)];
console.log(`\nsaved ${bytes.length} bytes to ${file} (${validate(bytes).length === 0 ? 'valid' : 'INVALID'})`);
const counts = new Map<string, number>();
for (const e of events) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
console.log(`events: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`);
for (const e of events) {
  if (e.kind === 'log' && e.category === 'slow') console.log(`slow request: ${e.message}`);
  if (e.kind === 'range' && e.category === 'loop') console.log(`event loop blocked for ${(e.duration / 1e6).toFixed(0)} ms`);
  if (e.kind === 'regionBegin' && e.name === 'render report') console.log(`…inside region "render report" of task ${e.task}`);
}
