import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { enterTask } from '../api/current-task.js';
import { bindRequestTask } from '../api/request-task.js';
import { nextTaskId } from '../tracer/runtime.js';
import type { SourceContext } from '../tracer/sources.js';
import { subscribeChannels } from './channel-subscriptions.js';
import { pathOf } from './http-text.js';
import { expressRoute, fastifyRoute } from './http-route.js';

/**
 * Server requests of node:http (and of everything built on it: Express, Fastify, Koa...), from
 * diagnostics_channel: each request is a task, begun when Node hands the request to the
 * application and ended when the response is finished or the connection closes first.
 *
 * Bytes are the bytes of the exchange on the wire, request line and headers included, read
 * from the connection's counters (`socket.bytesRead`/`bytesWritten`), which Node keeps anyway:
 * counting body chunks would mean listening to the application's streams. They are exact for
 * one request at a time on a connection, keep-alive included; with pipelining, or when the
 * application responds without reading the whole request body (Node then discards the rest),
 * bytes may be counted in a neighbouring request of the same connection.
 */

export interface HttpServerOptions {
  /** Keep the query string in recorded paths. */
  readonly keepQuery: boolean;
  /** Record the client's address. */
  readonly remoteAddress: boolean;
}

interface ServerRequestMessage {
  request: IncomingMessage;
  response: ServerResponse;
  socket: Socket | null;
}

/** One server exchange in flight, kept on its response (see EXCHANGE). */
interface Exchange {
  readonly task: number;
  readonly response: ServerResponse;
  readonly socket: Socket | null;
  /** The connection's `bytesRead` when the previous exchange on it ended (0 for the first). */
  readonly readMark: number;
  /** The connection's `bytesWritten` when this exchange began. */
  readonly writeMark: number;
  /** A route learned while the request was handled (Fastify's channel); '' when none. */
  route: string;
  /** The exchange begun before this one on the same connection and still in flight (pipelining). */
  previous: Exchange | undefined;
  done: boolean;
}

/**
 * Where the source keeps its state: on Node's own objects, under private symbols, rather than in
 * WeakMaps. A WeakMap entry per request doubled the young-generation GC time of a busy server
 * (entries are ephemerons, which every scavenge revisits); properties go with the objects when
 * the application drops them, so a request that never finishes leaves nothing behind either.
 * The state outlives a restart of the source (a second recorder asking for more), so requests
 * that began before still end.
 */
const EXCHANGE = Symbol('node-flight-recorder.exchange');
/** On a connection: the latest exchange in flight on it. */
const CURRENT = Symbol('node-flight-recorder.current');
/** On a connection: its `bytesRead` when its last exchange ended, where the next one's bytes begin. */
const READ_MARK = Symbol('node-flight-recorder.readMark');
/** On a connection: whether the close listener is on it. */
const WATCHED = Symbol('node-flight-recorder.watched');

interface WithExchange {
  [EXCHANGE]?: Exchange;
}

interface Connection extends Socket {
  [CURRENT]?: Exchange;
  [READ_MARK]?: number;
  [WATCHED]?: boolean;
}

let recording: { closed(exchange: Exchange): void } | undefined;
let inFlight = 0;

/** How many server requests have begun and not yet ended (for tests and status). */
export function serverRequestsInFlight(): number {
  return inFlight;
}

/**
 * A connection's `close` is the only sign of an aborted request (Node has no channel for it):
 * exchanges still in flight on it end with an error. One listener per connection, not per
 * request (keep-alive connections carry many), and one function for all, with the connection as
 * `this`, so a request costs no closure.
 */
function onConnectionClose(this: Connection): void {
  for (let exchange = this[CURRENT]; exchange !== undefined; exchange = exchange.previous) {
    if (exchange.done) continue;
    if (recording !== undefined) recording.closed(exchange);
    else forget(exchange);
  }
  this[CURRENT] = undefined;
}

/** Marks an exchange over without writing anything (the source is stopped). */
function forget(exchange: Exchange): void {
  if (exchange.done) return;
  exchange.done = true;
  inFlight--;
  (exchange.response as WithExchange)[EXCHANGE] = undefined;
}

