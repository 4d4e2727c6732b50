/**
 * Converters of traces to other tools' formats: Perfetto protobuf and Chrome Trace Event JSON.
 * Browser-safe (no Node imports), so the viewer can offer the same downloads as `nfr convert`.
 */
import { ChromeExporter } from './chrome.js';
import type { ExportFormat, Exporter } from './exporter.js';
import { PerfettoExporter } from './perfetto.js';

export type { ExportFormat, Exporter } from './exporter.js';
export type { TimelineStats } from './timeline.js';
export { PerfettoExporter, toPerfetto } from './perfetto.js';
export { ChromeExporter, toChromeJson } from './chrome.js';

/** The formats, for option checking and help texts. */
export const EXPORT_FORMATS: readonly ExportFormat[] = ['perfetto', 'chrome'];

/** A streaming converter to `format`. */
export function createExporter(format: ExportFormat): Exporter {
  return format === 'perfetto' ? new PerfettoExporter() : new ChromeExporter();
}
