import type { Analysis, RequestSummary } from '../../analysis/types.js';
import { renderDetails, type DetailsContext } from './details.js';
import { h } from './dom.js';
import { buildFlame, FlameGraph } from './flame.js';
import { dateTimeText, formatBytes, formatCount, formatDuration, wallTime } from './format.js';
import type { SampleTrack, TraceModel } from './model.js';
import { Search } from './search.js';
import { renderFindings, renderStats, type PanelContext } from './side-panel.js';
import { Timeline, type Selection, type TimeRange } from './timeline.js';

/** How the page was opened: the trace's file name, and where its bytes are. */
export interface ViewerConfig {
  name: string;
  /** URL of the trace (served by `nfr view`). */
  traceUrl?: string;
}

type Tab = { button: HTMLButtonElement; pane: HTMLElement };

/** The whole viewer: the bar, the timeline, the details and flame graph below it, findings and stats beside it. */
export class Viewer {
  readonly timeline: Timeline;
  readonly search: Search;
  readonly flame: FlameGraph;
  analysis: Analysis | undefined;
  analysisStatus = 'Analyzing the trace…';

  private readonly details: HTMLElement;
  private readonly findingsPane: HTMLElement;
  private readonly statsPane: HTMLElement;
  private readonly flameNote: HTMLElement;
  private readonly searchCount: HTMLElement;
  private readonly searchInput: HTMLInputElement;
  private readonly help: HTMLElement;
  private readonly bottomTabs: Record<'details' | 'flame', Tab>;
  private readonly sideTabs: Record<'findings' | 'stats', Tab>;
  private bottomTab: 'details' | 'flame' = 'details';
  private flameTimer = 0;
  private requestSummaries = new Map<number, RequestSummary>();

  constructor(
    root: HTMLElement,
    readonly model: TraceModel,
    readonly config: ViewerConfig,
  ) {
    root.textContent = '';
    const tooltip = h('div', { class: 'nfr-tooltip' });
    this.search = new Search(model);

    // Bar.
    this.searchInput = h('input');
    this.searchInput.type = 'search';
    this.searchInput.placeholder = 'Search names (Enter: next)';
    this.searchInput.setAttribute('aria-label', 'Search by name');
    this.searchCount = h('span', { class: 'nfr-search-count' });
    this.help = h(
      'div',
      { class: 'nfr-help' },
      h('b', {}, 'Navigating'),
      helpList([
        ['W / S', 'zoom in / out (hold for smooth zoom)'],
        ['A / D', 'pan left / right'],
        ['Ctrl + wheel', 'zoom at the pointer'],
        ['Shift + wheel, drag', 'pan'],
        ['Wheel', 'scroll the lanes'],
        ['Click', 'select; details below'],
        ['Double-click, F', 'zoom to the selection'],
        ['Drag on the ruler, Shift + drag', 'pick a time range (flame graph)'],
        ['/', 'search; Enter / Shift + Enter: next / previous'],
        ['Esc', 'clear selection and range'],
        ['Click a lane title', 'fold or unfold it'],
      ]),
    );
    this.help.hidden = true;
    const bar = h(
      'div',
      { class: 'nfr-bar' },
      h('span', { class: 'nfr-title' }, `nfr · ${config.name}`),
      h('span', { class: 'nfr-info' }, this.infoLine()),
      h('span', { class: 'nfr-search' }, this.searchInput, this.searchCount),
      h('button', { title: 'Keyboard and mouse', onclick: () => (this.help.hidden = !this.help.hidden) }, '?'),
    );

    // Timeline and the panels below it.
    const timelineHost = h('div', { class: 'nfr-timeline' });
    timelineHost.tabIndex = 0;
    this.details = h('div', { class: 'nfr-pane' });
    const flamePane = h('div', { class: 'nfr-pane nfr-flame-pane' });
    this.flameNote = h('span', { class: 'nfr-tab-note' });
    this.bottomTabs = {
      details: { button: tabButton('Details', () => this.showBottom('details')), pane: this.details },
      flame: { button: tabButton('Flame graph', () => this.showBottom('flame')), pane: flamePane },
    };
    const bottom = h('div', { class: 'nfr-bottom' }, h('div', { class: 'nfr-tabs' }, this.bottomTabs.details.button, this.bottomTabs.flame.button, this.flameNote), this.details, flamePane);
    const splitter = h('div', { class: 'nfr-splitter', title: 'Drag to resize' });
    const center = h('div', { class: 'nfr-center' }, timelineHost, splitter, bottom);

    // Findings and stats.
    this.findingsPane = h('div', { class: 'nfr-pane' });
    this.statsPane = h('div', { class: 'nfr-pane' });
    this.sideTabs = {
      findings: { button: tabButton('Findings', () => this.showSide('findings')), pane: this.findingsPane },
      stats: { button: tabButton('Stats', () => this.showSide('stats')), pane: this.statsPane },
    };
    const side = h('div', { class: 'nfr-side' }, h('div', { class: 'nfr-tabs' }, this.sideTabs.findings.button, this.sideTabs.stats.button), this.findingsPane, this.statsPane);

    root.append(bar, h('div', { class: 'nfr-main' }, center, side), tooltip, this.help);
    this.timeline = new Timeline(model, timelineHost, tooltip, this.search, {
      select: (selection) => this.selected(selection),
      range: () => this.scheduleFlame(),
      view: () => {
        if (this.timeline?.range === undefined && this.timeline?.selection === undefined) this.scheduleFlame();
      },
    });
    this.flame = new FlameGraph(model, flamePane, tooltip);
    this.showBottom('details');
    this.showSide('findings');
    this.details.append(renderDetails(this.detailsContext, undefined));
    this.renderPanels();
    this.wireInput(timelineHost, splitter, bottom);
  }

