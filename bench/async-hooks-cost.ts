import { createHook } from 'node:async_hooks';
import { promiseHooks } from 'node:v8';
import { FlightRecorder, tracerStatus } from '../src/index.js';
import { fmt, interleave, summarize, table, type Summary } from './stats.js';

/**
 * What the `async` source costs per `await`, per `setImmediate` and per `setTimeout`, against
 * the same work with the source off, and what the hook mechanisms alone cost (the measurements
 * behind the choice of `async_hooks` over `v8.promiseHooks` in src/sources/async.ts).
 *
 * Every variant runs with a flight recorder started (level `none` unless the variant turns the
 * source on), so the figures differ only by the hooks and the events they write. Costs are CPU
 * time (process.cpuUsage: every thread of the process, so GC helpers count), not wall time:
 * the timers' delay is idle, and a machine shared with other work stretches wall time alone.
 * Workloads:
 * - await: an async function awaiting a plain value N times; ns per await.
 * - setImmediate: M immediates queued at once, from queueing to the last callback; ns each.
 * - setTimeout: M timers of the same delay, from creating them to the last callback; ns each.
 */

const AWAITS = 50_000;
const CALLBACKS = 10_000;
const ROUNDS = 15;

/** CPU time (user + system, every thread of the process) since `start`, in ns per operation. */
function cpuNsPer(start: NodeJS.CpuUsage, operations: number): number {
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1e3) / operations;
}

async function perAwait(): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < AWAITS; i++) await null;
  return cpuNsPer(start, AWAITS);
}

function perImmediate(): Promise<number> {
  return new Promise((resolve) => {
    let left = CALLBACKS;
    const done = () => {
      if (--left === 0) resolve(cpuNsPer(start, CALLBACKS));
    };
    const start = process.cpuUsage();
    for (let i = 0; i < CALLBACKS; i++) setImmediate(done);
  });
}

function perTimer(): Promise<number> {
  return new Promise((resolve) => {
    let left = CALLBACKS;
    const done = () => {
      if (--left === 0) resolve(cpuNsPer(start, CALLBACKS));
    };
    const start = process.cpuUsage();
    for (let i = 0; i < CALLBACKS; i++) setTimeout(done, 1);
  });
}

/** Whether this Node's createHook has the trackPromises option (see src/sources/async.ts). */
function hasTrackPromises(): boolean {
  try {
    createHook({ trackPromises: 'probe' } as Parameters<typeof createHook>[0]);
    return false;
  } catch {
    return true;
  }
}

/** A variant: sets itself up, returns how to undo it. */
type Setup = () => () => Promise<void> | void;

function recorder(sources: ConstructorParameters<typeof FlightRecorder>[0]): () => () => Promise<void> {
  return () => {
    const fr = new FlightRecorder({ maxBytes: 64 * 1024 * 1024, ...sources });
    fr.start();
    return () => fr.stop();
  };
}

/** Hook mechanisms alone (with a recorder at level none, like the baseline), writing nothing. */
function withRecorder(install: () => () => void): Setup {
  return () => {
    const stopRecorder = recorder({ level: 'none' })();
    const uninstall = install();
    return async () => {
      uninstall();
      await stopRecorder();
    };
  };
}

/** Written by the id-storing hooks so that their work cannot be optimised away. */
let sink = 0;

function variants(): Record<string, Setup> {
  const id = Symbol('id');
  const out: Record<string, Setup> = {
    'source off (recorder running, level none)': recorder({ level: 'none' }),
    'source on (promises: true, the default)': recorder({ level: 'none', sources: { async: true } }),
    'source on, promises: false': recorder({ level: 'none', sources: { async: { promises: false } } }),
    'mechanism: async_hooks init/before/after, empty': withRecorder(() => {
      const hook = createHook({ init() {}, before() {}, after() {} }).enable();
      return () => hook.disable();
    }),
    'mechanism: v8.promiseHooks init/before/after, empty': withRecorder(() => promiseHooks.createHook({ init() {}, before() {}, after() {} }) as () => void),
    'mechanism: v8.promiseHooks with an id stored per promise': withRecorder(() => {
      let next = 1;
      type Tagged = Promise<unknown> & { [id]?: number };
      const stop = promiseHooks.createHook({
        init(promise: Tagged, parent: Tagged | undefined) {
          promise[id] = next++;
          sink += parent?.[id] ?? 0;
        },
        before(promise: Tagged) {
          sink += promise[id] ?? 0;
        },
        after(promise: Tagged) {
          sink += promise[id] ?? 0;
        },
      });
      return stop as () => void;
    }),
  };
  if (hasTrackPromises()) {
    out['mechanism: async_hooks, empty, trackPromises: false'] = withRecorder(() => {
      const hook = createHook({ init() {}, before() {}, after() {}, trackPromises: false } as Parameters<typeof createHook>[0]).enable();
      return () => hook.disable();
    });
  }
  return out;
}

/** Runs the workloads under every variant, interleaved, and returns the markdown table. */
export async function asyncHooksCost(): Promise<string> {
  const workloads = { await: perAwait, setImmediate: perImmediate, setTimeout: perTimer };
  const setups = variants();
  const names = Object.keys(setups);
  const lostBefore = tracerStatus().eventsLost;
  const results: Record<string, Record<string, number[]>> = {};
  for (const [workload, run] of Object.entries(workloads)) {
    await run(); // warm up
    results[workload] = await interleave(
      ROUNDS,
      Object.fromEntries(
        names.map((name) => [
          name,
          async () => {
            const undo = setups[name]();
            try {
              return await run();
            } finally {
              await undo();
            }
          },
        ]),
      ),
    );
  }
  const lost = tracerStatus().eventsLost - lostBefore;
  const off = names[0];
  const cell = (workload: string, name: string): string => {
    const values = results[workload][name];
    const base = results[workload][off];
    const added: Summary = summarize(values.map((v, i) => v - base[i]));
    const sign = added.median < 0 ? '−' : '+';
    return name === off ? fmt(summarize(values)) : `${fmt(summarize(values))}, ${sign}${Math.abs(added.median).toFixed(0)}`;
  };
  const rows = names.map((name) => [name, ...Object.keys(workloads).map((w) => cell(w, name))]);
  if (sink === -1) console.log('');
  const note = lost > 0 ? `\n\n${lost} events were dropped (trace memory full): the "source on" figures are then too low.` : '';
  return (
    `### The async source and the hook mechanisms (${ROUNDS} interleaved rounds; CPU ns per operation: median (p25–p75), then ±ns against the source off, the median of per-round differences)\n\n` +
    table(['variant', `per await (${AWAITS} awaits)`, `per setImmediate (${CALLBACKS} queued)`, `per setTimeout (${CALLBACKS} timers)`], rows) +
    note
  );
}
