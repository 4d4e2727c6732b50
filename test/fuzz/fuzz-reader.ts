/**
 * The long fuzz run of the reader and validator: `npm run fuzz -- [seconds]` (default 60).
 * Mutates real traces at random and checks that every input ends, in bounded time and memory,
 * either cleanly or with an NfrError that has a trace error code and a byte offset inside the
 * input. Prints the first seed that breaks a rule and exits 1.
 */
import { performance } from 'node:perf_hooks';
import { isNfrError, Reader, validate } from '../../src/index.js';
import { recordSnapshot, recordStreamed } from '../helpers/record.js';
import { mutate } from '../helpers/mutate.js';
import { trace } from '../../src/index.js';

const TRACE_ERRORS = new Set(['ERR_TRACE_CORRUPT', 'ERR_TRACE_TRUNCATED', 'ERR_NOT_A_TRACE', 'ERR_TRACE_VERSION', 'ERR_TRACE_LIMIT']);
const seconds = Number(process.argv[2] ?? 60);
const SLOW_MS = 2000;

const bases = [
  await recordStreamed(4),
  await recordSnapshot(() => {
    const task = trace.newTask('fuzz');
    for (let i = 0; i < 200; i++) task.withRegion(`r${i % 7}`, () => task.log('c', `message ${i}`));
    trace.metric('m', Math.PI);
    task.end();
  }),
];

let runs = 0;
let clean = 0;
const codes = new Map<string, number>();
const deadline = performance.now() + seconds * 1000;
let seed = (Date.now() & 0x7fffffff) >>> 0;
const startHeap = process.memoryUsage().heapUsed;

while (performance.now() < deadline) {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  const input = mutate(bases[seed % bases.length], seed);
  const t0 = performance.now();
  try {
    for (const _ of new Reader(input, { maxGenerationBytes: 4 << 20 })) {
      // drain
    }
    clean++;
  } catch (err) {
    if (!isNfrError(err) || !TRACE_ERRORS.has(err.code) || typeof err.offset !== 'number' || err.offset < 0 || err.offset > input.length) {
      console.error(`seed ${seed}: broke the rule: ${err instanceof Error ? err.stack : String(err)}`);
      process.exit(1);
    }
    codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
  }
  validate(input);
  const took = performance.now() - t0;
  if (took > SLOW_MS) {
    console.error(`seed ${seed}: took ${took.toFixed(0)} ms for ${input.length} bytes`);
    process.exit(1);
  }
  runs++;
}

const grew = (process.memoryUsage().heapUsed - startHeap) / 1e6;
console.log(`${runs} inputs in ${seconds} s: ${clean} read cleanly; errors: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}; heap grew ${grew.toFixed(1)} MB`);
