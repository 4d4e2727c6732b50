import { Analyzer, type AnalyzerOptions } from '../analysis/analyzer.js';
import { feedItems, layoutCounter } from '../analysis/feed.js';
import type { Analysis } from '../analysis/types.js';
import { openTraceFile, readTraceItems } from './trace-file.js';

/** Analyzes a trace file as it streams: memory stays at one generation plus the analyzer's bounded state. */
export async function analyzeFile(path: string, options: AnalyzerOptions & { allowTruncated?: boolean } = {}): Promise<Analysis> {
  const file = await openTraceFile(path);
  const analyzer = new Analyzer(options);
  const layout = layoutCounter(analyzer);
  await readTraceItems(file, { allowTruncated: options.allowTruncated, onBatch: layout.onBatch }, (items) => feedItems(items, analyzer));
  if (file.size > 0) layout.header();
  return analyzer.finish();
}
