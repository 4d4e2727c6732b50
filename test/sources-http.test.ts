import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import http, { type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'node:test';
import { FlightRecorder, Reader, trace, validate, type EventOf, type Task, type TraceEvent } from '../src/index.js';
import { asyncContextFrameActive, implicitTaskEnabled } from '../src/api/current-task.js';
import { serverRequestsInFlight } from '../src/sources/http-server.js';
import { recordSnapshot } from './helpers/record.js';
import { MemorySink } from './helpers/sinks.js';
import { waitFor } from './helpers/wait.js';

type HttpSettings = { query?: boolean; remoteAddress?: boolean; implicitTask?: boolean };

/** Records only the http source (and the annotations the test writes). */
function recordHttp(body: () => Promise<void>, http: HttpSettings | true = true): Promise<Buffer> {
  return recordSnapshot(body, { level: 'none', sources: { http } });
}

function eventsOf<K extends TraceEvent['kind']>(bytes: Uint8Array, kind: K): EventOf<K>[] {
  return [...new Reader(bytes)].filter((e): e is EventOf<K> => e.kind === kind);
}

interface Listening {
  server: Server;
  origin: string;
  port: number;
  close(): Promise<void>;
}

async function listen(handler: RequestListener): Promise<Listening> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A node:http request that resolves once the request is over ('close'), with the status and body. */
function request(url: string, options: http.RequestOptions = {}, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let text = '';
    const req = http.request(url, options, (res) => {
      status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
    });
    req.on('error', reject);
    req.on('close', () => resolve({ status, body: text }));
    req.end(body);
  });
}

/** A port that nothing listens on: one a server just released. */
async function closedPort(): Promise<number> {
  const { port, close } = await listen(() => undefined);
  await close();
  return port;
}

/** Whether this Node announces client requests when they are made ('http.client.request.created', Node 22+), not only once sent. */
function diagnosticsChannelHasCreated(): boolean {
  let seen = false;
  const onCreated = (): void => {
    seen = true;
  };
  diagnosticsChannel.subscribe('http.client.request.created', onCreated);
  try {
    // Published from the constructor; destroyed at once, before it connects anywhere.
    const probe = http.request({ host: '127.0.0.1', port: 9 });
    probe.on('error', () => undefined);
    probe.destroy();
  } finally {
    diagnosticsChannel.unsubscribe('http.client.request.created', onCreated);
  }
  return seen;
}

function exchanges(bytes: Uint8Array): { request: EventOf<'httpRequest'>; response: EventOf<'httpResponse'> | undefined }[] {
  const responses = eventsOf(bytes, 'httpResponse');
  return eventsOf(bytes, 'httpRequest').map((request) => ({ request, response: responses.find((r) => r.task === request.task) }));
}

test('server requests are recorded as tasks: method, path without query, status, bytes, route', async () => {
  const requestBody = 'q'.repeat(1000);
  const responseBody = 'r'.repeat(500);
  const server = await listen((req, res) => {
    if (req.url?.startsWith('/upload')) {
      let size = 0;
      req.on('data', (c: Buffer) => (size += c.length));
      req.on('end', () => {
        // Left the way Express leaves the matched route on the request.
        Object.assign(req, { route: { path: '/upload/:kind' }, baseUrl: '/api' });
        res.writeHead(201, { 'content-type': 'text/plain' }).end(`${size}:${responseBody}`);
      });
      return;
    }
    res.writeHead(404).end(responseBody);
  });
  try {
    const bytes = await recordHttp(async () => {
      const up = await request(`${server.origin}/upload/photos?token=hunter2&user=alice`, { method: 'POST', headers: { 'content-length': requestBody.length } }, requestBody);
      assert.equal(up.status, 201);
      assert.equal(up.body, `1000:${responseBody}`);
      const missing = await fetch(`${server.origin}/nothing/here?session=abc123`);
      assert.equal(missing.status, 404);
      await missing.text();
    });
    const seen = exchanges(bytes);
    assert.equal(seen.length, 2);
    const [upload, missing] = seen;
    assert.deepEqual([upload.request.method, upload.request.path, upload.request.remote], ['POST', '/upload/photos', '']);
    assert.deepEqual([missing.request.method, missing.request.path], ['GET', '/nothing/here']);
    assert.ok(upload.response && missing.response, 'both requests ended');
    assert.equal(upload.response.status, 201);
    assert.equal(upload.response.error, '');
    assert.equal(upload.response.route, '/api/upload/:kind');
    assert.equal(missing.response.status, 404);
    assert.equal(missing.response.route, '', 'no framework matched a route');
    // Wire bytes: the body plus the request line and headers, which are far below 1 KiB here.
    assert.ok(upload.response.requestBytes >= 1000 && upload.response.requestBytes < 2000, `request bytes ${upload.response.requestBytes}`);
    assert.ok(upload.response.responseBytes >= 504 && upload.response.responseBytes < 1500, `response bytes ${upload.response.responseBytes}`);
    assert.ok(missing.response.requestBytes > 0 && missing.response.requestBytes < 1000, `request bytes ${missing.response.requestBytes}`);
    assert.ok(missing.response.responseBytes >= 500 && missing.response.responseBytes < 1500, `response bytes ${missing.response.responseBytes}`);
    // Each request is a task by itself: httpRequest begins it and httpResponse ends it, with no
    // taskBegin or taskEnd of its own (an event less per request on the hot path).
    for (const { request: req } of seen) {
      assert.ok(!eventsOf(bytes, 'taskBegin').some((b) => b.task === req.task), `task ${req.task} has no separate begin`);
      assert.ok(!eventsOf(bytes, 'taskEnd').some((e) => e.task === req.task), `task ${req.task} has no separate end`);
    }
    assert.deepEqual(validate(bytes), []);
  } finally {
    await server.close();
  }
});

