/** First characters that make a spreadsheet read a cell as a formula (OWASP ASVS 1.2.10), with full-width look-alikes. */
const FORMULA_START = /^[=+\-@\t\r\0\uFF1D\uFF0B\uFF0D\uFF20]/;

/** Prefixes a single quote to a text cell that a spreadsheet would run as a formula. */
export function neutralise(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

function quote(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * CSV (RFC 4180, CRLF line ends) with formula injection neutralised in every text cell. Numbers are written as
 * numbers, so negative values are not mangled.
 */
export function toCsv(header: readonly string[], rows: readonly (readonly (string | number | null)[])[]): string {
  const line = (cells: readonly (string | number | null)[]) =>
    cells.map((c) => (c === null ? '' : typeof c === 'number' ? String(c) : quote(neutralise(c)))).join(',');
  return [line(header), ...rows.map(line)].join('\r\n') + '\r\n';
}
