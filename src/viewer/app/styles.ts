/** The viewer's stylesheet, injected by the bundle so the page stays one script and no network. */
export const STYLES = `
html, body { margin: 0; height: 100%; }
body { font: 12px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b; background: #fff; }
#nfr-app { height: 100vh; display: flex; flex-direction: column; overflow: hidden; }
.nfr-loading, .nfr-error { padding: 24px; font-size: 14px; }
.nfr-error { color: #b71c1c; white-space: pre-wrap; }
.nfr-bar { display: flex; align-items: center; gap: 14px; padding: 6px 12px; background: #263238; color: #eceff1; flex: none; }
.nfr-title { font-weight: 600; font-size: 13px; white-space: nowrap; }
.nfr-info { color: #b0bec5; flex: 1; min-width: 0; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
.nfr-search { display: flex; align-items: center; gap: 6px; }
.nfr-search input { width: 230px; padding: 4px 8px; border: 1px solid #546e7a; border-radius: 3px; background: #37474f; color: #fff; font: inherit; }
.nfr-search input::placeholder { color: #90a4ae; }
.nfr-search-count { color: #b0bec5; min-width: 70px; }
.nfr-bar button { background: #37474f; color: #eceff1; border: 1px solid #546e7a; border-radius: 3px; padding: 3px 8px; font: inherit; cursor: pointer; }
.nfr-bar button:hover { background: #455a64; }
.nfr-main { flex: 1; display: flex; min-height: 0; }
.nfr-center { flex: 1; display: flex; flex-direction: column; min-width: 0; }
.nfr-timeline { flex: 1; overflow-y: auto; overflow-x: hidden; position: relative; outline: none; min-height: 80px; }
.nfr-spacer { position: relative; }
.nfr-canvas { position: sticky; top: 0; display: block; cursor: default; }
.nfr-splitter { height: 5px; background: #eceff3; border-top: 1px solid #cfd5dc; cursor: row-resize; flex: none; }
.nfr-bottom { height: 34%; min-height: 120px; display: flex; flex-direction: column; flex: none; }
.nfr-tabs { display: flex; gap: 2px; background: #eceff3; border-bottom: 1px solid #cfd5dc; flex: none; padding: 0 6px; }
.nfr-tab { padding: 5px 12px; cursor: pointer; color: #455a64; border: 0; background: none; font: inherit; }
.nfr-tab.active { background: #fff; color: #1b1b1b; font-weight: 600; border: 1px solid #cfd5dc; border-bottom-color: #fff; margin-bottom: -1px; }
.nfr-tab-note { margin-left: auto; align-self: center; color: #7a8590; padding-right: 6px; }
.nfr-pane { flex: 1; overflow: auto; padding: 8px 12px; min-height: 0; }
.nfr-pane.nfr-flame-pane { padding: 0; }
.nfr-pane[hidden] { display: none; }
.nfr-flame-canvas { display: block; cursor: pointer; }
.nfr-side { width: 370px; border-left: 1px solid #cfd5dc; display: flex; flex-direction: column; flex: none; min-height: 0; }
.nfr-tooltip { position: fixed; pointer-events: none; background: rgba(33, 33, 33, 0.92); color: #fff; padding: 4px 8px; border-radius: 3px; white-space: pre; font-size: 11px; z-index: 10; display: none; max-width: 640px; overflow: hidden; }
.nfr-empty { color: #7a8590; padding: 6px 0; }
.nfr-details h3 { margin: 0 0 6px; font-size: 14px; overflow-wrap: anywhere; }
.nfr-details h4, .nfr-stats h4, .nfr-section h4 { margin: 10px 0 4px; font-size: 12px; color: #37474f; }
.nfr-stats h4:first-child { margin-top: 0; }
.nfr-badge { font-size: 11px; font-weight: normal; color: #455a64; background: #eceff3; border-radius: 3px; padding: 1px 6px; margin-left: 8px; }
.nfr-facts { border-collapse: collapse; }
.nfr-facts th { text-align: left; font-weight: normal; color: #5f6b76; padding: 1px 14px 1px 0; vertical-align: top; white-space: nowrap; }
.nfr-facts td { padding: 1px 0; overflow-wrap: anywhere; }
.nfr-stats, .nfr-list { overflow-wrap: anywhere; }
.nfr-columns { display: grid; grid-template-columns: minmax(280px, max-content) minmax(300px, 1fr); gap: 8px 36px; align-items: start; }
.nfr-columns > div > .nfr-section:first-child > h4:first-child { margin-top: 0; }
.nfr-bar-track { width: 180px; height: 10px; background: #eef1f4; border-radius: 2px; overflow: hidden; }
.nfr-bar-fill { height: 100%; }
.nfr-breakdown td { vertical-align: middle; padding-right: 10px; }
.nfr-num { white-space: nowrap; color: #37474f; }
.nfr-list { margin: 2px 0; padding-left: 18px; }
.nfr-list li { margin: 1px 0; }
.nfr-stack { margin: 2px 0; padding-left: 28px; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 11px; }
.nfr-dim { color: #7a8590; }
.nfr-link { color: #1565c0; text-decoration: none; cursor: pointer; }
.nfr-link:hover { text-decoration: underline; }
.nfr-findings { display: flex; flex-direction: column; gap: 8px; }
.nfr-finding { overflow-wrap: anywhere; border: 1px solid #dde2e7; border-left-width: 4px; border-radius: 3px; padding: 6px 8px; cursor: pointer; }
.nfr-finding:hover { background: #f5f8fb; }
.nfr-finding.nfr-sev-critical { border-left-color: #d32f2f; }
.nfr-finding.nfr-sev-warning { border-left-color: #f9a825; }
.nfr-finding.nfr-sev-info { border-left-color: #1e88e5; }
.nfr-finding-title { font-weight: 600; }
.nfr-finding-detail { margin: 3px 0; color: #37474f; }
.nfr-finding-meta { color: #7a8590; font-size: 11px; }
.nfr-sev { text-transform: uppercase; font-size: 10px; letter-spacing: 0.04em; margin-right: 6px; color: #5f6b76; }
.nfr-sev-critical .nfr-sev { color: #d32f2f; }
.nfr-sev-warning .nfr-sev { color: #b26a00; }
.nfr-help { position: fixed; right: 16px; top: 44px; z-index: 20; background: #fff; border: 1px solid #cfd5dc; border-radius: 4px; box-shadow: 0 4px 16px rgba(0,0,0,.15); padding: 10px 14px; }
.nfr-help[hidden] { display: none; }
.nfr-help kbd { font-family: ui-monospace, Menlo, Consolas, monospace; background: #eceff3; border: 1px solid #cfd5dc; border-radius: 3px; padding: 0 4px; }
`;
