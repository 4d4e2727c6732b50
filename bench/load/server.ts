/**
 * The load benchmark's server: a node:http JSON API with a little async work per request,
 * recording as its variant says (argv[2]). Started fresh by the parent (bench/load/harness.ts)
 * for every measured run, controlled over the IPC channel, never over HTTP.
 *
 * Variants: none | default | detailed | cpu (our FlightRecorder at that level, 10 MiB) |
 * otel (OpenTelemetry's Node SDK, HTTP instrumentation, in-memory exporter) |
 * trace-events (no recorder here; the parent starts node with --trace-event-categories).
 * In the none variant the `part` command switches one measured part on at a time (load-parts).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Http from 'node:http';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { finished } from 'node:stream/promises';
import { isOurs, SERVER_REQUEST_CHANNELS, VARIANTS, type Command, type Part, type Reply, type ServerStatus, type Variant } from './protocol.js';

const variant = process.argv[2] as Variant;
if (!(VARIANTS as readonly string[]).includes(variant) || process.send === undefined) {
  console.error(`usage: fork(server.js, [${VARIANTS.join('|')}]) with an IPC channel`);
  process.exit(2);
}
const send = (reply: Reply) => process.send!(reply);

const MAX_BYTES = 10 * 1024 * 1024;
/** The memory suite sets a long minAge so that maxBytes, not age, bounds the window. */
const minAge = process.env.NFR_LOAD_MIN_AGE ? Number(process.env.NFR_LOAD_MIN_AGE) : undefined;

type Library = typeof import('../../src/index.js');
let lib: Library | undefined;
let recorder: InstanceType<Library['FlightRecorder']> | undefined;
/** OpenTelemetry variant: spans the exporter has received so far. */
let countSpans: (() => number) | undefined;

// Tracing starts before the application loads node:http, as a real setup would (OTel patches the module on require).
if (isOurs(variant)) {
  lib = await import('../../src/index.js');
  // NFR_LOAD_SOURCES (JSON, e.g. {"http":false}) switches sources for a diagnosis of where the cost goes.
  const sources = process.env.NFR_LOAD_SOURCES ? (JSON.parse(process.env.NFR_LOAD_SOURCES) as import('../../src/index.js').RecordingOptions['sources']) : undefined;
  recorder = new lib.FlightRecorder({ level: variant, maxBytes: MAX_BYTES, ...(minAge !== undefined ? { minAge } : {}), ...(sources !== undefined ? { sources } : {}) });
  recorder.start();
} else if (variant === 'production') {
  // Started by --import node-flight-recorder/auto before this module ran.
  lib = await import('../../src/index.js');
  recorder = lib.currentRecording()?.recorder;
  if (recorder === undefined) throw new Error('the production variant runs with --import node-flight-recorder/auto, which started no recording');
} else if (variant === 'otel') {
  const { NodeTracerProvider, BatchSpanProcessor, InMemorySpanExporter } = await import('@opentelemetry/sdk-trace-node');
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
  const exporter = new InMemorySpanExporter();
  // BatchSpanProcessor: what production setups use (SimpleSpanProcessor exports span by span and is meant for tests).
  const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
  provider.register();
  const instrumentation = new HttpInstrumentation();
  instrumentation.setTracerProvider(provider);
  instrumentation.enable();
  // The in-memory exporter keeps every span: empty it each second, as a network exporter would send them away.
  let spansCleared = 0;
  setInterval(() => {
    spansCleared += exporter.getFinishedSpans().length;
    exporter.reset();
  }, 1000).unref();
  countSpans = () => spansCleared + exporter.getFinishedSpans().length;
}

// Through require, so that OpenTelemetry's require hook sees the module and patches it.
const http = createRequire(import.meta.url)('node:http') as typeof Http;

interface User {
  id: number;
  name: string;
  email: string;
  roles: string[];
}
const users: User[] = Array.from({ length: 1000 }, (_, id) => ({ id, name: `user ${id}`, email: `user${id}@example.com`, roles: id % 10 === 0 ? ['admin', 'reader'] : ['reader'] }));

/** Stands for a cache or database look-up that answers from memory: a resolved promise. */
async function findUser(id: number): Promise<User | undefined> {
  await null;
  return users[id];
}

