import { performance } from 'node:perf_hooks';
import { FlightRecorder, trace } from '../src/index.js';
import { fmt, interleave, summarize, table } from './stats.js';

/**
 * Cost of writing one event, against one bare performance.now() measured in the same run.
 * Each variant runs a batch of N events; variants are interleaved over rounds; the ratio is
 * taken per round (variant / performance.now of the same round) and summarised.
 */
export async function eventCost(): Promise<string> {
  const N = 200_000;
  let sink = 0;
  const noop = () => undefined;
  const time = (perEvent: number, body: () => void) => () => {
    const t0 = performance.now();
    body();
    return ((performance.now() - t0) * 1e6) / (N * perEvent);
  };
  const fr = new FlightRecorder();
  fr.start();
  const results = await interleave(31, {
    'performance.now()': time(1, () => {
      for (let i = 0; i < N; i++) sink += performance.now();
    }),
    'trace.log (interned strings)': time(1, () => {
      for (let i = 0; i < N; i++) trace.log('category', 'message');
    }),
    'startRegion + end (per event)': time(2, () => {
      for (let i = 0; i < N; i++) trace.startRegion('region').end();
    }),
    'withRegion, sync (per event)': time(2, () => {
      for (let i = 0; i < N; i++) trace.withRegion('region', noop);
    }),
    'trace.metric': time(1, () => {
      for (let i = 0; i < N; i++) trace.metric('metric', i);
    }),
  });
  await fr.stop();
  const base = results['performance.now()'];
  const rows = Object.entries(results).map(([name, values]) => {
    const ratios = values.map((v, i) => v / base[i]);
    return [name, fmt(summarize(values)), fmt(summarize(ratios), 2)];
  });
  if (sink === 42) console.log('');
  return `### Writing an event (recorder running, ${N} events per run, 31 interleaved rounds)\n\n${table(['operation', 'ns per event: median (p25–p75)', 'ratio to performance.now(): median (p25–p75)'], rows)}`;
}
