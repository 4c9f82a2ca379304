import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CaregapsError, type Problem } from '../errors.js';
import { parseCodeset, type Codeset, type MemberCount } from './codeset.js';
import {
  CLUSTER_ID,
  labelFromName,
  readCodeList,
  readManifest,
  readMemberCounts,
  readRefsetContent,
  type FileContent,
  type ListLabel,
  type ManifestEntry,
} from './source-formats.js';
import { isRf2Refset, readRf2Refset, type RefsetMembers } from './source-rf2.js';
import { findColumn, readTable, releaseDateIn } from './source-table.js';

/** What a file of a codeset source was read as. */
export type SourceFileKind =
  | 'pcd-refset-content'
  | 'pcd-member-counts'
  | 'rf2-refset'
  | 'code-list'
  | 'substitute-list'
  | 'caregaps-codeset'
  | 'manifest'
  | 'not-read';

/** One file of a codeset source: what it was recognised as and what it gave, or why it was not used. */
export interface SourceFileReport {
  file: string;
  kind: SourceFileKind;
  /** Clusters it filled (for a member-count table: how many counts it gave). */
  clusters: string[];
  /** Why the file, or some of what it names, was not used. */
  note?: string;
}

/** A codeset source read: the clusters it fills, the member counts it gives, and a report on every file. */
export interface CodesetSourceContent {
  path: string;
  codesets: Codeset[];
  counts: Map<string, MemberCount>;
  /** Clusters the source names as refsets published elsewhere (dm+d drug refsets), with their refset ids. */
  external: Map<string, string>;
  /** Members of refsets named by id only (RF2): each fills the cluster with that refset id when layered. */
  refsets: RefsetMembers[];
  files: SourceFileReport[];
}

const MAX_BYTES = 256 * 1024 * 1024;
const TEXT = /\.(csv|tsv|txt)$/i;
const MANIFEST = /^MANIFEST.*\.tsv$/i;

function sourceError(path: string, message: string): CaregapsError {
  return new CaregapsError('CG_CODESET_SOURCE', `Codeset source ${path}: ${message}`, [{ code: 'CG_CODESET_SOURCE', message, file: path }]);
}

function readText(file: string): string {
  if (statSync(file).size > MAX_BYTES) throw sourceError(file, `larger than ${MAX_BYTES / 1024 / 1024} MiB`);
  return readFileSync(file, 'utf8');
}

/** Manifests of a folder (MANIFEST*.tsv), by the base name of the file each row describes. */
function manifestsOf(folder: string, problems: Problem[]): Map<string, ManifestEntry[]> {
  const byFile = new Map<string, ManifestEntry[]>();
  if (!existsSync(folder)) return byFile;
  for (const name of readdirSync(folder).filter((f) => MANIFEST.test(f) && statSync(join(folder, f)).isFile()).sort()) {
    const file = join(folder, name);
    const { rows, problem } = readTable(readText(file), '\t', file);
    if (problem) problems.push(problem);
    if (!rows.length || (findColumn(rows[0]!.cells, 'cluster') < 0 && findColumn(rows[0]!.cells, 'target') < 0)) continue;
    const manifest = readManifest(rows, file);
    problems.push(...manifest.problems);
    for (const entry of manifest.entries) byFile.set(entry.file, [...(byFile.get(entry.file) ?? []), entry]);
  }
  return byFile;
}

/**
 * Reads one codeset source: a file, or a folder whose files are recognised by their content (not recursively):
 * the PCD release's refset content by output and its member-count tables, code lists (OpenCodelists CSV exports,
 * dm+d refset lists, substitutes named by a manifest), the project's own codeset files, and `MANIFEST*.tsv`
 * provenance for the lists beside them (or, when their folder has none, in the folder above). Every file is
 * reported: what it gave, or why it was not used. Bad lines are collected and thrown together (`CG_CODESET_FORMAT`,
 * file:line).
 */
