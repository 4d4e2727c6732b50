/**
 * The viewer's HTML page, in its two forms: served by `nfr view` (the script and the trace are
 * fetched from the server) and written by `nfr report` (both inlined, so one file opens offline).
 * No Node imports: only strings.
 */

/** Content Security Policy of the served page: its own script and trace only. */
export const SERVED_CSP = "default-src 'none'; script-src 'self' 'unsafe-eval'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

/**
 * Content Security Policy of a report: the inlined viewer (by its hash) and nothing from any
 * network, so opening a report attached to a bug cannot call out anywhere. `unsafe-eval`: the
 * trace reader generates its decoders with `new Function` from the event table.
 */
export function reportCsp(scriptHash: string): string {
  return `default-src 'none'; script-src 'sha256-${scriptHash}' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'`;
}

/** Text made safe for element content and double-quoted attributes. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that cannot end the script element it sits in. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** A script's text made safe to inline: `</script` cannot appear, `<!--` is refused (it never occurs in the bundle). */
export function inlineScript(script: string): string {
  if (script.includes('<!--')) throw new Error('the viewer bundle contains "<!--", which cannot be inlined in a script element');
  return script.replace(/<\/(script)/gi, '<\\/$1');
}

function head(name: string, csp: string, config: unknown): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="node-flight-recorder">',
    // No favicon request (it would be a 404 from the server, and a network access from a report).
    '<link rel="icon" href="data:,">',
    `<title>${escapeHtml(name)} · nfr viewer</title>`,
    `<script id="nfr-config" type="application/json">${scriptJson(config)}</script>`,
  ].join('\n');
}

/** The page `nfr view` serves. */
export function servedPage(name: string, traceUrl: string, scriptUrl: string): string {
  return `${head(name, SERVED_CSP, { name, traceUrl })}\n</head>\n<body>\n<div id="nfr-app">Loading…</div>\n<script src="${escapeHtml(scriptUrl)}"></script>\n</body>\n</html>\n`;
}

/**
 * A report, in three parts so the trace can be streamed between them: the head up to the
 * opening of the element that holds the trace's base64, then (after the base64) the rest with
 * the inlined viewer. `script` must have gone through {@link inlineScript}; `scriptHash` is the
 * base64 SHA-256 of it.
 */
export function reportParts(name: string, script: string, scriptHash: string): { before: string; after: string } {
  return {
    before: `${head(name, reportCsp(scriptHash), { name })}\n<script id="nfr-trace" type="application/octet-stream">`,
    after: `</script>\n</head>\n<body>\n<div id="nfr-app">Loading…</div>\n<script>${script}</script>\n</body>\n</html>\n`,
  };
}
