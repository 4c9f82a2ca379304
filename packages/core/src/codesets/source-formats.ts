import { basename } from 'node:path';
import type { Problem } from '../errors.js';
import { isSnomedConceptId } from '../snomed.js';
import type { Codeset, MemberCount } from './codeset.js';
import { columnKey, findColumn, releaseDateIn, type TableRow } from './source-table.js';

/** A cluster id as the PCD release writes it (`DM_COD`, `3IN1VAC_COD`). */
export const CLUSTER_ID = /^[A-Z0-9][A-Z0-9_]*_COD$/;

/** What one file of a codeset source gives. */
export interface FileContent {
  codesets: Codeset[];
  counts: Map<string, MemberCount>;
  /** Clusters the release names as refsets published elsewhere (dm+d), with their refset ids and no members. */
  external: Map<string, string>;
  problems: Problem[];
}

function empty(): FileContent {
  return { codesets: [], counts: new Map(), external: new Map(), problems: [] };
}

function problem(file: string, line: number, message: string): Problem {
  return { code: 'CG_CODESET_FORMAT', message, file, line };
}

/**
 * The PCD release's "Refset content by output" layout (tab-separated: Output_ID, Cluster_ID, Cluster_Description,
 * SNOMED_code, SNOMED_code_description, PCD Refset ID): every member of every cluster, once per output that uses the
 * cluster. Rows for drug refsets the PCD team does not maintain carry no code ("Check the SNOMED browser…"); they
 * name the refset id only.
 */
export function readRefsetContent(rows: TableRow[], file: string, release: string): FileContent {
  const out = empty();
  const header = rows[0]!.cells;
  const col = {
    cluster: findColumn(header, 'clusterid'),
    code: findColumn(header, 'snomedcode', 'conceptid'),
    title: findColumn(header, 'clusterdescription'),
    term: findColumn(header, 'snomedcodedescription', 'term'),
    refset: findColumn(header, 'pcdrefsetid', 'refsetid'),
  };
  const byCluster = new Map<string, Codeset>();
  for (const { cells, line } of rows.slice(1)) {
    const cluster = cells[col.cluster]?.trim() ?? '';
    const code = cells[col.code]?.trim() ?? '';
    const refset = col.refset >= 0 ? (cells[col.refset]?.trim() ?? '') : '';
    if (!CLUSTER_ID.test(cluster)) {
      out.problems.push(problem(file, line, `"${cluster}" is not a cluster id like DM_COD`));
      continue;
    }
    if (refset && !/^\d{6,18}$/.test(refset)) {
      out.problems.push(problem(file, line, `refset id "${refset}" of ${cluster} is not 6–18 digits`));
      continue;
    }
    if (!isSnomedConceptId(code)) {
      if (refset && /refset/i.test(cells.join(' '))) out.external.set(cluster, refset);
      else out.problems.push(problem(file, line, `"${code}" is not a SNOMED CT concept id (6–18 digits; often a spreadsheet's 1.95E+16)`));
      continue;
    }
    let codeset = byCluster.get(cluster);
    if (!codeset) {
      codeset = {
        cluster,
        title: cells[col.title]?.trim() || cluster,
        refset: refset || 'unknown',
        status: 'complete',
        source: {
          publisher: 'NHS England Primary Care Domain reference set portfolio (refset content by output)',
          release,
          url: '',
          copiedFrom: basename(file),
        },
        codes: new Map(),
        file,
      };
      byCluster.set(cluster, codeset);
    } else if (refset && codeset.refset !== refset) {
      out.problems.push(problem(file, line, `${cluster} has refset id ${refset} here but ${codeset.refset} on an earlier line`));
      continue;
    }
    if (!codeset.codes.has(code)) codeset.codes.set(code, cells[col.term]?.trim() ?? '');
  }
  out.codesets = [...byCluster.values()];
  return out;
}

