import { Console } from 'node:console';
import diagnosticsChannel from 'node:diagnostics_channel';
import { Writable } from 'node:stream';
import { formatWithOptions, type InspectOptions } from 'node:util';
import { NfrError } from '../errors/errors.js';
import { registerSource, type SourceContext, type SourceHandle, type SourceModule } from '../tracer/sources.js';

/**
 * The `console` source (in no level: opt in with `sources: { console: true }`): what the
 * application writes with `console.log`, `info`, `debug`, `warn` and `error` (and `trace`,
 * which Node reports as `error`), as `log` events in no task (0), category `console.log`,
 * `console.info`, ..., message the arguments formatted as the console formats them, cut to
 * {@link MAX_MESSAGE_CHARS} characters (objects nested at most {@link INSPECT_OPTIONS} deep).
 *
 * It listens on the `console.*` diagnostics channels, which Node publishes from its console
 * methods since nodejs/node#56292 (present in Node 24 and 26, absent from Node 20). Where they
 * are missing the source does not start: it reports `unsupported` in `status()` and in the
 * trace, and the console is left alone (it is never patched).
 */

/** Longest message kept, in characters; longer ones are cut and end with `…`. */
export const MAX_MESSAGE_CHARS = 1000;

/** Bounds on formatting objects, so one huge argument costs little more than a short one. */
const INSPECT_OPTIONS: InspectOptions = { depth: 3, maxArrayLength: 50, maxStringLength: MAX_MESSAGE_CHARS, breakLength: Infinity };

const METHODS = ['log', 'info', 'debug', 'warn', 'error'] as const;

let channelsPublished: boolean | undefined;

/**
 * Whether this Node's console publishes on the `console.*` channels, found once by calling a
 * private console that writes nowhere. Channel subscribers see what it publishes, so the probe
 * runs only when nobody else listens; otherwise the console method's source tells.
 */
function consoleChannelsPublished(): boolean {
  if (channelsPublished !== undefined) return channelsPublished;
  if (diagnosticsChannel.hasSubscribers('console.debug')) {
    channelsPublished = Function.prototype.toString.call(Console.prototype.debug).includes('publish');
    return channelsPublished;
  }
  let seen = false;
  const probe = (): void => {
    seen = true;
  };
  const quiet = new Console({ stdout: new Writable({ write: (_chunk, _encoding, done) => done() }) });
  diagnosticsChannel.subscribe('console.debug', probe);
  try {
    quiet.debug('');
  } finally {
    diagnosticsChannel.unsubscribe('console.debug', probe);
  }
  channelsPublished = seen;
  return seen;
}

/** The console's own formatting of `args`, bounded, cut to {@link MAX_MESSAGE_CHARS}. */
function formatMessage(args: unknown): string {
  const list = Array.isArray(args) ? args : [args];
  const message = formatWithOptions(INSPECT_OPTIONS, ...list);
  return message.length <= MAX_MESSAGE_CHARS ? message : `${message.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
}

function start(ctx: SourceContext): SourceHandle {
  if (!consoleChannelsPublished()) {
    throw new NfrError('ERR_SOURCE_UNSUPPORTED', `the console source needs the console.* diagnostics channels, which Node ${process.version} does not have (newer versions such as Node 24 and 26 have them)`);
  }
  const tracer = ctx.tracer;
  // A custom inspect function that logs would otherwise have its own message formatted and recorded, recursively.
  let formatting = false;
  const subscriptions = METHODS.map((method) => {
    const name = `console.${method}`;
    const onMessage = ctx.guard((args: unknown) => {
      if (formatting) return;
      formatting = true;
      try {
        tracer.log(0, name, formatMessage(args));
      } finally {
        formatting = false;
      }
    });
    diagnosticsChannel.subscribe(name, onMessage);
    return [name, onMessage] as const;
  });
  return {
    stop() {
      for (const [name, onMessage] of subscriptions) diagnosticsChannel.unsubscribe(name, onMessage);
    },
  };
}

const consoleSource: SourceModule = { name: 'console', settings: {}, start };

registerSource(consoleSource);
