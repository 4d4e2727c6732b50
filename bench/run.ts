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
 * `npm run bench [suite ...]`: runs the benchmark suites and prints their tables in markdown,
 * ready for docs/benchmarks.md. Suites run one after another, never in parallel.
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

const wanted = process.argv.slice(2);
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