  private infoLine(): string {
    const m = this.model;
    const p = m.process;
    const parts = [
      p === undefined ? undefined : `pid ${p.pid} · Node ${p.nodeVersion} · ${p.hostname}`,
      `${formatDuration(m.end - m.start)} from ${dateTimeText(wallTime(m.clocks, m.start))}`,
      `${formatCount(m.events)} events · ${formatBytes(m.bytes)}`,
    ];
    return parts.filter((x) => x !== undefined).join('  ·  ');
  }

  private get detailsContext(): DetailsContext {
    return { model: this.model, jump: (sel) => this.timeline.select(sel, true), requestSummary: (task) => this.requestSummaries.get(task) };
  }

  private get panelContext(): PanelContext {
    return {
      model: this.model,
      jump: (sel) => this.timeline.select(sel, true),
      showRange: (start, end, thread) => {
        this.timeline.showRange(start, end, thread);
        this.timeline.setRange({ start, end });
      },
    };
  }

  /** The analysis arrived (or failed): fill the findings and stats. */
  setAnalysis(analysis: Analysis | undefined, status: string): void {
    this.analysis = analysis;
    this.analysisStatus = status;
    this.requestSummaries = new Map((analysis?.stats.requests.slowest ?? []).map((r) => [r.task, r]));
    this.renderPanels();
    if (this.timeline.selection !== undefined) this.selected(this.timeline.selection);
  }

  private renderPanels(): void {
    this.findingsPane.replaceChildren(renderFindings(this.panelContext, this.analysis?.findings, this.analysisStatus));
    this.statsPane.replaceChildren(renderStats(this.panelContext, this.analysis, this.analysisStatus));
  }

  private selected(selection: Selection | undefined): void {
    this.details.replaceChildren(renderDetails(this.detailsContext, selection));
    this.scheduleFlame();
  }

  private showBottom(tab: 'details' | 'flame'): void {
    this.bottomTab = tab;
    for (const [name, t] of Object.entries(this.bottomTabs)) {
      t.button.classList.toggle('active', name === tab);
      t.pane.hidden = name !== tab;
    }
    if (tab === 'flame') this.updateFlame();
  }

  private showSide(tab: 'findings' | 'stats'): void {
    for (const [name, t] of Object.entries(this.sideTabs)) {
      t.button.classList.toggle('active', name === tab);
      t.pane.hidden = name !== tab;
    }
  }

  /** Which samples the flame graph shows: the picked range, else the selection's time on its thread, else the visible range. */
  flameScope(): { range: TimeRange; threads?: number[]; what: string } {
    const tl = this.timeline;
    if (tl.range !== undefined) return { range: tl.range, what: `picked range (${formatDuration(tl.range.end - tl.range.start)}), all threads` };
    const sel = tl.selection;
    if (sel?.type === 'slice') {
      const s = this.model.slices;
      const thread = s.thread[sel.slice];
      return { range: { start: s.start[sel.slice], end: s.end[sel.slice] }, threads: [thread], what: `selected slice (${formatDuration(s.end[sel.slice] - s.start[sel.slice])}), its thread` };
    }
    return { range: { start: tl.viewport.start, end: tl.viewport.end }, what: `visible range (${formatDuration(tl.viewport.span)}), all threads` };
  }

