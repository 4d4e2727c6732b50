/**
 * Analysis of traces: statistics and findings. No Node imports: the viewer runs it in a browser.
 */
export { Analyzer, analyze, type AnalyzerOptions } from './analyzer.js';
export { analyzeTrace, feedItems, layoutCounter } from './feed.js';
export { blame, frameLabel, frameLocation, isApplicationFrame, stackKey, StackCounter } from './stacks.js';
export * as format from './format.js';
export type * from './types.js';
