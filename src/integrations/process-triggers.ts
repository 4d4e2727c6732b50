import { constants as osConstants } from 'node:os';

/**
 * The triggers that come from the process itself: a signal, and an uncaught exception or
 * unhandled rejection about to end it. Each install returns its uninstall.
 */

/**
 * Calls `fire` on each `signal`. Installing a listener replaces the signal's default action
 * (SIGUSR2 would otherwise end the process), which is what a user who asks for it wants.
 * Undefined when the platform has no such signal.
 */
export function watchSignal(signal: string, fire: () => void): (() => void) | undefined {
  if (!(signal in osConstants.signals)) return undefined;
  const listener = () => fire();
  process.on(signal as NodeJS.Signals, listener);
  return () => {
    process.off(signal as NodeJS.Signals, listener);
  };
}

/**
 * Calls `fire` synchronously when an exception is about to reach the top (uncaught, or an
 * unhandled rejection in Node's default mode), before Node prints it and exits. A monitor, not
 * a handler: the process then does exactly what it would have done without us.
 */
export function watchCrash(fire: (error: unknown, origin: string) => void): () => void {
  const listener = (error: unknown, origin: string) => fire(error, origin);
  process.on('uncaughtExceptionMonitor', listener);
  return () => {
    process.off('uncaughtExceptionMonitor', listener);
  };
}

/** An error's name, message and stack as plain JSON, whatever was thrown. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack ?? '', code: (error as { code?: unknown }).code };
  }
  let text: string;
  try {
    text = String(error);
  } catch {
    text = Object.prototype.toString.call(error);
  }
  return { name: typeof error, message: text, stack: '' };
}