  private scheduleFlame(): void {
    if (this.bottomTab !== 'flame') return;
    clearTimeout(this.flameTimer);
    this.flameTimer = window.setTimeout(() => this.updateFlame(), 120);
  }

  private updateFlame(): void {
    const scope = this.flameScope();
    const flame = buildFlame(this.model, scope.range.start, scope.range.end, scope.threads);
    this.flameNote.textContent = `${formatCount(flame.samples)} samples · ${scope.what}`;
    this.flame.show(flame, this.sampleInterval(flame.threads));
  }

  private sampleInterval(threads: number[]): number {
    const track = this.model.sampleTracks.get(threads[0] ?? 0);
    if (track === undefined) return 0;
    const times = (this.model.tracks[track] as SampleTrack).times;
    const gaps: number[] = [];
    for (let i = 1; i < times.length && gaps.length < 1000; i++) gaps.push(times[i] - times[i - 1]);
    gaps.sort((a, b) => a - b);
    return gaps[gaps.length >> 1] ?? 0;
  }

  /** Runs a search and shows the count. */
  runSearch(query: string): void {
    this.search.set(query);
    this.searchCount.textContent = this.search.active ? `${formatCount(this.search.total)} match${this.search.total === 1 ? '' : 'es'}` : '';
    this.timeline.invalidate();
  }

  /** Jumps to the next (1) or previous (-1) search hit. */
  nextHit(direction: 1 | -1): void {
    const hit = this.search.step(direction);
    if (hit === undefined) return;
    this.timeline.select(hit >= 0 ? { type: 'slice', slice: hit } : { type: 'mark', mark: -hit - 1 }, true);
    this.searchCount.textContent = `${this.search.current + 1} / ${formatCount(this.search.total)}`;
  }

  private wireInput(timelineHost: HTMLElement, splitter: HTMLElement, bottom: HTMLElement): void {
    let searchTimer = 0;
    this.searchInput.addEventListener('input', () => {
      clearTimeout(searchTimer);
      searchTimer = window.setTimeout(() => this.runSearch(this.searchInput.value), 120);
    });
    this.searchInput.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        clearTimeout(searchTimer);
        if (this.search.query !== this.searchInput.value) this.runSearch(this.searchInput.value);
        this.nextHit(e.shiftKey ? -1 : 1);
      } else if (e.key === 'Escape') {
        this.searchInput.blur();
      }
    });
    window.addEventListener('keydown', (e) => {
      const target = e.target as HTMLElement | null;
      if (target !== null && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA')) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (this.timeline.keyDown(e.key)) {
        e.preventDefault();
        return;
      }
      switch (e.key) {
        case 'f':
        case 'F':
          this.timeline.focusSelection();
          break;
        case 'Escape':
          this.timeline.select(undefined);
          this.timeline.setRange(undefined);
          this.help.hidden = true;
          break;
        case '/':
          e.preventDefault();
          this.searchInput.focus();
          break;
        case '?':
          this.help.hidden = !this.help.hidden;
          break;
        default:
          return;
      }
    });
    window.addEventListener('keyup', (e) => this.timeline.keyUp(e.key));
    window.addEventListener('blur', () => this.timeline.releaseKeys());
    // The splitter resizes the bottom panel.
    splitter.addEventListener('pointerdown', (e) => {
      const startY = e.clientY;
      const startHeight = bottom.offsetHeight;
      splitter.setPointerCapture(e.pointerId);
      const move = (m: PointerEvent) => {
        const height = Math.max(80, Math.min(window.innerHeight - 200, startHeight - (m.clientY - startY)));
        bottom.style.height = `${height}px`;
      };
      const up = () => {
        splitter.removeEventListener('pointermove', move);
        splitter.removeEventListener('pointerup', up);
      };
      splitter.addEventListener('pointermove', move);
      splitter.addEventListener('pointerup', up);
    });
    timelineHost.focus({ preventScroll: true });
  }
}

function tabButton(label: string, onclick: () => void): HTMLButtonElement {
  return h('button', { class: 'nfr-tab', onclick }, label);
}

function helpList(rows: [string, string][]): HTMLElement {
  const table = h('table', { class: 'nfr-facts' });
  for (const [keys, what] of rows) table.append(h('tr', {}, h('th', {}, h('kbd', {}, keys)), h('td', {}, what)));
  return table;
}
