import { loadavg } from 'node:os';
import { summarize, table, type Summary } from '../stats.js';
import { progress, runLoad, ServerProcess, setting } from './harness.js';
import type { Part } from './protocol.js';

const MAX_BYTES = 10 * 1024 * 1024;

/** The parts measured, by the name the report gives them. */
const PARTS: Record<string, Part> = {
  'nothing (baseline)': { kind: 'nothing' },
  'Node: subscribers on the 2 request channels, doing nothing': { kind: 'http-channels' },
  'Node: a gc PerformanceObserver, doing nothing': { kind: 'gc-observer' },
  'V8: the sampling profiler at 10 ms, samples unread': { kind: 'v8-profiler', intervalMs: 10 },
  'recorder, every source off': { kind: 'recorder', options: { level: 'none', maxBytes: MAX_BYTES } },
  'recorder, http only': { kind: 'recorder', options: { level: 'none', maxBytes: MAX_BYTES, sources: { http: true } } },
  'recorder, gc only': { kind: 'recorder', options: { level: 'none', maxBytes: MAX_BYTES, sources: { gc: true } } },
  'recorder, loop only': { kind: 'recorder', options: { level: 'none', maxBytes: MAX_BYTES, sources: { loop: true } } },
  'recorder, memory and threads only': { kind: 'recorder', options: { level: 'none', maxBytes: MAX_BYTES, sources: { memory: true, threads: true } } },
  'recorder, default level': { kind: 'recorder', options: { level: 'default', maxBytes: MAX_BYTES } },
  'recorder, cpu level': { kind: 'recorder', options: { level: 'cpu', maxBytes: MAX_BYTES } },
};

const pct = (ratio: number) => `${ratio >= 1 ? '+' : '−'}${Math.abs((ratio - 1) * 100).toFixed(1)}%`;

/**
 * The `load-parts` suite: what each part of the default level costs, and how much of that is
 * Node's own machinery. One server (the load suite's, variant none) under one continuous load;
 * its parts are switched on one at a time, over IPC, in a shuffled order each round; each phase
 * measures server CPU per request after a settling pause. Within one process the phases share
 * the machine's state of the moment, so the paired ratio against the baseline phase of the same
 * round is steadier than the load suite's fresh-process runs; what it does not show is start-up
 * and JIT warm-up, which the load suite includes.
 */
export async function loadPartsBenchmark(): Promise<string> {
  const rounds = setting('NFR_PARTS_ROUNDS', 20);
  const phaseMs = setting('NFR_PARTS_PHASE_MS', 1500);
  const settleMs = setting('NFR_PARTS_SETTLE_MS', 400);
  const connections = setting('NFR_LOAD_CONNECTIONS', 20);
  // NFR_PARTS_ONLY: a comma-separated list of words; the parts whose names hold one of them (the baseline always runs).
  const only = process.env.NFR_PARTS_ONLY?.split(',').filter((w) => w !== '');
  const names = Object.keys(PARTS).filter((name, i) => i === 0 || only === undefined || only.some((w) => name.includes(w)));
  const perRound = names.length * (phaseMs + settleMs + 150);
  const loadSeconds = Math.ceil((rounds * perRound) / 1000) + 30;
  const loadBefore = loadavg()[0];

  const server = await ServerProcess.start({ variant: 'none' });
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  try {
    // The load runs until the rounds are done (then it is stopped), or at most loadSeconds.
    const stopLoad = new AbortController();
    const load = runLoad({ port: server.port, connections, duration: loadSeconds }, stopLoad.signal);
    let loadDone = false;
    void load.then(() => (loadDone = true), () => (loadDone = true));
    // Warm-up: the application's code compiled, and every part started once.
    await new Promise((r) => setTimeout(r, 3000));
    for (const name of names) {
      await server.ask({ cmd: 'part', part: PARTS[name] });
      await new Promise((r) => setTimeout(r, 300));
    }
    for (let round = 0; round < rounds && !loadDone; round++) {
      const order = [...names].sort(() => Math.random() - 0.5);
      for (const name of order) {
        await server.ask({ cmd: 'part', part: PARTS[name] });
        await new Promise((r) => setTimeout(r, settleMs));
        const before = await server.status();
        await new Promise((r) => setTimeout(r, phaseMs));
        const after = await server.status();
        cpu[name].push((after.cpuMicros - before.cpuMicros) / (after.requests - before.requests));
      }
      progress(`load-parts: round ${round + 1}/${rounds}`);
    }
    stopLoad.abort();
    await load.catch(() => undefined);
    await server.ask({ cmd: 'part', part: { kind: 'nothing' } });
  } finally {
    await server.stop();
  }

  const base = cpu[names[0]];
  const rows = names.map((name, i) => {
    const own = summarize(cpu[name]);
    const paired: Summary = summarize(cpu[name].map((v, round) => v / base[round]).filter(Number.isFinite));
    return [name, own.median.toFixed(2), i === 0 ? '—' : `${pct(paired.median)} (${pct(paired.p25)} to ${pct(paired.p75)})`, i === 0 ? '—' : ((paired.median - 1) * own.median / paired.median * 1000).toFixed(0), own.runs];
  });
  return [
    `### What each part costs, switched on and off inside one loaded server (${rounds} rounds of ${names.length} phases, ${phaseMs} ms each after ${settleMs} ms settling, ${connections} connections)`,
    '',
    table(['part switched on', 'server CPU µs/request (median)', 'vs nothing, paired per round: median (p25 to p75)', 'ns/request', 'phases'], rows),
    '',
    `Load average before: ${loadBefore.toFixed(2)}. Command: \`npm run bench -- load-parts\` (NFR_PARTS_ROUNDS, NFR_PARTS_PHASE_MS, NFR_PARTS_SETTLE_MS, NFR_PARTS_ONLY).`,
  ].join('\n');
}