/** A member-count table of a release (Cluster_ID … n, e.g. `cluster_sizes.tsv`, `output_cluster_counts.tsv`). */
export function readMemberCounts(rows: TableRow[], file: string, release: string): FileContent {
  const out = empty();
  const header = rows[0]!.cells;
  const cluster = findColumn(header, 'clusterid');
  const n = findColumn(header, 'n', 'members', 'count');
  for (const { cells, line } of rows.slice(1)) {
    const id = cells[cluster]?.trim() ?? '';
    const text = cells[n]?.trim() ?? '';
    if (!CLUSTER_ID.test(id)) out.problems.push(problem(file, line, `"${id}" is not a cluster id like DM_COD`));
    else if (!/^\d{1,9}$/.test(text)) out.problems.push(problem(file, line, `member count "${text}" of ${id} is not a whole number`));
    else {
      const held = out.counts.get(id);
      if (held && held.count !== Number(text)) out.problems.push(problem(file, line, `${id} has ${text} members here but ${held.count} at ${held.file}`));
      else if (!held) out.counts.set(id, { count: Number(text), release, file: `${file}:${line}` });
    }
  }
  return out;
}

/** One file a manifest describes: which cluster it fills and where it came from. */
export interface ManifestEntry {
  /** The file's base name. */
  file: string;
  /** The cluster named (may be a description such as "SMOK_COD (current-smoker part)": then it fills nothing). */
  target: string;
  /** Listed in a manifest of substitutes (a `target` column): lists published by others standing in for a cluster. */
  substitute: boolean;
  release?: string;
  url?: string;
  refset?: string;
  title?: string;
  copiedFrom?: string;
  expected?: MemberCount;
  manifest: string;
}

/**
 * A `MANIFEST*.tsv` beside code lists: one row per file with the cluster (`cluster`) or the cluster it stands in for
 * (`target`, in a manifest of substitutes), and provenance columns where present (release, url, opencodelists_id,
 * source_repo / commit / path, pcd_refset_id, title, and `pcd<YYYYMMDD>_n`: the member count of that release).
 */
export function readManifest(rows: TableRow[], file: string): { entries: ManifestEntry[]; problems: Problem[] } {
  const header = rows[0]!.cells;
  const at = (...keys: string[]) => findColumn(header, ...keys);
  const col = {
    cluster: at('cluster'),
    target: at('target'),
    file: at('file'),
    release: at('release'),
    version: at('opencodelistsid', 'listid'),
    url: at('url'),
    refset: at('pcdrefsetid'),
    title: at('title', 'pcdclusterdescription'),
    repo: at('sourcerepo', 'repo'),
    commit: at('commit'),
    path: at('path'),
    source: at('source'),
  };
  const counts = header.map(columnKey).flatMap((key, i) => {
    const m = /^pcd(\d{8})n$/.exec(key);
    return m ? [{ i, release: m[1]! }] : [];
  });
  const entries: ManifestEntry[] = [];
  const problems: Problem[] = [];
  const named = col.cluster >= 0 ? col.cluster : col.target;
  for (const { cells, line } of rows.slice(1)) {
    const cell = (i: number) => (i >= 0 ? (cells[i]?.trim() ?? '') : '');
    const target = cell(named);
    if (!target) {
      problems.push(problem(file, line, `no cluster in column "${header[named]}"`));
      continue;
    }
    const fileName = cell(col.file) ? basename(cell(col.file)) : `${target}.csv`;
    const entry: ManifestEntry = { file: fileName, target, substitute: col.cluster < 0, manifest: `${file}:${line}` };
    const version = cell(col.version);
    // An OpenCodelists id ends in its version (`…/bp_cod/20200812`); other list ids may name a release date.
    const release = cell(col.release)
      ? (releaseDateIn(cell(col.release)) ?? cell(col.release))
      : version.includes('/') && !/\s/.test(version.split(' ')[0]!)
        ? version.split(' ')[0]!.split('/').pop()!
        : (releaseDateIn(version) ?? '');
    if (release) entry.release = release;
    if (cell(col.url)) entry.url = cell(col.url);
    const refset = /^\d{6,18}/.exec(cell(col.refset))?.[0];
    if (refset) entry.refset = refset;
    if (cell(col.title)) entry.title = cell(col.title).replace(/\s*\[PCD \d+ cluster description\]$/, '');
    const origin = [cell(col.repo), cell(col.path), cell(col.commit) && `(commit ${cell(col.commit)})`].filter(Boolean).join(' ');
    if (origin || cell(col.source)) entry.copiedFrom = [version, origin || cell(col.source)].filter(Boolean).join(' from ');
    for (const c of counts) {
      const n = cell(c.i);
      if (/^\d{1,9}$/.test(n)) entry.expected = { count: Number(n), release: c.release, file: `${file}:${line}` };
    }
    entries.push(entry);
  }
  return { entries, problems };
}

