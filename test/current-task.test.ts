import assert from 'node:assert/strict';
import http, { type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FlightRecorder, Reader, trace, validate, type EventOf, type TraceEvent } from '../src/index.js';
import { asyncContextFrameActive, implicitTaskEnabled } from '../src/api/current-task.js';
import { recordSnapshot } from './helpers/record.js';
import { MemorySink } from './helpers/sinks.js';
import { waitFor } from './helpers/wait.js';

function eventsOf<K extends TraceEvent['kind']>(bytes: Uint8Array, kind: K): EventOf<K>[] {
  return [...new Reader(bytes)].filter((e): e is EventOf<K> => e.kind === kind);
}

async function listen(handler: RequestListener): Promise<{ server: Server; origin: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function get(url: string, agent?: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

test('concurrent requests each see their own task, across awaits and timers, on fresh and kept-alive connections', async () => {
  const server = await listen(async (req, res) => {
    const own = trace.taskOf(req);
    const n = Number(req.url?.slice(1));
    // Interleave the handlers: each waits a different time, then logs from a timer callback.
    await sleep((n * 7) % 11);
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        trace.log('req', String(n));
        resolve();
      }, 1),
    );
    res.end(`${n}:${own?.id ?? 0}:${trace.currentTask()?.id ?? 0}`);
  });
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 2 });
  try {
    let answers: string[] = [];
    const bytes = await recordSnapshot(async () => {
      const fresh = Array.from({ length: 6 }, (_, i) => get(`${server.origin}/${i}`, new http.Agent({ keepAlive: false })));
      const kept = Array.from({ length: 6 }, (_, i) => get(`${server.origin}/${i + 6}`, keepAlive));
      answers = await Promise.all([...fresh, ...kept]);
      // Outside any request again: no task, even right after requests on this context.
      trace.log('after', 'all');
    }, { level: 'none', sources: { http: { implicitTask: true } } });
    assert.equal(answers.length, 12);
    for (const answer of answers) {
      const [, own, current] = answer.split(':').map(Number);
      assert.ok(own > 0);
      assert.equal(current, own, `request ${answer}: the current task is its own`);
    }
    const requests = eventsOf(bytes, 'httpRequest');
    const logs = eventsOf(bytes, 'log');
    for (let n = 0; n < 12; n++) {
      const request = requests.find((r) => r.path === `/${n}`);
      const log = logs.find((l) => l.category === 'req' && l.message === String(n));
      assert.ok(request && log);
      assert.equal(log.task, request.task, `the log of request ${n} is in its task`);
    }
    assert.equal(logs.find((l) => l.category === 'after')?.task, 0);
    assert.deepEqual(validate(bytes), []);
  } finally {
    keepAlive.destroy();
    await server.close();
  }
});

test('an explicit task wins over the current one; annotations outside requests have no task', async () => {
  const server = await listen((_req, res) => {
    const job = trace.newTask('background job');
    trace.startRegion('in job', job).end();
    trace.startRegion('in request').end();
    job.end();
    res.end();
  });
  try {
    const bytes = await recordSnapshot(async () => {
      trace.withRegion('outside', () => undefined);
      await get(`${server.origin}/x`);
      await new Promise<void>((resolve) => setTimeout(() => resolve(trace.log('timer', 'outside')), 1));
    }, { level: 'none', sources: { http: { implicitTask: true } } });
    const [request] = eventsOf(bytes, 'httpRequest');
    const job = eventsOf(bytes, 'taskBegin').find((t) => t.name === 'background job');
    const regions = eventsOf(bytes, 'regionBegin');
    assert.ok(job);
    assert.equal(job.parent, 0);
    assert.equal(regions.find((r) => r.name === 'in job')?.task, job.task);
    assert.equal(regions.find((r) => r.name === 'in request')?.task, request.task);
    assert.equal(regions.find((r) => r.name === 'outside')?.task, 0);
    assert.equal(eventsOf(bytes, 'log').find((l) => l.category === 'timer')?.task, 0);
  } finally {
    await server.close();
  }
});

test('the implicit task follows the recorders that ask for it, and a request in flight survives the source restarting', async () => {
  let release: (() => void) | undefined;
  const server = await listen((req, res) => {
    if (req.url === '/wait') release = () => res.end('late');
    else res.end('now');
  });
  const asking = new FlightRecorder({ level: 'none', sources: { http: { implicitTask: true } } });
  const plain = new FlightRecorder({ level: 'none', sources: { http: true } });
  try {
    assert.equal(implicitTaskEnabled(), false, 'off while nothing records');
    plain.start();
    assert.equal(implicitTaskEnabled(), asyncContextFrameActive, 'by default, on only where it is cheap');
    asking.start();
    assert.equal(implicitTaskEnabled(), true, 'on while any recorder asks');
    const late = get(`${server.origin}/wait`);
    await waitFor(() => release !== undefined, 'the request to reach its handler');
    // The http source restarts with the settings that remain.
    await asking.stop();
    assert.equal(implicitTaskEnabled(), asyncContextFrameActive);
    release!();
    assert.equal(await late, 'late');
    const sink = new MemorySink();
    await plain.writeTo(sink);
    const bytes = sink.bytes();
    const [request] = eventsOf(bytes, 'httpRequest');
    const response = eventsOf(bytes, 'httpResponse').find((r) => r.task === request?.task);
    assert.ok(request && response, 'the request begun before the restart ended after it');
    assert.equal(response.status, 200);
    assert.equal(response.task, request.task, 'its task ended with the response');
  } finally {
    await asking.stop();
    await plain.stop();
    await server.close();
  }
  assert.equal(implicitTaskEnabled(), false, 'off again once every recorder stopped');
  assert.equal(trace.currentTask(), undefined);
});

test('the implicit task keeps no request alive after its response, on idle kept-alive connections', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const requests: WeakRef<object>[] = [];
  const server = await listen(async (req, res) => {
    requests.push(new WeakRef(req));
    await null;
    res.end(trace.currentTask() === trace.taskOf(req) ? 'same' : 'different');
  });
  const recorder = new FlightRecorder({ level: 'none', sources: { http: { implicitTask: true } } });
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 2 });
  try {
    recorder.start();
    // Rounds of two requests at once over two kept-alive connections: each round's requests are
    // the latest of their connections, which the context used to keep alive as long as the
    // connection stayed open.
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all([get(`${server.origin}/item/${round}a?q=1`, keepAlive), get(`${server.origin}/item/${round}b`, keepAlive)]);
      assert.deepEqual(answers, ['same', 'same'], 'currentTask() is the object taskOf(req) returns');
    }
    assert.equal(trace.currentTask(), undefined);
    assert.equal(keepAlive.freeSockets[Object.keys(keepAlive.freeSockets)[0]]?.length, 2, 'both connections stay open, idle');
    // A few collections, with turns of the loop between them for Node's own deferred clean-up.
    // A collection never runs in the job that dereferenced a WeakRef: deref() keeps the target
    // alive until that job ends.
    const latest = requests.slice(-2);
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    let freed: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      await turn();
      gc();
      await turn();
      freed = latest.map((r) => r.deref() === undefined);
      if (!freed.includes(false)) break;
    }
    assert.deepEqual(freed, [true, true], 'the latest request of each connection was freed');
  } finally {
    keepAlive.destroy();
    await recorder.stop();
    await server.close();
  }
});
