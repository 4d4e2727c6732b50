import type { ViewerConfig } from './viewer.js';

/** Where the page finds its trace: bytes embedded in the page (`nfr report`), or a URL (`nfr view`). */

/** The page's configuration, from its JSON script element. */
export function readConfig(): ViewerConfig {
  const el = document.getElementById('nfr-config');
  const config = el?.textContent ? (JSON.parse(el.textContent) as Partial<ViewerConfig>) : {};
  return { name: typeof config.name === 'string' ? config.name : 'trace', traceUrl: typeof config.traceUrl === 'string' ? config.traceUrl : undefined };
}

export async function loadTrace(config: ViewerConfig): Promise<Uint8Array> {
  const embedded = document.getElementById('nfr-trace');
  if (embedded !== null) {
    const text = embedded.textContent ?? '';
    // Free the page's copy of the text as soon as it is decoded.
    embedded.remove();
    return decodeBase64(text);
  }
  if (config.traceUrl === undefined) throw new Error('this page has no trace: it was not made by `nfr view` or `nfr report`');
  const response = await fetch(config.traceUrl);
  if (!response.ok) throw new Error(`could not load the trace from ${config.traceUrl}: HTTP ${response.status} ${await response.text()}`);
  return new Uint8Array(await response.arrayBuffer());
}

export function decodeBase64(text: string): Uint8Array {
  // `nfr report` writes one unbroken line; whitespace is removed only if someone wrapped it.
  const trimmed = text.trim();
  const clean = /\s/.test(trimmed.slice(0, 4096)) ? trimmed.replace(/\s+/g, '') : trimmed;
  const native = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array }).fromBase64;
  if (native !== undefined) return native(clean);
  const binary = atob(clean);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
