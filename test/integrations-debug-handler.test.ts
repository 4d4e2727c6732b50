import assert from 'node:assert/strict';
import { once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { FlightRecorder, Reader, trace, validate } from '../src/index.js';
import { isNfrError } from '../src/errors/errors.js';
import { createDebugHandler, isLoopbackAddress, type DebugHandler, type DebugHandlerOptions } from '../src/integrations/debug-handler.js';
import { GatedSink, MemorySink } from './helpers/sinks.js';
import { waitFor } from './helpers/wait.js';

/**
 * The debug endpoint on real node:http servers, asked by real HTTP clients, serving real flight
 * recorders. The loopback rules are also checked on the machine's own non-loopback address
 * when it has one.
 */

const TOKEN = 'test-token-0123456789abcdef';
const PATH = '/debug/flight-recorder';

interface Served {
  origin: string;
  /** What reached the application behind the handler. */
  appHits: string[];
  /** Each request: its req.url as the handler saw it, what the handler returned, whether it called next(). */
  calls: { url: string; handled: boolean; next: boolean }[];
  close(): Promise<void>;
}

/** A server whose application answers 200 "app" to whatever the handler leaves to it. */
async function serve(handler: DebugHandler, host = '127.0.0.1', mountedAt?: string): Promise<Served> {
  const appHits: string[] = [];
  const calls: Served['calls'] = [];
  const server = http.createServer((req, res) => {
    if (mountedAt !== undefined && req.url?.startsWith(mountedAt)) {
      // What Express does under app.use(mountedAt, ...): the mount path moves out of req.url.
      (req as IncomingMessage & { originalUrl?: string }).originalUrl = req.url;
      req.url = req.url.slice(mountedAt.length) || '/';
    }
    let next = false;
    const url = req.url ?? '';
    const handled = handler(req, res, () => {
      next = true;
      appHits.push(url);
      res.end('app');
    });
    calls.push({ url, handled, next });
  });
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    appHits,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

interface RequestOptions {
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  token?: string;
  /** The client's own address. */
  localAddress?: string;
}

function request(url: string, options: RequestOptions = {}): Promise<Answer> {
  const headers = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers, agent: false, localAddress: options.localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function json(answer: Answer): Record<string, unknown> {
  assert.match(String(answer.headers['content-type']), /^application\/json/);
  return JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
}

/** Asserts a JSON error answer: its status, its code, a message, and no caching. */
function assertRefused(answer: Answer, status: number, code: string): Record<string, unknown> {
  assert.equal(answer.status, status, `status, body: ${answer.body.toString()}`);
  const body = json(answer);
  assert.equal(body.code, code);
  assert.equal(typeof body.error, 'string');
  assert.ok((body.error as string).length > 10, 'the error says what happened');
  assert.equal(answer.headers['cache-control'], 'no-store, no-transform');
  return body;
}

function logsOf(bytes: Uint8Array): string[] {
  return [...new Reader(bytes)].flatMap((e) => (e.kind === 'log' ? [e.message] : []));
}

/** Runs `body` with a started annotations-only recorder, stopped afterwards whatever happens. */
async function withRecorder(body: (fr: FlightRecorder) => Promise<void>, options: ConstructorParameters<typeof FlightRecorder>[0] = { level: 'none' }): Promise<void> {
  const fr = new FlightRecorder(options);
  fr.start();
  try {
    await body(fr);
  } finally {
    await fr.stop();
  }
}

/** Runs `body` with a server of a handler made from `options`, closed afterwards. */
async function withServer(options: DebugHandlerOptions, body: (s: Served) => Promise<void>, host?: string): Promise<void> {
  const s = await serve(createDebugHandler(options), host);
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

test('isLoopbackAddress: 127/8, ::1 and mapped 127.x only', () => {
  for (const a of ['127.0.0.1', '127.255.255.254', '127.0.0.2', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::FFFF:127.1.2.3', '::ffff:7f00:1']) {
    assert.equal(isLoopbackAddress(a), true, a);
  }
  for (const a of [
    '128.0.0.1', '10.0.0.1', '192.0.2.2', '0.0.0.0', '::', '::2', '::ffff:128.0.0.1', '::ffff:10.0.0.1', '::127.0.0.1', 'fe80::1', '::1%lo',
    '127.1', 'localhost', '', ' 127.0.0.1', '127.0.0.1 ', undefined, null, 2130706433,
  ]) {
    assert.equal(isLoopbackAddress(a), false, String(a));
  }
});

test('construction: no token and no opt-out is ERR_UNSAFE_DEBUG_HANDLER; bad options are ERR_INVALID_OPTION naming the option', () => {
  const recorder = new FlightRecorder();
  assert.throws(() => createDebugHandler({ recorder }), { code: 'ERR_UNSAFE_DEBUG_HANDLER' });
  assert.throws(() => createDebugHandler({ recorder, allowUnauthenticatedLoopback: false }), { code: 'ERR_UNSAFE_DEBUG_HANDLER' });
  // The usual way to get there: an environment variable that is not set.
  assert.throws(() => createDebugHandler({ recorder, token: undefined }), { code: 'ERR_UNSAFE_DEBUG_HANDLER', message: /environment variable/ });
  const invalid: [unknown, RegExp][] = [
    [{ recorder, token: '' }, /"token"/],
    [{ recorder, token: 42 }, /"token"/],
    [{ recorder, token: 'has space' }, /"token"/],
    [{ recorder, token: TOKEN, tokn: 'x' }, /unknown option "tokn"/],
    [{ token: TOKEN }, /"recorder" is required/],
    [{ recorder: {}, token: TOKEN }, /"recorder"/],
    [{ recorder, token: TOKEN, allowUnauthenticatedLoopback: 'yes' }, /"allowUnauthenticatedLoopback"/],
    [{ recorder, token: TOKEN, path: 'debug' }, /"path"/],
    [{ recorder, token: TOKEN, path: '/' }, /"path"/],
    [{ recorder, token: TOKEN, path: '/debug/' }, /"path"/],
    [{ recorder, token: TOKEN, minInterval: -1 }, /"minInterval"/],
    [{ recorder, token: TOKEN, downloadTimeout: 0 }, /"downloadTimeout"/],
    [undefined, /"recorder" is required/],
    ['token', /options must be an object/],
  ];
  for (const [options, message] of invalid) {
    assert.throws(() => createDebugHandler(options as DebugHandlerOptions), { code: 'ERR_INVALID_OPTION', message }, JSON.stringify(options));
  }
  assert.equal(typeof createDebugHandler({ recorder, token: TOKEN }), 'function');
  assert.equal(typeof createDebugHandler({ recorder, allowUnauthenticatedLoopback: true }), 'function');
  assert.equal(typeof createDebugHandler({ recorder: () => undefined, token: TOKEN, path: '/x', minInterval: 0 }), 'function');
});

test('no token: 401 with WWW-Authenticate; wrong token: 403; other schemes: 401; right token: 200 and a valid trace with the log', async () => {
  await withRecorder(async (fr) => {
    await withServer({ recorder: fr, token: TOKEN }, async ({ origin }) => {
      const url = origin + PATH;
      const missing = await request(url);
      assertRefused(missing, 401, 'ERR_TOKEN_REQUIRED');
      assert.match(String(missing.headers['www-authenticate']), /^Bearer/);

      assertRefused(await request(url, { token: 'wrong' }), 403, 'ERR_TOKEN_INVALID');
      assertRefused(await request(url, { token: TOKEN.slice(0, -1) }), 403, 'ERR_TOKEN_INVALID');
      assertRefused(await request(url, { token: `${TOKEN}x` }), 403, 'ERR_TOKEN_INVALID');
      assertRefused(await request(url, { headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` } }), 401, 'ERR_TOKEN_REQUIRED');
      // A token in the query string would end up in access logs: it counts for nothing.
      assertRefused(await request(`${url}?token=${TOKEN}`), 401, 'ERR_TOKEN_REQUIRED');
      assert.equal(fr.status().snapshots, 0, 'no refused request took a snapshot');

      trace.log('debug-handler', 'written before the download');
      const ok = await request(url, { headers: { authorization: `bearer  ${TOKEN}` } });
      assert.equal(ok.status, 200, ok.body.toString());
      assert.equal(ok.headers['content-type'], 'application/octet-stream');
      assert.equal(ok.headers['cache-control'], 'no-store, no-transform');
      assert.match(String(ok.headers['content-disposition']), new RegExp(`^attachment; filename="flight-${process.pid}-\\d{8}T\\d{6}Z\\.nfrt"$`));
      assert.deepEqual(validate(ok.body), []);
      assert.ok(logsOf(ok.body).includes('written before the download'), 'the log written before the download is in it');
      assert.equal(fr.status().snapshots, 1);
    });
  });
});

test('status: the recorder status as JSON with pid, node and uptime; needs the token too', async () => {
  await withRecorder(async (fr) => {
    await withServer({ recorder: fr, token: TOKEN }, async ({ origin }) => {
      assertRefused(await request(`${origin}${PATH}/status`), 401, 'ERR_TOKEN_REQUIRED');
      const answer = await request(`${origin}${PATH}/status`, { token: TOKEN });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['cache-control'], 'no-store, no-transform');
      const status = json(answer);
      assert.equal(status.enabled, true);
      assert.equal(status.pid, process.pid);
      assert.equal(status.node, process.version);
      assert.equal(typeof status.uptime, 'number');
      assert.equal(status.maxBytes, fr.maxBytes);
      assert.equal(typeof status.sources, 'object');
      assert.equal(status.snapshots, 0, 'the status takes no snapshot');
    });
  });
});

test('405 with Allow for other methods, 404 under the path, HEAD without a snapshot, other paths to the app', async () => {
  await withRecorder(async (fr) => {
    await withServer({ recorder: fr, token: TOKEN }, async ({ origin, appHits, calls }) => {
      const post = await request(origin + PATH, { method: 'POST', token: TOKEN });
      assertRefused(post, 405, 'ERR_METHOD_NOT_ALLOWED');
      assert.equal(post.headers.allow, 'GET, HEAD');
      assertRefused(await request(`${origin}${PATH}/status`, { method: 'DELETE', token: TOKEN }), 405, 'ERR_METHOD_NOT_ALLOWED');
      assertRefused(await request(`${origin}${PATH}/nope`, { token: TOKEN }), 404, 'ERR_NOT_FOUND');
      assertRefused(await request(`${origin}${PATH}/`, { token: TOKEN }), 404, 'ERR_NOT_FOUND');
      // Unknown subpaths are not revealed without the token.
      assertRefused(await request(`${origin}${PATH}/nope`), 401, 'ERR_TOKEN_REQUIRED');

      const head = await request(origin + PATH, { method: 'HEAD', token: TOKEN });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-type'], 'application/octet-stream');
      assert.equal(head.body.length, 0);
      assert.equal(fr.status().snapshots, 0, 'HEAD takes no snapshot');

      for (const other of ['/', '/debug', '/debug/flight-recorderx', '/debug/flight', '/api?to=/debug/flight-recorder']) {
        const answer = await request(origin + other);
        assert.equal(answer.status, 200, other);
        assert.equal(answer.body.toString(), 'app', other);
      }
      assert.deepEqual(appHits, ['/', '/debug', '/debug/flight-recorderx', '/debug/flight', '/api?to=/debug/flight-recorder'], 'next() was called for each');
      assert.ok(calls.every((c) => c.handled === !c.next), 'the handler returns true exactly when it did not call next()');
      // The query string does not hide the endpoint from the handler.
      const withQuery = await request(`${origin}${PATH}/status?pretty=1`, { token: TOKEN });
      assert.equal(withQuery.status, 200);
    });
  });
});

test('returns false and calls next() for other paths; matches originalUrl when mounted like Express', async () => {
  await withRecorder(async (fr) => {
    const handler = createDebugHandler({ recorder: fr, token: TOKEN, path: '/ops/debug/flight-recorder' });
    const s = await serve(handler, '127.0.0.1', '/ops');
    try {
      const answer = await request(`${s.origin}/ops/debug/flight-recorder/status`, { token: TOKEN });
      assert.equal(answer.status, 200, 'matched on originalUrl, not on the stripped req.url');
      const download = await request(`${s.origin}/ops/debug/flight-recorder`, { token: TOKEN });
      assert.equal(download.status, 200);
      assert.deepEqual(validate(download.body), []);
      // Under the mount path but not the endpoint: the handler's path is the full one.
      assert.equal((await request(`${s.origin}/ops/elsewhere`)).body.toString(), 'app');
      assert.equal((await request(`${s.origin}/debug/flight-recorder`)).body.toString(), 'app');
      assert.deepEqual(s.calls, [
        { url: '/debug/flight-recorder/status', handled: true, next: false },
        { url: '/debug/flight-recorder', handled: true, next: false },
        { url: '/elsewhere', handled: false, next: true },
        { url: '/debug/flight-recorder', handled: false, next: true },
      ]);
    } finally {
      await s.close();
    }
  });
});

test('minInterval: a download too soon after the last gets 429 with Retry-After', async () => {
  await withRecorder(async (fr) => {
    await withServer({ recorder: fr, token: TOKEN, minInterval: 60_000 }, async ({ origin }) => {
      assert.equal((await request(origin + PATH, { token: TOKEN })).status, 200);
      const again = await request(origin + PATH, { token: TOKEN });
      assertRefused(again, 429, 'ERR_TOO_SOON');
      const retryAfter = Number(again.headers['retry-after']);
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${again.headers['retry-after']}`);
      const head = await request(origin + PATH, { method: 'HEAD', token: TOKEN });
      assert.equal(head.status, 429, 'HEAD tells what a GET would get');
      assert.equal((await request(`${origin}${PATH}/status`, { token: TOKEN })).status, 200, 'the status is not rate limited');
      assert.equal(fr.status().snapshots, 1);
    });
  });
});

test('a stopped recorder: 503 ERR_FLIGHT_RECORDER_DISABLED, which does not count against minInterval', async () => {
  const fr = new FlightRecorder({ level: 'none' });
  await withServer({ recorder: fr, token: TOKEN, minInterval: 60_000 }, async ({ origin }) => {
    assertRefused(await request(origin + PATH, { token: TOKEN }), 503, 'ERR_FLIGHT_RECORDER_DISABLED');
    const head = await request(origin + PATH, { method: 'HEAD', token: TOKEN });
    assert.equal(head.status, 503, 'HEAD tells what a GET would get');
    assert.equal(head.body.length, 0);
    assert.equal(json(await request(`${origin}${PATH}/status`, { token: TOKEN })).enabled, false);
    fr.start();
    try {
      const ok = await request(origin + PATH, { token: TOKEN });
      assert.equal(ok.status, 200);
      assert.deepEqual(validate(ok.body), []);
    } finally {
      await fr.stop();
    }
    assertRefused(await request(origin + PATH, { token: TOKEN }), 429, 'ERR_TOO_SOON');
  });
});

test('a recorder made later: 503 until the function returns one', async () => {
  let recorder: FlightRecorder | undefined;
  await withServer({ recorder: () => recorder, token: TOKEN }, async ({ origin }) => {
    assertRefused(await request(origin + PATH, { token: TOKEN }), 503, 'ERR_NO_RECORDER');
    assertRefused(await request(`${origin}${PATH}/status`, { token: TOKEN }), 503, 'ERR_NO_RECORDER');
    await withRecorder(async (fr) => {
      recorder = fr;
      const ok = await request(origin + PATH, { token: TOKEN });
      assert.equal(ok.status, 200);
      assert.deepEqual(validate(ok.body), []);
    });
  });
});

test('the recorder busy with another snapshot: 503 ERR_SNAPSHOT_IN_PROGRESS with Retry-After, then served', async () => {
  await withRecorder(async (fr) => {
    await withServer({ recorder: fr, token: TOKEN }, async ({ origin }) => {
      const gate = new GatedSink();
      const other = fr.writeTo(gate); // held in flight until the gate opens
      try {
        const busy = await request(origin + PATH, { token: TOKEN });
        assertRefused(busy, 503, 'ERR_SNAPSHOT_IN_PROGRESS');
        assert.equal(busy.headers['retry-after'], '1');
      } finally {
        gate.release();
        await other;
      }
      const ok = await request(origin + PATH, { token: TOKEN });
      assert.equal(ok.status, 200, 'the refused download did not count against minInterval');
      assert.deepEqual(validate(ok.body), []);
    });
  });
});

test('failures inside the handler answer 500 and never reach the application', async () => {
  const throwing = () => {
    throw new Error('recorder lookup failed');
  };
  await withServer({ recorder: throwing, token: TOKEN }, async ({ origin }) => {
    assertRefused(await request(origin + PATH, { token: TOKEN }), 500, 'ERR_INTERNAL');
    assertRefused(await request(`${origin}${PATH}/status`, { token: TOKEN }), 500, 'ERR_INTERNAL');
    // The server goes on serving.
    assert.equal((await request(`${origin}/`)).body.toString(), 'app');
  });
});

describe('allowUnauthenticatedLoopback', () => {
  test('serves without a token over loopback', async () => {
    await withRecorder(async (fr) => {
      await withServer({ recorder: fr, allowUnauthenticatedLoopback: true }, async ({ origin }) => {
        trace.log('debug-handler', 'loopback');
        const ok = await request(origin + PATH);
        assert.equal(ok.status, 200, ok.body.toString());
        assert.deepEqual(validate(ok.body), []);
        assert.ok(logsOf(ok.body).includes('loopback'));
        assert.equal((await request(`${origin}${PATH}/status`, { headers: { host: 'localhost' } })).status, 200);
      });
    });
  });

  test('refuses requests through a proxy header or with a foreign Host (DNS rebinding), 403', async () => {
    await withRecorder(async (fr) => {
      await withServer({ recorder: fr, allowUnauthenticatedLoopback: true }, async ({ origin }) => {
        const refused: http.OutgoingHttpHeaders[] = [
          { 'x-forwarded-for': '203.0.113.9' },
          { forwarded: 'for=203.0.113.9' },
          { 'x-real-ip': '203.0.113.9' },
          { via: '1.1 proxy' },
          { host: 'attacker.example' },
          { host: 'attacker.example:80' },
          { host: '192.0.2.2' },
        ];
        for (const headers of refused) {
          for (const path of [PATH, `${PATH}/status`]) {
            assertRefused(await request(origin + path, { headers }), 403, 'ERR_NOT_LOOPBACK');
          }
        }
        assert.equal(fr.status().snapshots, 0);
      });
    });
  });

  test('with a token as well: loopback may omit it, a wrong one is still refused', async () => {
    await withRecorder(async (fr) => {
      await withServer({ recorder: fr, token: TOKEN, allowUnauthenticatedLoopback: true, minInterval: 0 }, async ({ origin }) => {
        assert.equal((await request(origin + PATH)).status, 200);
        assertRefused(await request(origin + PATH, { token: 'wrong' }), 403, 'ERR_TOKEN_INVALID');
        const proxied = await request(origin + PATH, { headers: { 'x-forwarded-for': '203.0.113.9' } });
        assertRefused(proxied, 401, 'ERR_TOKEN_REQUIRED');
        assert.equal((await request(origin + PATH, { token: TOKEN, headers: { 'x-forwarded-for': '203.0.113.9' } })).status, 200);
      });
    });
  });

  /** The machine's first non-internal IPv4 address, if it has one. */
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

  test('never serves without a token on a non-loopback address', { skip: external === undefined ? 'this machine has no non-loopback IPv4 address to listen on' : false }, async () => {
    await withRecorder(async (fr) => {
      await withServer({ recorder: fr, allowUnauthenticatedLoopback: true }, async ({ origin }) => {
        const refused = await request(origin + PATH);
        const body = assertRefused(refused, 403, 'ERR_NOT_LOOPBACK');
        assert.match(String(body.error), new RegExp(external!.replaceAll('.', '\\.')));
        assertRefused(await request(`${origin}${PATH}/status`), 403, 'ERR_NOT_LOOPBACK');
        // A token does not help when none is configured: there is nothing to compare it with.
        assertRefused(await request(origin + PATH, { token: TOKEN }), 403, 'ERR_NOT_LOOPBACK');
      }, external);
      await withServer({ recorder: fr, token: TOKEN, allowUnauthenticatedLoopback: true }, async ({ origin }) => {
        assertRefused(await request(origin + PATH), 401, 'ERR_TOKEN_REQUIRED');
        const ok = await request(origin + PATH, { token: TOKEN });
        assert.equal(ok.status, 200);
        assert.deepEqual(validate(ok.body), []);
      }, external);
    });
  });

  // Linux lets a socket bound to one local address connect to another, whatever their kinds.
  const crossing = external === undefined ? 'this machine has no non-loopback IPv4 address' : process.platform !== 'linux' ? 'needs Linux to mix loopback and other local addresses in one connection' : false;

  test('refuses a peer that is not loopback, and a connection that arrived on an address that is not', { skip: crossing }, async () => {
    await withRecorder(async (fr) => {
      await withServer({ recorder: fr, allowUnauthenticatedLoopback: true, minInterval: 0 }, async ({ origin }) => {
        const body = assertRefused(await request(origin + PATH, { localAddress: external }), 403, 'ERR_NOT_LOOPBACK');
        assert.match(String(body.error), /came from/);
        assert.equal((await request(origin + PATH)).status, 200, 'the same server serves a loopback client');
      });
      await withServer({ recorder: fr, allowUnauthenticatedLoopback: true }, async ({ origin }) => {
        const body = assertRefused(await request(origin + PATH, { localAddress: '127.0.0.1' }), 403, 'ERR_NOT_LOOPBACK');
        assert.match(String(body.error), /arrived on/);
      }, external);
    });
  });
});

/**
 * Downloads that stall. A snapshot far bigger than the socket buffers between server and
 * client (a few MiB on loopback) stays in flight while the client does not read.
 */
describe('downloads in flight', () => {
  const BIG_BYTES = 24 << 20;
  let fr: FlightRecorder;

  before(() => {
    fr = new FlightRecorder({ level: 'none', maxBytes: 64 << 20, minAge: 600_000 });
    fr.start();
    // Unique strings, so each one is stored whole (strings are cut at 4 KiB).
    const pad = 'x'.repeat(4000);
    for (let i = 0; i < (BIG_BYTES / 4000) * 1.2; i++) trace.log('filler', `${i}:${pad}`);
    // The window counts ended generations only: end this one.
    fr.snapshotSync();
    assert.ok(fr.status().bytes >= BIG_BYTES, `the window holds ${fr.status().bytes} bytes`);
  });

  after(async () => {
    await fr.stop();
  });

  /** A GET whose body is not read until `read()`: the response is left paused. */
  async function startStalled(url: string): Promise<{ res: IncomingMessage; read(): Promise<{ body: Buffer; complete: boolean }> }> {
    const req = http.request(url, { headers: { authorization: `Bearer ${TOKEN}` }, agent: false });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    return {
      res,
      read: () =>
        new Promise((resolve) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', () => undefined);
          res.on('close', () => resolve({ body: Buffer.concat(chunks), complete: res.complete }));
        }),
    };
  }

  /** Whether a snapshot of `fr` is being written (a probe is refused with ERR_SNAPSHOT_IN_PROGRESS). */
  async function snapshotInFlight(): Promise<boolean> {
    try {
      await fr.writeTo(new MemorySink());
      return false;
    } catch (err) {
      if (isNfrError(err, 'ERR_SNAPSHOT_IN_PROGRESS')) return true;
      throw err;
    }
  }

  test('two downloads at once: exactly one 200 and one 429', async () => {
    await withServer({ recorder: fr, token: TOKEN, minInterval: 0 }, async ({ origin }) => {
      const first = await startStalled(origin + PATH);
      assert.equal(first.res.statusCode, 200);
      assert.ok(await snapshotInFlight(), `the first download must stall (snapshot of ${fr.status().bytes} bytes)`);
      const second = await request(origin + PATH, { token: TOKEN });
      assertRefused(second, 429, 'ERR_DOWNLOAD_IN_PROGRESS');
      assert.ok(Number(second.headers['retry-after']) >= 1);
      const { body, complete } = await first.read();
      assert.ok(complete, 'the first download completed');
      assert.ok(body.length >= BIG_BYTES);
      assert.deepEqual(validate(body), []);
      // minInterval 0: the next one may start as soon as the first is over.
      await waitFor(async () => !(await snapshotInFlight()), 'the first snapshot to end');
      assert.equal((await request(origin + PATH, { token: TOKEN })).status, 200);
    });
  });

  test('a client that stops reading is cut off after downloadTimeout, and the snapshot released', async () => {
    await withServer({ recorder: fr, token: TOKEN, minInterval: 0, downloadTimeout: 200 }, async ({ origin }) => {
      const stalled = await startStalled(origin + PATH);
      assert.equal(stalled.res.statusCode, 200);
      await waitFor(async () => !(await snapshotInFlight()), 'the stalled snapshot to be released');
      const { complete } = await stalled.read();
      assert.equal(complete, false, 'the cut download is visibly incomplete');
    });
  });

  test('a client that goes away mid-download does not wedge the endpoint', async () => {
    await withServer({ recorder: fr, token: TOKEN, minInterval: 0 }, async ({ origin }) => {
      const gone = await startStalled(origin + PATH);
      assert.ok(await snapshotInFlight());
      gone.res.destroy();
      await waitFor(async () => !(await snapshotInFlight()), 'the abandoned snapshot to be released');
      const next = await startStalled(origin + PATH);
      const { body, complete } = await next.read();
      assert.ok(complete);
      assert.deepEqual(validate(body), []);
    });
  });
});
