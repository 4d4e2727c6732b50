/// <reference lib="dom" />
/**
 * The viewer's entry point, bundled into dist/viewer/viewer.js: loads the trace (embedded in a
 * report, or from `nfr view`), builds the render model, shows the timeline, then runs the
 * analysis in the background for the findings and stats.
 */
import { BackgroundAnalysis } from './analysis.js';
import { buildModel, decodeTrace } from './build-model.js';
import { loadTrace, readConfig } from './load.js';
import { STYLES } from './styles.js';
import { installTestHook, type ViewerHook } from './test-hook.js';
import { Viewer } from './viewer.js';

async function boot(): Promise<void> {
  const bootMs = performance.now();
  const style = document.createElement('style');
  style.textContent = STYLES;
  document.head.append(style);
  const root = document.getElementById('nfr-app') ?? document.body.appendChild(document.createElement('div'));
  root.id = 'nfr-app';
  const hook: ViewerHook = installTestHook();
  try {
    const config = readConfig();
    root.textContent = `Loading ${config.name}…`;
    root.className = 'nfr-loading';
    const t0 = performance.now();
    const bytes = await loadTrace(config);
    const t1 = performance.now();
    const analysis = new BackgroundAnalysis();
    const items = decodeTrace(bytes, analysis.onBatch);
    const t2 = performance.now();
    const model = buildModel(items, bytes.length);
    const t3 = performance.now();
    root.className = '';
    const viewer = new Viewer(root, model, config);
    hook.attach(viewer);
    hook.timings = { bootMs, loadMs: t1 - t0, decodeMs: t2 - t1, modelMs: t3 - t2, uiMs: performance.now() - t3, firstScreenMs: NaN, analysisMs: NaN };
    // The first screen is on once the frame after the first render starts.
    requestAnimationFrame(() => {
      hook.timings.firstScreenMs = performance.now();
      performance.mark('nfr-first-screen');
      hook.ready = true;
      const started = performance.now();
      analysis.run(
        items,
        (analysis) => {
          hook.timings.analysisMs = performance.now() - started;
          viewer.setAnalysis(analysis, '');
          hook.analysisDone = true;
        },
        (err) => {
          console.warn('nfr viewer: the analysis failed:', err);
          viewer.setAnalysis(undefined, `The analysis failed: ${err instanceof Error ? err.message : String(err)}`);
          hook.analysisDone = true;
        },
      );
    });
    document.title = `${config.name} · nfr viewer`;
  } catch (err) {
    const message = err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err);
    root.className = 'nfr-error';
    root.textContent = `Cannot show this trace.\n\n${message}`;
    hook.error = message;
    hook.ready = true;
  }
}

void boot();
