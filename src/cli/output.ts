/** Plain-text output of the operator commands: aligned tables, key/value blocks and a progress bar. */

export interface Column<Row> {
  header: string;
  value: (row: Row) => unknown;
  /** Longer values are cut with an ellipsis. */
  max?: number;
}

export function cell(value: unknown, max = 60): string {
  const text = value === null || value === undefined || value === '' ? '-' : value instanceof Date ? value.toISOString() : Array.isArray(value) ? value.join(',') : String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function formatTable<Row>(rows: Row[], columns: Column<Row>[]): string {
  const cells = rows.map((row) => columns.map((column) => cell(column.value(row), column.max)));
  const widths = columns.map((column, index) => Math.max(column.header.length, ...cells.map((line) => line[index]!.length)));
  const line = (values: string[]) => values.map((value, index) => (index === values.length - 1 ? value : value.padEnd(widths[index]!))).join('  ');
  return [line(columns.map((column) => column.header)), ...cells.map(line)].join('\n');
}

export function formatFields(fields: [label: string, value: unknown][]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width + 1)} ${cell(typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date) ? JSON.stringify(value) : value, 200)}`).join('\n');
}

export function progressBar(done: number, total: number, width = 30): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} (${Math.floor(ratio * 100)}%)`;
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
