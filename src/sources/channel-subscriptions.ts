import diagnosticsChannel from 'node:diagnostics_channel';
import type { SourceContext } from '../tracer/sources.js';

/** A diagnostics_channel name and what to do with each of its messages. */
export type ChannelHandler = readonly [name: string, onMessage: (message: unknown) => void];

/**
 * Subscribes to each channel with its handler wrapped by `ctx.guard` (an exception inside is
 * counted, never thrown into the code that published), and returns the function that
 * unsubscribes them all. Channels that this Node never publishes cost nothing.
 *
 * `selfGuarded`: the handlers catch and count their own exceptions (with `ctx.error`), so they
 * are subscribed as they are, without the wrapper's extra call: for channels published on
 * every request.
 */
export function subscribeChannels(ctx: SourceContext, handlers: readonly ChannelHandler[], selfGuarded = false): () => void {
  const subscribed: [string, (message: unknown, name: string | symbol) => void][] = [];
  for (const [name, onMessage] of handlers) {
    const guarded = selfGuarded ? onMessage : ctx.guard(onMessage);
    diagnosticsChannel.subscribe(name, guarded);
    subscribed.push([name, guarded]);
  }
  return () => {
    for (const [name, guarded] of subscribed) diagnosticsChannel.unsubscribe(name, guarded);
    subscribed.length = 0;
  };
}