function counter(socket: Socket | null, which: 'bytesRead' | 'bytesWritten'): number {
  const value = socket?.[which];
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** Starts recording server requests; returns the function that stops it. */
export function startServerRecording(ctx: SourceContext, options: HttpServerOptions): () => void {
  const tracer = ctx.tracer;

  const end = (exchange: Exchange, request: IncomingMessage | undefined, error: string): void => {
    forget(exchange);
    const socket = exchange.socket as Connection | null;
    const read = counter(socket, 'bytesRead');
    if (socket !== null) {
      socket[READ_MARK] = read;
      if (socket[CURRENT] === exchange) socket[CURRENT] = exchange.previous;
    }
    let route = exchange.route;
    if (route === '' && request !== undefined) {
      // The application's objects may have getters that throw; the exchange must still end.
      try {
        route = expressRoute(request);
      } catch (err) {
        ctx.error(err);
      }
    }
    const response = exchange.response;
    const status = error === '' || response.headersSent ? response.statusCode : 0;
    tracer.httpResponse(exchange.task, status, Math.max(0, read - exchange.readMark), Math.max(0, counter(socket, 'bytesWritten') - exchange.writeMark), route, error);
    tracer.taskEnd(exchange.task);
  };

  const onRequestStart = (message: unknown): void => {
    const { request, response, socket } = message as ServerRequestMessage;
    const method = typeof request.method === 'string' ? request.method : '';
    const path = pathOf(request.url, options.keepQuery);
    // The task is named by its method, an interned constant: the request's own path and route
    // are in the httpRequest event, and a name made per request would cost a string each time.
    const task = nextTaskId();
    tracer.taskBegin(task, 0, method);
    const connection = (socket ?? request.socket ?? null) as Connection | null;
    const remote = options.remoteAddress ? (connection?.remoteAddress ?? '') : '';
    tracer.httpRequest(task, method, path, '', remote);
    bindRequestTask(request, response, task);
    const exchange: Exchange = {
      task,
      response,
      socket: connection,
      readMark: connection === null ? 0 : (connection[READ_MARK] ?? 0),
      writeMark: counter(connection, 'bytesWritten'),
      route: '',
      previous: connection?.[CURRENT],
      done: false,
    };
    (response as WithExchange)[EXCHANGE] = exchange;
    inFlight++;
    if (connection !== null) {
      connection[CURRENT] = exchange;
      if (connection[WATCHED] !== true) {
        connection[WATCHED] = true;
        connection.once('close', onConnectionClose);
      }
    }
    // Node calls the 'request' listeners right after this message, in this same callback: the
    // handler and all it awaits run in the request's task.
    enterTask(request);
  };

  const onResponseFinish = (message: unknown): void => {
    const { request, response } = message as ServerRequestMessage;
    const exchange = (response as WithExchange)[EXCHANGE];
    if (exchange !== undefined && !exchange.done) end(exchange, request, '');
  };

  const onFastifyHandler = (message: unknown): void => {
    const m = message as Parameters<typeof fastifyRoute>[0] & { reply?: { raw?: unknown } };
    const raw = m.reply?.raw;
    if (raw === null || typeof raw !== 'object') return;
    const exchange = (raw as WithExchange)[EXCHANGE];
    if (exchange !== undefined) exchange.route = fastifyRoute(m);
  };

  const closed = ctx.guard((exchange: Exchange) => {
    if (!exchange.done) end(exchange, exchange.response.req, 'connection closed before the response was complete');
  });

  const self = { closed };
  recording = self;
  const unsubscribe = subscribeChannels(ctx, [
    ['http.server.request.start', onRequestStart],
    ['http.server.response.finish', onResponseFinish],
    ['tracing:fastify.request.handler:start', onFastifyHandler],
  ]);
  return () => {
    unsubscribe();
    // Connections still open keep their 'close' listener, which then only forgets their
    // exchanges: removing it would need a strong list of every connection.
    if (recording === self) recording = undefined;
  };
}