/** How a code list is labelled: from a manifest row or its file name. */
export interface ListLabel {
  cluster: string;
  substitute: boolean;
  release: string;
  refset?: string;
  entry?: ManifestEntry;
}

/**
 * The label a code list's file name gives: `<CLUSTER>.csv` (an OpenCodelists export saved under the cluster's
 * name) or `<CLUSTER>-<refset id>-<words>.csv` (a dm+d refset list).
 */
export function labelFromName(file: string): { cluster: string; refset?: string } | undefined {
  const name = basename(file).replace(/\.(csv|tsv|txt)$/i, '');
  if (CLUSTER_ID.test(name)) return { cluster: name };
  const m = /^([A-Z0-9][A-Z0-9_]*_COD)-(\d{6,18})(?:-|$)/.exec(name);
  return m ? { cluster: m[1]!, refset: m[2]! } : undefined;
}

/**
 * A code list: CSV with a header whose first code column is `code` or `id` (OpenCodelists exports, dm+d refset
 * lists, PINCER lists), or tab-separated `code<TAB>term` lines without a header. Codes repeated in the list (e.g.
 * OpenCodelists' VMP-mapping rows) are kept once. A list with no SNOMED CT code at all (Read v2, CTV3) fills nothing.
 */
export function readCodeList(rows: TableRow[], file: string, label: ListLabel): FileContent | { notSnomed: string } {
  const out = empty();
  const header = rows[0]!.cells;
  let code = findColumn(header, 'code', 'id', 'conceptid', 'snomedcode');
  let term = findColumn(header, 'term', 'description', 'snomedcodedescription');
  let body = rows.slice(1);
  if (code < 0) {
    // No header: code, term.
    code = 0;
    term = 1;
    body = rows;
  }
  if (!body.some((r) => isSnomedConceptId(r.cells[code]?.trim() ?? ''))) {
    return { notSnomed: body[0] ? `"${body[0].cells[code]?.trim()}"` : 'no rows' };
  }
  const codes = new Map<string, string>();
  for (const { cells, line } of body) {
    const c = cells[code]?.trim() ?? '';
    if (!isSnomedConceptId(c)) out.problems.push(problem(file, line, `"${c}" is not a SNOMED CT concept id (6–18 digits; often a spreadsheet's 1.95E+16)`));
    else if (!codes.get(c)) codes.set(c, term >= 0 ? (cells[term]?.trim() ?? '') : '');
  }
  const entry = label.entry;
  const codeset: Codeset = {
    cluster: label.cluster,
    title: entry?.title ?? '',
    refset: label.refset ?? entry?.refset ?? '',
    status: label.substitute ? 'substitute' : 'complete',
    source: {
      publisher: label.substitute ? 'substitute list (published by another organisation)' : label.refset ? 'dm+d drug reference set list' : 'code list (OpenCodelists CSV layout)',
      release: label.release,
      url: entry?.url ?? '',
      copiedFrom: [basename(file), entry?.copiedFrom, entry && `manifest ${entry.manifest}`].filter(Boolean).join('; '),
    },
    codes,
    file,
  };
  if (entry?.expected) codeset.expected = entry.expected;
  out.codesets.push(codeset);
  return out;
}
