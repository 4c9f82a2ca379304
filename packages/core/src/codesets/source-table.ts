import { parse } from 'csv-parse/sync';
import type { Problem } from '../errors.js';

/** One data row of a delimited file, with the line it starts on (counting from 1). */
export interface TableRow {
  cells: string[];
  line: number;
}

/** A header name reduced to letters and digits, so `PCD Refset ID`, `PCD_Refset_ID` and `pcd_refset_id` agree. */
export function columnKey(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/**
 * Reads comma- or tab-separated text. Tab-separated releases (the PCD portal's .txt files, RF2) are unquoted, one
 * record per line (a `"` in a SNOMED term is text), so they are split by line and tab: csv-parse's per-record
 * bookkeeping made a 12,000-line release take most of a second. CSV goes through csv-parse (quoted fields may span
 * lines); a syntax error becomes a problem at its line.
 */
export function readTable(text: string, delimiter: ',' | '\t', file: string): { rows: TableRow[]; problem?: Problem } {
  if (delimiter === '\t') {
    const rows: TableRow[] = [];
    const lines = text.replace(/^\uFEFF/, '').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.replace(/\r$/, '');
      if (line.trim() !== '') rows.push({ cells: line.split('\t').map((cell) => cell.trim()), line: i + 1 });
    }
    return { rows };
  }
  try {
    const records = parse(text, { bom: true, info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as {
      record: string[];
      info: { lines: number };
    }[];
    return { rows: records.map(({ record, info }) => ({ cells: record, line: info.lines })) };
  } catch (error) {
    const line = (error as { lines?: number }).lines;
    return { rows: [], problem: { code: 'CG_CODESET_FORMAT', message: `not valid CSV text: ${(error as Error).message}`, file, ...(line ? { line } : {}) } };
  }
}

/** The position of the first header column whose key is one of `keys`, or -1. */
export function findColumn(header: readonly string[], ...keys: string[]): number {
  const normalised = header.map(columnKey);
  for (const key of keys) {
    const at = normalised.indexOf(key);
    if (at >= 0) return at;
  }
  return -1;
}

/** The first `YYYYMMDD` (or `YYYY-MM-DD`) date in a text, as `YYYYMMDD`. */
export function releaseDateIn(text: string): string | undefined {
  const m = /(?:^|[^0-9])((?:19|20)\d{2})-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])(?![0-9])/.exec(text);
  return m ? `${m[1]}${m[2]}${m[3]}` : undefined;
}
