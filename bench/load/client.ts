/**
 * The load generator, run as its own process so that it never shares an event loop with the
 * server it measures: autocannon's programmatic API, a closed loop of `connections` keep-alive
 * connections for `duration` seconds against 127.0.0.1, each request for a random one of 1000
 * users. Prints one JSON line: throughput and latency percentiles.
 *
 * Latencies are kept here, exactly, from autocannon's `response` events: its own histogram
 * rounds to whole milliseconds, too coarse for a 5% comparison of a p99 of a few ms.
 */
import { createRequire } from 'node:module';

export interface LoadOptions {
  port: number;
  connections: number;
  /** Seconds. */
  duration: number;
}

export interface LoadResult {
  /** 2xx responses per second over the run. */
  rps: number;
  responses: number;
  seconds: number;
  /** Latency percentiles of 2xx responses, in ms. */
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
}
interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}
interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, ms: number) => void): void;
}
type Autocannon = (
  options: { url: string; connections: number; duration: number; pipelining: number; timeout: number; requests: { setupRequest: (req: AutocannonRequest) => AutocannonRequest }[] },
  done: (err: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '') as LoadOptions;
  // autocannon ships CommonJS without type declarations; the few fields used are typed above.
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${options.port}`,
        connections: options.connections,
        duration: options.duration,
        pipelining: 1,
        timeout: 10,
        requests: [{ setupRequest: (req) => ({ ...req, path: `/users/${Math.floor(Math.random() * 1000)}` }) }],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, statusCode, _bytes, ms) => {
      if (statusCode < 200 || statusCode >= 300) return;
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = ms;
    });
  });
  const sorted = latencies.subarray(0, count).sort();
  const out: LoadResult = {
    rps: result['2xx'] / result.duration,
    responses: result['2xx'],
    seconds: result.duration,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();
