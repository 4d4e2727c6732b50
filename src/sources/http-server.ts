import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { enterTask } from '../api/current-task.js';
import { bindRequestTask } from '../api/request-task.js';
import { Task } from '../api/task.js';
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

/** One server exchange in flight. */
interface Exchange {
  readonly task: Task;
  readonly socket: Socket | null;
  /** The connection's `bytesRead` when the previous exchange on it ended (0 for the first). */
  readonly readMark: number;
  /** The connection's `bytesWritten` when this exchange began. */
  readonly writeMark: number;
  /** A route learned while the request was handled (Fastify's channel); '' when none. */
  route: string;
}

/**
 * Kept at module level, not per start, so that a source restarted with new settings (a second
 * recorder asking for more) still ends the requests that began before. Weak, so a request that
 * never finishes is forgotten with the application's last reference to it.
 */
const exchanges = new WeakMap<ServerResponse, Exchange>();
/** Per connection: its `bytesRead` when its last exchange ended, where the next one's bytes begin. */
const readMarks = new WeakMap<Socket, number>();

let recording: { closed(response: ServerResponse): void } | undefined;
let inFlight = 0;

/** How many server requests have begun and not yet ended (for tests and status). */
export function serverRequestsInFlight(): number {
  return inFlight;
}

/**
 * A response's `close` comes after its `finish`, or alone when the connection closed before the
 * response was complete: the only sign of an aborted request (Node has no channel for it). One
 * function for every response, with the response as `this`, so a request costs no closure.
 */
function onResponseClose(this: ServerResponse): void {
  if (recording !== undefined) recording.closed(this);
  // Stopped: write nothing, but forget the request.
  else if (exchanges.delete(this)) inFlight--;
}

function counter(socket: Socket | null, which: 'bytesRead' | 'bytesWritten'): number {
  const value = socket?.[which];
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** Starts recording server requests; returns the function that stops it. */
export function startServerRecording(ctx: SourceContext, options: HttpServerOptions): () => void {
  const tracer = ctx.tracer;

  const end = (response: ServerResponse, request: IncomingMessage | undefined, exchange: Exchange, error: string): void => {
    exchanges.delete(response);
    inFlight--;
    const socket = exchange.socket;
    const read = counter(socket, 'bytesRead');
    if (socket !== null) readMarks.set(socket, read);
    let route = exchange.route;
    if (route === '' && request !== undefined) {
      // The application's objects may have getters that throw; the exchange must still end.
      try {
        route = expressRoute(request);
      } catch (err) {
        ctx.error(err);
      }
    }
    const status = error === '' || response.headersSent ? response.statusCode : 0;
    tracer.httpResponse(exchange.task.id, status, Math.max(0, read - exchange.readMark), Math.max(0, counter(socket, 'bytesWritten') - exchange.writeMark), route, error);
    exchange.task.end();
  };

  const onRequestStart = (message: unknown): void => {
    const { request, response, socket } = message as ServerRequestMessage;
    const method = typeof request.method === 'string' ? request.method : '';
    const path = pathOf(request.url, options.keepQuery);
    const task = new Task(`${method} ${path}`);
    const connection = socket ?? request.socket ?? null;
    const remote = options.remoteAddress ? (connection?.remoteAddress ?? '') : '';
    tracer.httpRequest(task.id, method, path, '', remote);
    bindRequestTask(request, response, task);
    exchanges.set(response, {
      task,
      socket: connection,
      readMark: connection === null ? 0 : (readMarks.get(connection) ?? 0),
      writeMark: counter(connection, 'bytesWritten'),
      route: '',
    });
    inFlight++;
    response.on('close', onResponseClose);
    // Node calls the 'request' listeners right after this message, in this same callback: the
    // handler and all it awaits run in the request's task.
    enterTask(task);
  };

  const onResponseFinish = (message: unknown): void => {
    const { request, response } = message as ServerRequestMessage;
    const exchange = exchanges.get(response);
    if (exchange !== undefined) end(response, request, exchange, '');
  };

  const onFastifyHandler = (message: unknown): void => {
    const m = message as Parameters<typeof fastifyRoute>[0] & { reply?: { raw?: unknown } };
    const raw = m.reply?.raw;
    if (raw === null || typeof raw !== 'object') return;
    const exchange = exchanges.get(raw as ServerResponse);
    if (exchange !== undefined) exchange.route = fastifyRoute(m);
  };

  const closed = ctx.guard((response: ServerResponse) => {
    const exchange = exchanges.get(response);
    if (exchange === undefined) return;
    end(response, response.req, exchange, 'connection closed before the response was complete');
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
    // Responses still open keep their 'close' listener, which now does nothing: removing it
    // would need a strong list of every response in flight.
    if (recording === self) recording = undefined;
  };
}
