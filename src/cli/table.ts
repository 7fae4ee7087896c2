// Plain-text tables for the partisci command: left-aligned columns sized to
// their widest cell.

export type Column<T> = [title: string, value: (keyof T & string) | ((row: T) => unknown)];

export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map(([, v]) => String((typeof v === 'string' ? row[v] : v(row)) ?? '')));
  const widths = columns.map(([title], i) => Math.max(title.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: readonly string[]): string => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  return [line(columns.map(([title]) => title)), ...cells.map(line)].join('\n') + '\n';
}

/** A unix time as "2026-11-22 03:35:35" (UTC). */
export function when(t: unknown): string {
  return typeof t === 'number' && t > 0 ? new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 19) : '';
}