test('routes: Express\'s convention, Fastify 5\'s handler channel, and a route getter that throws', async () => {
  const server = await listen((req, res) => {
    if (req.url?.startsWith('/fastify/')) {
      // What Fastify 5 publishes before it runs a route handler (fastify/lib/handle-request.js).
      diagnosticsChannel.channel('tracing:fastify.request.handler:start').publish({ request: { raw: req }, reply: { raw: res }, route: { url: '/fastify/:id', method: 'GET' } });
    } else if (req.url?.startsWith('/express/')) {
      Object.assign(req, { route: { path: '/' }, baseUrl: '/express/items' });
    } else if (req.url?.startsWith('/broken/')) {
      Object.defineProperty(req, 'route', { get: () => { throw new Error('route getter failed'); } });
    }
    res.end('ok');
  });
  const fr = new FlightRecorder({ level: 'none', sources: { http: true } });
  fr.start();
  try {
    for (const path of ['/fastify/1', '/express/2', '/broken/3', '/plain/4']) assert.equal((await request(`${server.origin}${path}`)).body, 'ok');
    const sink = new MemorySink();
    await fr.writeTo(sink);
    const routes = Object.fromEntries(exchanges(sink.bytes()).map(({ request: r, response }) => [r.path, [response?.status, response?.route]]));
    assert.deepEqual(routes, {
      '/fastify/1': [200, '/fastify/:id'],
      '/express/2': [200, '/express/items'],
      '/broken/3': [200, ''],
      '/plain/4': [200, ''],
    });
    const status = fr.status().sources.http;
    assert.equal(status.state, 'on');
    assert.equal(status.errors, 1, 'the throwing getter was counted');
    assert.match(status.lastError, /route getter failed/);
  } finally {
    await fr.stop();
    await server.close();
  }
});

test('no header and no query string reaches the trace by default; both options add only what they name', async () => {
  const secretHeader = 'x-secret-header-value-7731';
  const server = await listen((_req, res) => res.setHeader('x-response-secret', 'resp-secret-9911').end('ok'));
  try {
    const headers = { authorization: `Bearer ${secretHeader}`, 'x-api-key': secretHeader, cookie: `sid=${secretHeader}` };
    const body = async (): Promise<void> => {
      await request(`${server.origin}/a?q=query-secret-5521`, { headers });
      await (await fetch(`${server.origin}/b?q=query-secret-5521`, { headers })).text();
    };
    const plain = await recordHttp(body);
    const text = Buffer.from(plain).toString('latin1');
    for (const secret of [secretHeader, 'resp-secret-9911', 'query-secret-5521', 'authorization', 'cookie']) {
      assert.ok(!text.includes(secret), `"${secret}" is not in the trace`);
    }
    assert.deepEqual(eventsOf(plain, 'httpRequest').map((e) => [e.path, e.remote]), [['/a', ''], ['/b', '']]);
    assert.deepEqual(eventsOf(plain, 'httpClientBegin').map((e) => e.path), ['/a', '/b']);

    const opted = await recordHttp(body, { query: true, remoteAddress: true });
    assert.deepEqual(eventsOf(opted, 'httpRequest').map((e) => [e.path, e.remote]), [['/a?q=query-secret-5521', '127.0.0.1'], ['/b?q=query-secret-5521', '127.0.0.1']]);
    assert.deepEqual(eventsOf(opted, 'httpClientBegin').map((e) => e.path), ['/a?q=query-secret-5521', '/b?q=query-secret-5521']);
    assert.ok(!Buffer.from(opted).toString('latin1').includes(secretHeader), 'headers stay out even with every option on');
  } finally {
    await server.close();
  }
});