/** A turn through the event loop, like waiting for I/O. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Some synchronous work, as a real handler has: pick and shape a page of related records. */
interface Friend {
  id: number;
  name: string;
  email: string;
  admin: boolean;
}
function friendsOf(user: User): Friend[] {
  const page: Friend[] = [];
  for (let k = 1; page.length < 50; k++) {
    const other = users[(user.id * 7 + k * 13) % users.length];
    if (other.id !== user.id) page.push({ id: other.id, name: other.name, email: other.email, admin: other.roles.includes('admin') });
  }
  return page.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

let requests = 0;
const USER_PATH = /^\/users\/(\d+)$/;

async function handle(req: Http.IncomingMessage, res: Http.ServerResponse): Promise<void> {
  const match = USER_PATH.exec(req.url ?? '');
  const user = match ? await findUser(Number(match[1])) : undefined;
  await nextTurn();
  const body = user ? JSON.stringify({ user, friends: friendsOf(user), servedAt: new Date().toISOString() }) : '{"error":"not found"}';
  res.writeHead(user ? 200 : 404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  requests++;
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    res.statusCode = 500;
    res.end(String(err));
  });
});
server.keepAliveTimeout = 30_000;

const startCpu = process.cpuUsage();

function status(gc: boolean): ServerStatus {
  if (gc) (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage(startCpu);
  const s: ServerStatus = { requests, cpuMicros: cpu.user + cpu.system, at: performance.now(), memory: process.memoryUsage() };
  if (recorder !== undefined && lib !== undefined) {
    const fr = recorder.status();
    const tracer = lib.tracerStatus();
    s.recorder = {
      windowBytes: fr.bytes,
      generations: fr.generations,
      maxBytes: fr.maxBytes,
      sources: Object.fromEntries(Object.entries(fr.sources).map(([name, st]) => [name, { state: st.state, errors: st.errors }])),
      poolBytesInUse: tracer.poolBytesInUse,
      eventsLost: tracer.eventsLost,
    };
  }
  if (countSpans !== undefined) s.spansExported = countSpans();
  return s;
}

let stream: import('node:fs').WriteStream | undefined;

/** The load-parts suite's part now switched on, and how to switch it off. */
let stopPart: (() => Promise<void>) | undefined;
const ignore = (): void => undefined;

async function switchPart(part: Part): Promise<void> {
  if (variant !== 'none') throw new Error(`parts are switched in the none variant, not ${variant}`);
  await stopPart?.();
  stopPart = undefined;
  switch (part.kind) {
    case 'nothing':
      return;
    case 'http-channels':
      for (const name of SERVER_REQUEST_CHANNELS) diagnosticsChannel.subscribe(name, ignore);
      stopPart = async () => {
        for (const name of SERVER_REQUEST_CHANNELS) diagnosticsChannel.unsubscribe(name, ignore);
      };
      return;
    case 'gc-observer': {
      const observer = new PerformanceObserver(ignore);
      observer.observe({ entryTypes: ['gc'] });
      stopPart = async () => observer.disconnect();
      return;
    }
    case 'v8-profiler': {
      const { Session } = await import('node:inspector');
      const session = new Session();
      session.connect();
      const post = (method: string, params?: object) =>
        new Promise<void>((resolve, reject) => session.post(method, params, (err) => (err ? reject(err) : resolve())));
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: part.intervalMs * 1000 });
      await post('Profiler.start');
      stopPart = async () => {
        await post('Profiler.stop');
        session.disconnect();
      };
      return;
    }
    case 'recorder': {
      lib ??= await import('../../src/index.js');
      const partRecorder = new lib.FlightRecorder(part.options);
      partRecorder.start();
      stopPart = () => partRecorder.stop();
      return;
    }
  }
}

async function run(command: Command): Promise<Reply> {
  switch (command.cmd) {
    case 'status':
      return { type: 'status', id: command.id, status: status(command.gc === true) };
    case 'stream-start': {
      if (lib === undefined || !isOurs(variant)) throw new Error(`stream-start needs one of our levels, not ${variant}`);
      stream = createWriteStream(command.file);
      lib.trace.start(stream, { level: variant });
      return { type: 'done', id: command.id };
    }
    case 'stream-stop': {
      if (lib === undefined || stream === undefined) throw new Error('no streaming trace runs');
      await lib.trace.stop();
      stream.end();
      await finished(stream);
      const bytes = stream.bytesWritten;
      stream = undefined;
      return { type: 'done', id: command.id, bytes };
    }
    case 'snapshot': {
      if (recorder === undefined) throw new Error(`snapshot needs one of our levels, not ${variant}`);
      const out = createWriteStream(command.file);
      const bytes = await recorder.writeTo(out);
      out.end();
      await finished(out);
      return { type: 'done', id: command.id, bytes };
    }
    case 'part':
      await switchPart(command.part);
      return { type: 'done', id: command.id };
    case 'exit':
      await stopPart?.();
      server.close();
      server.closeAllConnections();
      await recorder?.stop();
      return { type: 'done', id: command.id };
  }
}

process.on('message', (command: Command) => {
  run(command).then(
    (reply) => process.send!(reply, () => command.cmd === 'exit' && process.exit(0)),
    (err: unknown) => send({ type: 'error', id: command.id, message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
// The parent went away: do not linger.
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  send({ type: 'ready', id: 0, port: typeof address === 'object' && address !== null ? address.port : 0 });
});
