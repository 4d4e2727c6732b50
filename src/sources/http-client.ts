import type { ClientRequest, IncomingMessage } from 'node:http';
import { currentTaskId } from '../api/current-task.js';
import type { SourceContext } from '../tracer/sources.js';
import { subscribeChannels } from './channel-subscriptions.js';
import { errorText, pathOf } from './http-text.js';

/**
 * Outgoing requests of node:http and node:https (`http.request`, `http.get`, and the clients
 * built on them such as axios or got), from diagnostics_channel: `httpClientBegin` when the
 * request starts, `httpClientEnd` when the whole response has arrived (with its status), or
 * when the request fails (with the error). The request belongs to the current task when one is
 * known (see `trace.currentTask`).
 */

export interface HttpClientOptions {
  /** Keep the query string in recorded paths. */
  readonly keepQuery: boolean;
}

/** One outgoing request in flight. */
interface Outgoing {
  readonly id: number;
  status: number;
  response: IncomingMessage | undefined;
  /** Kept after the end (weakly), so a late 'start' after 'created' cannot begin it twice. */
  ended: boolean;
}

let lastClientId = 0;

/** A new outgoing request id, unique on this thread (node:http and fetch share the sequence). */
export function nextClientRequestId(): number {
  return ++lastClientId;
}

/** Weak, so a request whose response is never read is forgotten with it. Module level: see http-server.ts. */
const outgoing = new WeakMap<ClientRequest, Outgoing>();

let recording: { closed(request: ClientRequest): void } | undefined;

/**
 * A request's `close` comes once it is over: after the whole response, after an error, or after
 * it was destroyed. It ends the requests that no channel ended: those whose response stopped
 * early, and failures on Node versions without `http.client.request.error`. A listener on
 * `error` instead would change the application's behaviour (an unhandled request error would
 * no longer throw), so none is added.
 */
function onRequestClose(this: ClientRequest): void {
  recording?.closed(this);
}

function hostOf(request: ClientRequest): string {
  // The Host header is the target as the request names it, port included when not the default.
  const header = request.getHeader('host');
  if (typeof header === 'string') return header;
  return typeof request.host === 'string' ? request.host : '';
}

/** Starts recording node:http client requests; returns the function that stops it. */
export function startClientRecording(ctx: SourceContext, options: HttpClientOptions): () => void {
  const tracer = ctx.tracer;

  const end = (o: Outgoing, status: number, error: string): void => {
    o.ended = true;
    o.response = undefined;
    tracer.httpClientEnd(o.id, status, error);
  };

  // Node 22.12+ says when a request is made ('created'); older versions only when it is sent in
  // full ('start', at `end()`), so there a request destroyed while streaming its body is not seen.
  const onStart = (message: unknown): void => {
    const { request } = message as { request: ClientRequest };
    if (outgoing.has(request)) return;
    const id = nextClientRequestId();
    outgoing.set(request, { id, status: 0, response: undefined, ended: false });
    request.on('close', onRequestClose);
    tracer.httpClientBegin(id, currentTaskId(), typeof request.method === 'string' ? request.method : '', hostOf(request), pathOf(request.path, options.keepQuery));
  };

  const onResponse = (message: unknown): void => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const o = outgoing.get(request);
    if (o === undefined || o.ended) return;
    o.status = typeof response.statusCode === 'number' ? response.statusCode : 0;
    o.response = response;
  };

  const onError = (message: unknown): void => {
    const { request, error } = message as { request: ClientRequest; error: unknown };
    const o = outgoing.get(request);
    if (o !== undefined && !o.ended) end(o, o.status, errorText(error));
  };

  const closed = ctx.guard((request: ClientRequest) => {
    const o = outgoing.get(request);
    if (o === undefined || o.ended) return;
    if (o.response === undefined) end(o, 0, 'closed before a response arrived');
    else end(o, o.status, o.response.complete ? '' : 'response ended before it was complete');
  });

  const self = { closed };
  recording = self;
  const unsubscribe = subscribeChannels(ctx, [
    ['http.client.request.created', onStart],
    ['http.client.request.start', onStart],
    ['http.client.response.finish', onResponse],
    ['http.client.request.error', onError],
  ]);
  return () => {
    unsubscribe();
    if (recording === self) recording = undefined;
  };
}