test('a region in a handler belongs to the request\'s task through trace.taskOf(req), on every Node version', async () => {
  let taskOfReq: Task | undefined;
  let taskOfRes: Task | undefined;
  const server = await listen(async (req, res) => {
    taskOfReq = trace.taskOf(req);
    taskOfRes = trace.taskOf(res);
    await taskOfReq?.withRegion('load', async () => new Promise((r) => setTimeout(r, 5)));
    taskOfReq?.log('handler', 'loaded');
    res.end('done');
  });
  try {
    // Explicitly off: taskOf must not depend on the implicit task.
    const bytes = await recordHttp(async () => {
      await request(`${server.origin}/users/7`);
    }, { implicitTask: false });
    const [req] = eventsOf(bytes, 'httpRequest');
    assert.ok(taskOfReq, 'the handler found its task');
    assert.equal(taskOfReq, taskOfRes, 'request and response give the same task');
    assert.equal(taskOfReq.id, req.task);
    const region = eventsOf(bytes, 'regionBegin').find((e) => e.name === 'load');
    assert.equal(region?.task, req.task);
    assert.equal(eventsOf(bytes, 'log').find((e) => e.category === 'handler')?.task, req.task);
    assert.equal(trace.taskOf({}), undefined, 'an object that is no request has no task');
    assert.throws(() => trace.taskOf(undefined as never), { code: 'ERR_INVALID_ARGUMENT' });
    assert.throws(() => trace.taskOf('req' as never), { code: 'ERR_INVALID_ARGUMENT' });
  } finally {
    await server.close();
  }
});

test('the implicit current task: on by default where AsyncLocalStorage runs on AsyncContextFrame, off elsewhere', async () => {
  const major = Number.parseInt(process.versions.node, 10);
  const frameDisabled = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].includes('--no-async-context-frame');
  if (major >= 24 && !frameDisabled) assert.equal(asyncContextFrameActive, true, 'Node 24+ runs AsyncLocalStorage on AsyncContextFrame');
  if (major < 22) assert.equal(asyncContextFrameActive, false);
  let current: Task | undefined;
  let afterAwait: Task | undefined;
  let own: Task | undefined;
  const server = await listen(async (req, res) => {
    own = trace.taskOf(req);
    current = trace.currentTask();
    trace.log('handler', 'before await');
    await new Promise((r) => setTimeout(r, 2));
    afterAwait = trace.currentTask();
    trace.withRegion('after await', () => undefined);
    res.end();
  });
  try {
    const bytes = await recordHttp(async () => {
      await request(`${server.origin}/implicit`);
    });
    assert.ok(own);
    const log = eventsOf(bytes, 'log').find((e) => e.category === 'handler');
    const region = eventsOf(bytes, 'regionBegin').find((e) => e.name === 'after await');
    if (asyncContextFrameActive) {
      assert.equal(current, own, 'the handler runs in its request\'s task');
      assert.equal(afterAwait, own, 'and so does what it awaits');
      assert.equal(log?.task, own.id);
      assert.equal(region?.task, own.id);
    } else {
      assert.equal(current, undefined, 'off by default where it would slow every await');
      assert.equal(log?.task, 0);
      assert.equal(region?.task, 0);
    }
  } finally {
    await server.close();
  }
});

