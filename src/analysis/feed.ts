import { BatchKind } from '../format/events.js';
import { BATCH_HEADER_BYTES, HEADER_BYTES } from '../format/limits.js';
import { GenerationView } from '../reader/generation-view.js';
import { TraceDecoder, type BatchInfo, type DecodedItem, type ReaderOptions } from '../reader/trace-decoder.js';
import { Analyzer, type AnalyzerOptions } from './analyzer.js';
import type { Analysis } from './types.js';

/**
 * Feeding an {@link Analyzer} straight from the reader's engine, with each event's encoded size
 * and the bytes of tables and framing, so that bytes by kind add up to the input's size. Works
 * in browsers as in Node (the reader has no Node imports).
 */

/** Hands every event of decoded items to `analyzer`, with its size. */
export function feedItems(items: readonly DecodedItem[], analyzer: Analyzer): void {
  for (const item of items) {
    if (item instanceof GenerationView) {
      for (let i = 0; i < item.count; i++) analyzer.add(item.event(i), item.size(i));
    } else {
      analyzer.add(item, 0);
    }
  }
}

/**
 * A `ReaderOptions.onBatch` hook that counts tables and framing into `analyzer` (the events'
 * own bytes are counted per event). Call `header()` once the input's header was read.
 */
export function layoutCounter(analyzer: Analyzer): { onBatch: (batch: BatchInfo) => void; header: () => void } {
  return {
    onBatch(batch: BatchInfo) {
      if (batch.kind === BatchKind.events) {
        analyzer.addLayoutBytes('framing', BATCH_HEADER_BYTES);
      } else if (batch.kind === BatchKind.tables) {
        analyzer.addLayoutBytes('framing', BATCH_HEADER_BYTES);
        analyzer.addLayoutBytes('tables', batch.payloadSize);
      } else {
        analyzer.addLayoutBytes('framing', BATCH_HEADER_BYTES + batch.payloadSize);
      }
    },
    header() {
      analyzer.addLayoutBytes('framing', HEADER_BYTES);
    },
  };
}

/**
 * Analyzes a whole trace held in memory (for the viewer: `analyzeTrace(new Uint8Array(await
 * file.arrayBuffer()))`). Throws the reader's `NfrError` on a corrupt or truncated trace unless
 * `allowTruncated` is set, in which case the complete generations are analyzed.
 */
export function analyzeTrace(bytes: Uint8Array, options: AnalyzerOptions & Pick<ReaderOptions, 'allowTruncated' | 'maxGenerationBytes'> = {}): Analysis {
  const analyzer = new Analyzer(options);
  const layout = layoutCounter(analyzer);
  const decoder = new TraceDecoder({ allowTruncated: options.allowTruncated, maxGenerationBytes: options.maxGenerationBytes, onBatch: layout.onBatch });
  const items: DecodedItem[] = [];
  const step = 1 << 20;
  for (let at = 0; at < bytes.length; at += step) {
    decoder.push(bytes.subarray(at, Math.min(bytes.length, at + step)), items);
    feedItems(items, analyzer);
    items.length = 0;
  }
  decoder.finish(items);
  feedItems(items, analyzer);
  if (bytes.length > 0) layout.header();
  return analyzer.finish();
}
