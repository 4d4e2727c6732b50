/** Small statistics for benchmarks: every figure is a median with its spread over repeated, interleaved runs. */

export interface Summary {
  median: number;
  /** 25th and 75th percentiles. */
  p25: number;
  p75: number;
  min: number;
  max: number;
  runs: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: quantile(sorted, 0.5), p25: quantile(sorted, 0.25), p75: quantile(sorted, 0.75), min: sorted[0], max: sorted[sorted.length - 1], runs: sorted.length };
}

/** "12.3 (11.9–12.8)": median and interquartile range. */
export function fmt(s: Summary, digits = 1): string {
  return `${s.median.toFixed(digits)} (${s.p25.toFixed(digits)}–${s.p75.toFixed(digits)})`;
}

/** Runs each variant once per round, in a shuffled order each round, and collects what each returns. */
export async function interleave<K extends string>(rounds: number, variants: Record<K, () => number | Promise<number>>): Promise<Record<K, number[]>> {
  const keys = Object.keys(variants) as K[];
  const results = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < rounds; round++) {
    const order = [...keys].sort(() => Math.random() - 0.5);
    for (const k of order) results[k].push(await variants[k]());
  }
  return results;
}

/** A markdown table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}
