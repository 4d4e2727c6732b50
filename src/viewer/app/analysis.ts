import { Analyzer, layoutCounter, type Analysis } from '../../analysis/index.js';
import { GenerationView } from '../../reader/generation-view.js';
import type { BatchInfo, DecodedItem } from '../../reader/trace-decoder.js';

/** Events analysed between checks of the time budget. */
const CHECK_EVERY = 512;

/**
 * The analysis behind the findings and stats panels. The decoder reports its batches to it
 * while the trace is decoded (for the byte counts); the events are fed after the first screen
 * is up, in slices of a few milliseconds, so the timeline stays responsive meanwhile.
 */
export class BackgroundAnalysis {
  private readonly analyzer = new Analyzer({ top: 20 });
  private readonly layout = layoutCounter(this.analyzer);

  /** For the decoder's `onBatch`. */
  readonly onBatch = (batch: BatchInfo): void => this.layout.onBatch(batch);

  /** Analyses the decoded items in steps of `budgetMs`; calls `done` or `failed` once. */
  run(items: readonly DecodedItem[], done: (analysis: Analysis) => void, failed: (err: unknown) => void, budgetMs = 10): void {
    const analyzer = this.analyzer;
    this.layout.header();
    let item = 0;
    let index = 0;
    const step = () => {
      try {
        const deadline = performance.now() + budgetMs;
        while (item < items.length) {
          const it = items[item];
          if (!(it instanceof GenerationView)) {
            analyzer.add(it, 0);
            item++;
            continue;
          }
          const stop = Math.min(it.count, index + CHECK_EVERY);
          for (; index < stop; index++) analyzer.add(it.event(index), it.size(index));
          if (index >= it.count) {
            item++;
            index = 0;
          }
          if (performance.now() > deadline) {
            setTimeout(step, 0);
            return;
          }
        }
        done(analyzer.finish());
      } catch (err) {
        failed(err);
      }
    };
    setTimeout(step, 0);
  }
}
