import { execFileSync, spawnSync } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventCost } from './event-cost.js';
import { readerThroughput } from './reader.js';
import { snapshotCost } from './snapshot.js';
import { toolsThroughput } from './tools.js';
import { convertThroughput } from './convert.js';
import { loadBenchmark } from './load/load.js';
import { memoryBenchmark } from './load/memory.js';
import { loadPartsBenchmark } from './load/parts.js';
import { asyncHooksCost } from './async-hooks-cost.js';
import { viewerBenchmark } from './viewer.js';

/**
 * `npm run bench [--node <major>] [suite ...]`: runs the benchmark suites and prints their tables
 * in markdown, ready for docs/benchmarks.md. Suites run one after another, never in parallel.
 * `--node 24` runs them on Node 24 (installed into .ci/node-24 on first use).
 */
const suites: Record<string, () => Promise<string>> = {
  events: eventCost,
  snapshot: snapshotCost,
  reader: readerThroughput,
  /** What the async source (level detailed) costs per await and per callback. */
  async: asyncHooksCost,
  /** nfr stats, findings, dump and validate on a 100 MB trace, as child processes: ~2 min. */
  tools: toolsThroughput,
  /** nfr convert to Perfetto and Chrome JSON on a 100 MB trace, as child processes: ~2 min. */
  convert: convertThroughput,
  /** The web viewer on a 10 MiB snapshot in headless chromium: ~1–2 min. */
  viewer: viewerBenchmark,
  /** HTTP load against child-process servers: ~6–7 min. */
  load: loadBenchmark,
  /** What each source of the default level costs, and Node's share of it, inside one loaded server: ~7 min. */
  'load-parts': loadPartsBenchmark,
  /** A 10 MiB recorder under the same load for 2 min: ~2.5 min. */
  memory: memoryBenchmark,
};

const args = process.argv.slice(2);
const nodeFlag = args.indexOf('--node');
if (nodeFlag >= 0) {
  // `--node <major>`: the same suites on another Node line, installed by the CI's script from the
  // npm registry's `node` package; its directory goes first on PATH so that the servers and load
  // generators the suites start (through process.execPath or `node`) run on it too.
  const major = args[nodeFlag + 1];
  if (major === undefined || !/^\d+$/.test(major)) {
    console.error('--node takes a major version, e.g. --node 24');
    process.exit(2);
  }
  args.splice(nodeFlag, 2);
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const bin = execFileSync(join(root, '.ci/install-node.sh'), [major], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const child = spawnSync(join(bin, 'node'), [fileURLToPath(import.meta.url), ...args], { stdio: 'inherit', env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` } });
  process.exit(child.status ?? 1);
}

const wanted = args;
const unknown = wanted.filter((w) => !(w in suites));
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}
console.log(`Node ${process.version}, ${process.platform} ${process.arch}, ${new Date().toISOString()}\n`);
for (const name of wanted.length > 0 ? wanted : Object.keys(suites)) {
  console.log(await suites[name]());
  console.log();
}
