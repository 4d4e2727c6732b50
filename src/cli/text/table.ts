/** Plain-text tables with aligned columns, for the `nfr` reports. */

export interface Column {
  header: string;
  /** Numbers line up on the right. */
  align?: 'left' | 'right';
}

/** Lines of an aligned table, indented by `indent`; the last column is not padded. */
export function table(columns: Column[], rows: string[][], indent = '  '): string[] {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const render = (cells: string[]) =>
    indent +
    cells
      .map((cell, i) => {
        const last = i === cells.length - 1;
        if (columns[i].align === 'right') return cell.padStart(widths[i]);
        return last ? cell : cell.padEnd(widths[i]);
      })
      .join('  ')
      .replace(/\s+$/, '');
  return [render(columns.map((c) => c.header)), ...rows.map(render)];
}

/** Milliseconds with one decimal, for table cells (the header says `ms`). */
export function msCell(ns: number): string {
  return (ns / 1e6).toFixed(1);
}
