/**
 * Building DOM nodes. Everything from the trace is untrusted (request paths, log messages come
 * from the traced process's users), so text goes in through textContent only, never as HTML.
 */

type Child = Node | string | number | undefined | null | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: { class?: string; title?: string; onclick?: (e: MouseEvent) => void; data?: Record<string, string> } = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class !== undefined) el.className = props.class;
  if (props.title !== undefined) el.title = props.title;
  if (props.onclick !== undefined) el.addEventListener('click', props.onclick as EventListener);
  if (props.data !== undefined) for (const [k, v] of Object.entries(props.data)) el.dataset[k] = v;
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    el.append(typeof child === 'object' ? child : String(child));
  }
  return el;
}

/** A clickable link-styled element that runs `action`. */
export function link(text: string, action: () => void, title?: string): HTMLAnchorElement {
  const a = h('a', { class: 'nfr-link', title, onclick: (e) => (e.preventDefault(), action()) }, text);
  a.href = '#';
  return a;
}

/** A two-column table of facts; rows with an undefined value are left out. */
export function facts(rows: [string, Child | Child[]][]): HTMLTableElement {
  const table = h('table', { class: 'nfr-facts' });
  for (const [key, value] of rows) {
    if (value === undefined || value === null || value === false) continue;
    const cell = h('td');
    for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined && v !== null && v !== false) cell.append(typeof v === 'object' ? v : String(v));
    table.append(h('tr', {}, h('th', {}, key), cell));
  }
  return table;
}