test('implicitTask: true turns the current task on where it is off by default (Node 20/22), and off again at stop', async () => {
  let current: Task | undefined;
  let own: Task | undefined;
  let enabledInside = false;
  const server = await listen(async (req, res) => {
    own = trace.taskOf(req);
    enabledInside = implicitTaskEnabled();
    await new Promise((r) => setImmediate(r));
    current = trace.currentTask();
    const region = trace.startRegion('opened');
    region.end();
    res.end();
  });
  try {
    const bytes = await recordHttp(async () => {
      await request(`${server.origin}/opt-in`);
    }, { implicitTask: true });
    assert.equal(enabledInside, true);
    assert.ok(own);
    assert.equal(current, own);
    assert.equal(eventsOf(bytes, 'regionBegin').find((e) => e.name === 'opened')?.task, own.id);
    assert.equal(implicitTaskEnabled(), false, 'stopping the recorder turned it off');
    assert.equal(trace.currentTask(), undefined);
  } finally {
    await server.close();
  }
});

test('an outgoing request from a handler is recorded in the handler\'s task, with its status', async () => {
  const downstream = await listen((req, res) => res.writeHead(req.url?.startsWith('/missing') ? 404 : 200).end('downstream'));
  const upstream = await listen(async (_req, res) => {
    const viaFetch = await fetch(`${downstream.origin}/items?id=3`);
    await viaFetch.text();
    const viaHttp = await request(`${downstream.origin}/missing?x=1`);
    res.end(`${viaFetch.status} ${viaHttp.status}`);
  });
  try {
    let answer = '';
    const bytes = await recordHttp(async () => {
      answer = (await request(`${upstream.origin}/front`)).body;
    }, { implicitTask: true });
    assert.equal(answer, '200 404');
    const front = eventsOf(bytes, 'httpRequest').find((e) => e.path === '/front');
    assert.ok(front);
    const begins = eventsOf(bytes, 'httpClientBegin');
    const ends = eventsOf(bytes, 'httpClientEnd');
    const items = begins.find((b) => b.path === '/items');
    const missing = begins.find((b) => b.path === '/missing');
    assert.ok(items && missing, 'both outgoing requests were recorded');
    for (const [begin, method, status] of [[items, 'GET', 200], [missing, 'GET', 404]] as const) {
      assert.equal(begin.task, front.task, `${begin.path} belongs to the handler's task`);
      assert.equal(begin.method, method);
      assert.equal(begin.host, `127.0.0.1:${downstream.port}`);
      const end = ends.find((e) => e.id === begin.id);
      assert.ok(end, `${begin.path} ended`);
      assert.equal(end.status, status);
      assert.equal(end.error, '');
      assert.ok(end.time >= begin.time);
    }
    assert.notEqual(items.id, missing.id);
    // The test's own request to the front server was made outside any task.
    assert.equal(begins.find((b) => b.path === '/front')?.task, 0);
    // The downstream server saw each as a request of its own, in a task of its own.
    const downstreamTasks = eventsOf(bytes, 'httpRequest').filter((e) => e.path !== '/front').map((e) => e.task);
    assert.equal(downstreamTasks.length, 2);
    assert.ok(!downstreamTasks.includes(front.task));
    assert.deepEqual(validate(bytes), []);
  } finally {
    await upstream.close();
    await downstream.close();
  }
});

test('a client request to a closed port ends with the error, through node:http and fetch', async () => {
  const port = await closedPort();
  const bytes = await recordHttp(async () => {
    await assert.rejects(request(`http://127.0.0.1:${port}/nobody?k=v`), { code: 'ECONNREFUSED' });
    await assert.rejects(fetch(`http://127.0.0.1:${port}/nobody-either`), (err: Error) => (err.cause as { code?: string }).code === 'ECONNREFUSED');
  });
  const begins = eventsOf(bytes, 'httpClientBegin');
  const ends = eventsOf(bytes, 'httpClientEnd');
  assert.deepEqual(begins.map((b) => [b.path, b.host]), [['/nobody', `127.0.0.1:${port}`], ['/nobody-either', `127.0.0.1:${port}`]]);
  for (const begin of begins) {
    const end = ends.filter((e) => e.id === begin.id);
    assert.equal(end.length, 1, `${begin.path} ends once`);
    assert.equal(end[0].status, 0);
    assert.match(end[0].error, /ECONNREFUSED/);
  }
});

