import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { CaregapsError, type Problem } from '../errors.js';
import { splitMetadata } from './metadata.js';

/** Where a codeset's content was copied from (DESIGN §3.4). */
export interface CodesetSource {
  publisher: string;
  release: string;
  url: string;
  copiedFrom: string;
}

/**
 * How much of the published cluster a copy holds: `complete` (the default), `partial` (only some members: found in
 * public sources, or fewer than the member count its release gives), `missing` (declared so rules can name it, with
 * no codes) or `substitute` (a list published by someone else standing in for the cluster).
 */
export type CodesetStatus = 'complete' | 'partial' | 'missing' | 'substitute';

/** The member count a published release gives for a cluster (e.g. `cluster_sizes.tsv` of a PCD release). */
export interface MemberCount {
  count: number;
  /** The release that gives the count, `YYYYMMDD` where known. */
  release: string;
  /** The file (and line) the count was read from. */
  file: string;
}

/** One cluster: its id (e.g. `DM_COD`), reference set, provenance and codes with their terms. */
export interface Codeset {
  cluster: string;
  title: string;
  refset: string;
  status: CodesetStatus;
  source: CodesetSource;
  note?: string;
  /** code → term */
  codes: Map<string, string>;
  file?: string;
  /** Where this copy was loaded from: `bundled`, or the codeset source path it was read from. */
  layer?: string;
  /** The member count a loaded release gives for this cluster; completeness is judged against it. */
  expected?: MemberCount;
  /** The copy this one replaced (a later codeset source replaces a cluster whole). */
  replaced?: { layer: string; release: string; count: number };
}

const REQUIRED = ['cluster', 'title', 'refset', 'publisher', 'release', 'source', 'copied-from'] as const;

/** Parses a codeset CSV: `# key: value` metadata lines, then `code,term` rows. */
export function parseCodeset(text: string, file?: string): Codeset {
  const { meta, csv, headerLine } = splitMetadata(text);
  const fail = (message: string, line?: number): never => {
    const problem: Problem = { code: 'CG_CODESET_FORMAT', message };
    if (file !== undefined) problem.file = file;
    if (line !== undefined) problem.line = line;
    throw new CaregapsError('CG_CODESET_FORMAT', `Codeset ${file ?? ''} is malformed`, [problem]);
  };
  for (const key of REQUIRED) if (!meta.get(key)) fail(`missing metadata line "# ${key}: …"`, 1);
  let rows: string[][];
  try {
    rows = parse(csv, { skip_empty_lines: true, relax_column_count: false }) as string[][];
  } catch (error) {
    return fail(`CSV error: ${(error as Error).message}`, headerLine);
  }
  const [header, ...body] = rows;
  if (!header || header[0] !== 'code' || header[1] !== 'term') fail('the CSV header must be "code,term"', headerLine);
  const codes = new Map<string, string>();
  body.forEach((row, n) => {
    const [code, term] = row;
    if (!code || !/^\d{6,18}$/.test(code)) fail(`"${code}" is not a code of 6–18 digits`, headerLine + n + 1);
    if (codes.has(code!)) fail(`code ${code} appears twice`, headerLine + n + 1);
    codes.set(code!, term ?? '');
  });
  const cluster = meta.get('cluster')!;
  if (file && basename(file).replace(/\.csv$/, '') !== cluster) {
    fail(`the file name must be ${cluster}.csv to match "# cluster: ${cluster}"`, 1);
  }
  const status = (meta.get('status') ?? 'complete') as CodesetStatus;
  if (!['complete', 'partial', 'missing', 'substitute'].includes(status)) fail(`status must be complete, partial, missing or substitute, not "${status}"`, 1);
  if (status === 'missing' && codes.size > 0) fail('a cluster with "# status: missing" lists no codes', headerLine + 1);
  if (status !== 'missing' && codes.size === 0) fail('no codes: add the rows, or declare "# status: missing"', headerLine);
  const codeset: Codeset = {
    cluster,
    title: meta.get('title')!,
    refset: meta.get('refset')!,
    status,
    source: {
      publisher: meta.get('publisher')!,
      release: meta.get('release')!,
      url: meta.get('source')!,
      copiedFrom: meta.get('copied-from')!,
    },
    codes,
  };
  const note = meta.get('note');
  if (note) codeset.note = note;
  if (file) codeset.file = file;
  return codeset;
}

/** Loads every `*.csv` codeset in a folder. */
export function loadCodesets(dir: string): Codeset[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => parseCodeset(readFileSync(join(dir, f), 'utf8'), join(dir, f)));
}