export function readCodesetSource(path: string): CodesetSourceContent {
  if (!existsSync(path)) throw sourceError(path, 'no such file or folder');
  const isFolder = statSync(path).isDirectory();
  const folder = isFolder ? path : dirname(path);
  const names = isFolder ? readdirSync(path).sort() : [basename(path)];
  const problems: Problem[] = [];
  const own = manifestsOf(folder, problems);
  const parent = dirname(folder) !== folder ? manifestsOf(dirname(folder), problems) : new Map<string, ManifestEntry[]>();
  const folderRelease = releaseDateIn(basename(folder));
  const content: CodesetSourceContent = { path, codesets: [], counts: new Map(), external: new Map(), refsets: [], files: [] };
  const candidates = new Map<string, { codeset: Codeset; report: SourceFileReport }[]>();

  for (const name of names) {
    const file = join(folder, name);
    const report: SourceFileReport = { file, kind: 'not-read', clusters: [] };
    content.files.push(report);
    const stat = statSync(file);
    if (stat.isDirectory()) {
      report.note = 'a folder: not read (give it as a source of its own)';
      continue;
    }
    if (!stat.isFile()) {
      // A pipe or device could block or never end.
      report.note = 'not a regular file: not read';
      continue;
    }
    if (MANIFEST.test(name)) {
      report.kind = 'manifest';
      report.note = 'provenance for the lists it names';
      continue;
    }
    if (!TEXT.test(name)) {
      report.note = 'not a codeset format (.csv, .tsv or .txt)';
      continue;
    }
    const text = readText(file);
    const release = releaseDateIn(name) ?? folderRelease ?? 'unknown';
    let read: FileContent | undefined;
    if (text.startsWith('#')) {
      report.kind = 'caregaps-codeset';
      try {
        const codeset = parseCodeset(text, file);
        read = { codesets: [codeset], counts: new Map(), external: new Map(), problems: [] };
      } catch (error) {
        if (!(error instanceof CaregapsError)) throw error;
        problems.push(...error.problems);
        continue;
      }
    } else {
      const firstLine = text.slice(0, text.indexOf('\n') >>> 0);
      // .tsv/.txt files are tab-separated when their first line has a tab; a .csv only when it has no comma.
      const tabbed = firstLine.includes('\t') && (/\.(tsv|txt)$/i.test(name) || !firstLine.includes(','));
      const { rows, problem } = readTable(text, tabbed ? '\t' : ',', file);
      if (problem) {
        problems.push(problem);
        continue;
      }
      if (!rows.length) {
        report.note = 'empty';
        continue;
      }
      const header = rows[0]!.cells;
      if (isRf2Refset(header)) {
        report.kind = 'rf2-refset';
        const rf2 = readRf2Refset(rows, file);
        problems.push(...rf2.problems);
        content.refsets.push(...rf2.refsets);
        continue;
      }
      if (findColumn(header, 'clusterid') >= 0 && findColumn(header, 'snomedcode', 'conceptid') >= 0) {
        report.kind = 'pcd-refset-content';
        read = readRefsetContent(rows, file, release);
      } else if (findColumn(header, 'clusterid') >= 0 && findColumn(header, 'n', 'members', 'count') >= 0) {
        report.kind = 'pcd-member-counts';
        read = readMemberCounts(rows, file, release);
      } else {
        const label = labelOf(name, own.get(name) ?? parent.get(name), release);
        if ('reason' in label) {
          report.note = label.reason;
          continue;
        }
        const list = readCodeList(rows, file, label);
        if ('notSnomed' in list) {
          report.note = `not SNOMED CT codes (first code ${list.notSnomed}): not used`;
          continue;
        }
        report.kind = label.substitute ? 'substitute-list' : 'code-list';
        read = list;
      }
    }
    problems.push(...read.problems);
    for (const [cluster, count] of read.counts) content.counts.set(cluster, count);
    for (const [cluster, refset] of read.external) content.external.set(cluster, refset);
    if (report.kind === 'pcd-member-counts') report.clusters = [`${read.counts.size} member counts`];
    if (read.external.size) report.note = `names ${[...read.external.keys()].join(', ')} as refsets published elsewhere (dm+d); load their lists`;
    for (const codeset of read.codesets) {
      candidates.set(codeset.cluster, [...(candidates.get(codeset.cluster) ?? []), { codeset, report }]);
    }
  }
  if (problems.length) throw new CaregapsError('CG_CODESET_FORMAT', `${problems.length} problem(s) in codeset source ${path}`, problems);

  for (const [cluster, found] of candidates) {
    const distinct = found.filter((f, i) => found.findIndex((g) => sameCodes(g.codeset, f.codeset)) === i);
    if (distinct.length > 1) {
      for (const f of found) {
        const others = found.filter((g) => g !== f).map((g) => basename(g.report.file));
        f.report.note = [f.report.note, `${cluster} not used: ${others.join(', ')} in the same source also give${others.length === 1 ? 's' : ''} it, with other codes (give the one you want as its own source)`]
          .filter(Boolean)
          .join('; ');
      }
      continue;
    }
    // Identical copies (the release's content and a per-cluster file of the same release): the first is kept.
    content.codesets.push(found[0]!.codeset);
    found[0]!.report.clusters.push(cluster);
  }
  for (const external of content.external.keys()) content.counts.delete(external);
  if (!content.files.some((f) => f.kind !== 'not-read' && f.kind !== 'manifest')) {
    throw sourceError(path, `nothing in it is a codeset format Caregaps reads (${content.files.map((f) => `${basename(f.file)}: ${f.note ?? 'not read'}`).join('; ')})`);
  }
  return content;
}

function sameCodes(a: Codeset, b: Codeset): boolean {
  return a.codes.size === b.codes.size && [...a.codes.keys()].every((c) => b.codes.has(c));
}

/** Which cluster a code list fills: its manifest row first, else its file name. */
function labelOf(name: string, entries: ManifestEntry[] | undefined, release: string): ListLabel | { reason: string } {
  const fromName = labelFromName(name);
  if (fromName) {
    // The file names its cluster (and, for a dm+d list, the refset): it is that cluster's own list.
    const entry = entries?.find((e) => e.target === fromName.cluster);
    return { cluster: fromName.cluster, substitute: false, release: entry?.release ?? release, ...(fromName.refset ? { refset: fromName.refset } : {}), ...(entry ? { entry } : {}) };
  }
  if (!entries?.length) return { reason: 'names no cluster: the file name is not <CLUSTER>.csv and no MANIFEST.tsv beside it names it' };
  const clusters = entries.filter((e) => CLUSTER_ID.test(e.target));
  if (clusters.length !== 1 || entries.length !== 1) {
    return { reason: `not used: its manifest names "${entries.map((e) => e.target).join('", "')}", not one whole cluster` };
  }
  const entry = clusters[0]!;
  const refset = /-(\d{6,18})-/.exec(name)?.[1];
  return { cluster: entry.target, substitute: entry.substitute, release: entry.release ?? release, ...(refset ? { refset } : {}), entry };
}