test('a request the client aborts ends its task with an error', async () => {
  let arrived = false;
  let closed = false;
  const server = await listen((req, res) => {
    arrived = true;
    // Never answers; reads what comes.
    req.resume();
    req.on('error', () => undefined);
    res.on('close', () => (closed = true));
  });
  try {
    const bytes = await recordHttp(async () => {
      const client = http.request(`${server.origin}/slow?x=1`, { method: 'POST', headers: { 'content-length': 10_000 } });
      client.on('error', () => undefined);
      client.write('partial body');
      await waitFor(() => arrived, 'the request to reach the handler');
      client.destroy();
      await waitFor(() => closed, 'the server to see the connection close');
    });
    const [only] = exchanges(bytes);
    assert.equal(only.request.path, '/slow');
    assert.ok(only.response, 'the aborted request ended');
    assert.equal(only.response.status, 0, 'no response was sent');
    assert.match(only.response.error, /closed before the response was complete/);
    assert.ok(only.response.requestBytes > 0);
    assert.equal(only.response.task, only.request.task, 'its task ended with the response');
    // The client side: Node 22.12+ announces a request when it is made; Node 20 only once its
    // body is sent in full, which this one never was, so there it is not recorded at all.
    const clientBegins = eventsOf(bytes, 'httpClientBegin');
    if (diagnosticsChannelHasCreated()) {
      assert.equal(clientBegins.length, 1);
      const clientEnd = eventsOf(bytes, 'httpClientEnd').find((e) => e.id === clientBegins[0].id);
      assert.ok(clientEnd, 'the client request ended');
      assert.equal(clientEnd.status, 0);
      assert.notEqual(clientEnd.error, '', 'with an error');
    } else {
      assert.equal(clientBegins.length, 0);
    }
    assert.equal(serverRequestsInFlight(), 0);
  } finally {
    await server.close();
  }
});

/** Sends a request the server never answers, waits until the handler has it, then gives up. */
async function abandonedRequest(origin: string, track: (o: object) => void, arrived: () => number): Promise<void> {
  const client = http.request(`${origin}/hang`);
  client.on('error', () => undefined);
  track(client);
  client.end();
  const target = arrived() + 1;
  await waitFor(() => arrived() >= target, 'the abandoned request to reach the handler');
  client.destroy();
}

test('requests leave nothing behind: request objects are collectable, nothing is in flight', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let collected = 0;
  const registry = new FinalizationRegistry<void>(() => collected++);
  let tracked = 0;
  const track = (object: object): void => {
    registry.register(object);
    tracked++;
  };
  let arrived = 0;
  const server = await listen((req: IncomingMessage, res: ServerResponse) => {
    track(req);
    track(res);
    arrived++;
    // Never answers /hang: the client gives up. Such a request must not be held either.
    if (req.url === '/hang') req.on('error', () => undefined);
    else res.end('x');
  });
  const fr = new FlightRecorder({ level: 'none', sources: { http: { implicitTask: true } } });
  fr.start();
  try {
    // Each kind of request in a function of its own, so no variable of this test keeps one alive.
    for (let i = 0; i < 40; i++) {
      if (i % 4 === 0) await (await fetch(`${server.origin}/f${i}?q=${i}`)).text();
      else if (i % 4 === 1) await abandonedRequest(server.origin, track, () => arrived);
      else await request(`${server.origin}/r${i}`);
    }
    assert.equal(arrived, 40);
    await waitFor(() => serverRequestsInFlight() === 0, 'every server request to end');
    await server.close();
    // Still recording: the recorder's own maps must not be what keeps requests alive.
    await waitFor(() => {
      gc();
      return collected === tracked;
    }, `all ${tracked} tracked request and response objects to be collected`);
  } finally {
    await fr.stop();
    await server.close();
  }
});

test('stopping the recorder unsubscribes every channel; bad settings are typed errors', async () => {
  const channels = ['http.server.request.start', 'http.server.response.finish', 'http.client.request.created', 'http.client.request.start', 'http.client.response.finish', 'http.client.request.error', 'undici:request:create', 'undici:request:headers', 'undici:request:trailers', 'undici:request:error'];
  const fr = new FlightRecorder({ level: 'none', sources: { http: true } });
  fr.start();
  assert.ok(channels.every((c) => diagnosticsChannel.hasSubscribers(c)), 'subscribed while recording');
  await fr.stop();
  assert.deepEqual(channels.filter((c) => diagnosticsChannel.hasSubscribers(c)), []);
  assert.throws(() => new FlightRecorder({ sources: { http: { query: 'yes' as never } } }), { code: 'ERR_INVALID_OPTION' });
  assert.throws(() => new FlightRecorder({ sources: { http: { headers: true } } }), { code: 'ERR_INVALID_OPTION' });
});
