import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { enterTask, implicitTaskEnabled } from '../api/current-task.js';
import { bindRequestTask, requestState, RequestTaskRef, type RequestState } from '../api/request-task.js';
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

/** One server exchange in flight, kept on its request (see REQUEST_STATE). */
interface Exchange extends RequestState {
  readonly task: number;
  readonly response: ServerResponse;
  readonly socket: Socket | null;
  /** The connection's `bytesRead` when the previous exchange on it ended (0 for the first). */
  readonly readMark: number;
  /** The connection's `bytesWritten` when the previous exchange on it ended (0 for the first). */
  readonly writeMark: number;
  /** Trace time of the request's event (see RequestState); -1 when it was not written. */
  readonly started: number;
  /** Trace time of the response's event; -1 until then, or when it was not written. */
  ended: number;
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
/**
 * What the source keeps on a connection, in one object under one symbol (so Node's socket
 * objects change shape once, not at every field): the latest exchange in flight on it, and its
 * byte counters when its last exchange ended, where the next one's bytes begin.
 */
const CONNECTION_STATE = Symbol('node-flight-recorder.connection');

interface ConnectionState {
  current: Exchange | undefined;
  readMark: number;
  writeMark: number;
  /** The connection's handle when its first request began, or null (see markCounters). */
  readonly handle: CounterHandle | null;
}

/** What the byte counters are read from: a libuv stream handle (TCP, pipe, TLS). */
interface CounterHandle {
  bytesRead?: unknown;
  bytesWritten?: unknown;
}

interface Connection extends Socket {
  [CONNECTION_STATE]?: ConnectionState;
  /** Node's count of bytes handed to the handle, behind the public `bytesWritten`. */
  _bytesDispatched?: unknown;
  /** The connection's libuv handle, whose counters the public `bytesRead`/`bytesWritten` read. */
  _handle?: CounterHandle | null;
  _readableState?: { destroyed?: unknown } | null;
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
  const state = this[CONNECTION_STATE];
  if (state === undefined) return;
  for (let exchange = state.current; exchange !== undefined; exchange = exchange.previous) {
    if (exchange.done) continue;
    if (recording !== undefined) recording.closed(exchange);
    else forget(exchange);
  }
  state.current = undefined;
}

/** Marks an exchange over without writing anything (the source is stopped). */
function forget(exchange: Exchange): void {
  if (exchange.done) return;
  exchange.done = true;
  inFlight--;
}

function finite(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/**
 * Sets the connection's marks to its byte counters now: bytes read, and bytes written as Node's
 * public `bytesWritten` computes them (bytes handed to the handle plus bytes still buffered),
 * without the copy of the write buffer that getter makes on every call.
 *
 * Node's getters (`bytesRead`, `_bytesDispatched`) return `_handle.bytesRead` and
 * `_handle.bytesWritten`, reading `_handle` twice each, and `_handle` is itself a getter over a
 * symbol property whose load site is megamorphic (every kind of stream goes through it): four
 * slow loads per request. So the handle is read once per connection, when its first request
 * begins, and its counters are taken directly while the connection is not destroyed: a
 * connection's handle changes only when it is destroyed (Node sets `_handle` to null then,
 * after marking the stream destroyed, and keeps the final counts for its getters). A destroyed
 * connection, or one without a handle (a stream that is not a net.Socket), goes through the
 * getters.
 */
function markCounters(socket: Connection, state: ConnectionState): void {
  const handle = state.handle;
  if (handle !== null && socket._readableState?.destroyed === false) {
    const written = handle.bytesWritten;
    state.readMark = finite(handle.bytesRead);
    state.writeMark = typeof written === 'number' ? written + finite(socket.writableLength) : finite(socket.bytesWritten);
    return;
  }
  const dispatched = socket._bytesDispatched;
  state.readMark = finite(socket.bytesRead);
  state.writeMark = typeof dispatched === 'number' ? dispatched + finite(socket.writableLength) : finite(socket.bytesWritten);
}

/** Starts recording server requests; returns the function that stops it. */
export function startServerRecording(ctx: SourceContext, options: HttpServerOptions): () => void {
  const tracer = ctx.tracer;

  const end = (exchange: Exchange, request: IncomingMessage | undefined, error: string): void => {
    forget(exchange);
    const socket = exchange.socket as Connection | null;
    // The connection's counters are read once per exchange, here: the next exchange on the
    // connection starts where this one ends.
    let read = 0;
    let written = 0;
    const state = socket?.[CONNECTION_STATE];
    if (socket !== null && state !== undefined) {
      markCounters(socket, state);
      read = state.readMark;
      written = state.writeMark;
      if (state.current === exchange) state.current = exchange.previous;
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
    // The response ends the request's task: one event, not two (this runs for every request).
    exchange.ended = tracer.httpResponse(exchange.task, status, Math.max(0, read - exchange.readMark), Math.max(0, written - exchange.writeMark), route, error) ?? -1;
  };

  // The handlers catch their own exceptions (see subscribeChannels' selfGuarded): two channels
  // published on every request, where the guard's wrapper would cost a call each.
  const onRequestStart = (message: unknown): void => {
    try {
      requestStarted(message as ServerRequestMessage);
    } catch (err) {
      ctx.error(err);
    }
  };

  const requestStarted = ({ request, response, socket }: ServerRequestMessage): void => {
    const method = typeof request.method === 'string' ? request.method : '';
    const path = pathOf(request.url, options.keepQuery);
    // The request is a task by itself: httpRequest begins it (no taskBegin), which saves an event
    // per request; readers name it by method and path.
    const task = nextTaskId();
    const connection = (socket ?? request.socket ?? null) as Connection | null;
    const remote = options.remoteAddress ? (connection?.remoteAddress ?? '') : '';
    // The event's time is kept: the slow-request trigger times requests with it.
    const started = tracer.httpRequest(task, method, path, '', remote) ?? -1;
    let state: ConnectionState | undefined;
    if (connection !== null) {
      state = connection[CONNECTION_STATE];
      if (state === undefined) {
        const handle = connection._handle;
        state = { current: undefined, readMark: 0, writeMark: 0, handle: handle ? handle : null };
        connection[CONNECTION_STATE] = state;
        connection.once('close', onConnectionClose);
      }
    }
    const exchange: Exchange = {
      task,
      taskRef: implicitTaskEnabled() ? new RequestTaskRef(task, method, typeof request.url === 'string' ? request.url : '') : undefined,
      response,
      socket: connection,
      readMark: state?.readMark ?? 0,
      writeMark: state?.writeMark ?? 0,
      started,
      ended: -1,
      route: '',
      previous: state?.current,
      done: false,
    };
    bindRequestTask(request, exchange);
    inFlight++;
    if (state !== undefined) state.current = exchange;
    // Node calls the 'request' listeners right after this message, in this same callback: the
    // handler and all it awaits run in the request's task.
    if (exchange.taskRef !== undefined) enterTask(exchange.taskRef);
  };

  const onResponseFinish = (message: unknown): void => {
    try {
      const request = (message as ServerRequestMessage).request;
      const exchange = requestState(request) as Exchange | undefined;
      if (exchange !== undefined && !exchange.done) end(exchange, request, '');
    } catch (err) {
      ctx.error(err);
    }
  };

  const onFastifyHandler = (message: unknown): void => {
    try {
      const m = message as Parameters<typeof fastifyRoute>[0] & { reply?: { raw?: unknown } };
      const raw = m.reply?.raw;
      if (raw === null || typeof raw !== 'object') return;
      const exchange = requestState(raw) as Exchange | undefined;
      if (exchange !== undefined) exchange.route = fastifyRoute(m);
    } catch (err) {
      ctx.error(err);
    }
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
  ], true);
  return () => {
    unsubscribe();
    // Connections still open keep their 'close' listener, which then only forgets their
    // exchanges: removing it would need a strong list of every connection.
    if (recording === self) recording = undefined;
  };
}
