import { basename } from 'node:path';
import { loadCodesets, type Codeset, type CodesetStatus, type MemberCount } from './codeset.js';
import { readCodesetSource, type CodesetSourceContent } from './sources.js';
import { releaseDateIn } from './source-table.js';

/** The layer name of the codesets in the bundled (or `--codesets`) folder. */
export const BUNDLED_LAYER = 'bundled';

/** Codesets after layering sources over the bundled folder, and what each source gave. */
export interface CodesetLayers {
  codesets: Codeset[];
  sources: CodesetSourceContent[];
}

/** A release's date (`YYYYMMDD`) when the release text starts with one. */
function releaseDate(release: string): string | undefined {
  return /^\s*(?:19|20)\d{2}-?\d{2}-?\d{2}(?![0-9])/.test(release) ? releaseDateIn(release) : undefined;
}

/**
 * The status of a copy, judged by what it declares and by the member count a release gives: fewer members than the
 * count of a release not older than the copy's own means partial (a copy of a later release may have fewer: members
 * are also retired); as many as the count means complete.
 */
function statusOf(codeset: Codeset, expected: MemberCount | undefined): CodesetStatus {
  if (codeset.status === 'substitute') return 'substitute';
  if (codeset.codes.size === 0) return 'missing';
  if (expected) {
    const own = releaseDate(codeset.source.release);
    const counted = releaseDate(expected.release);
    if (codeset.codes.size < expected.count && (!own || !counted || own <= counted)) return 'partial';
    // A copy declared partial because its count was unknown is complete once it holds the release's count.
    if (codeset.codes.size >= expected.count) return 'complete';
  }
  return codeset.status;
}

/**
 * Lays codeset sources over the bundled codesets, in order: a later source replaces a cluster whole (a list without
 * a title or refset id keeps those of the copy it replaces). Member counts from every source are gathered first, so
 * a release's counts judge clusters filled by any layer. Each cluster keeps its layer, what it replaced, its expected
 * count and its status.
 */
export function layerCodesets(bundled: readonly Codeset[], sources: readonly CodesetSourceContent[]): Codeset[] {
  const counts = new Map<string, MemberCount>();
  for (const source of sources) for (const [cluster, count] of source.counts) counts.set(cluster, count);
  const layered = new Map<string, Codeset>(bundled.map((c) => [c.cluster, { ...c, layer: c.layer ?? BUNDLED_LAYER }]));
  for (const source of sources) {
    for (const codeset of [...source.codesets, ...refsetCodesets(source, layered)]) {
      const prior = layered.get(codeset.cluster);
      const next: Codeset = {
        ...codeset,
        title: codeset.title || prior?.title || codeset.cluster,
        refset: codeset.refset || prior?.refset || source.external.get(codeset.cluster) || 'unknown',
        layer: source.path,
      };
      if (prior) next.replaced = { layer: prior.layer!, release: prior.source.release, count: prior.codes.size };
      layered.set(codeset.cluster, next);
    }
  }
  return [...layered.values()].map((codeset) => {
    const expected = counts.get(codeset.cluster) ?? codeset.expected;
    const judged: Codeset = { ...codeset, status: statusOf(codeset, expected) };
    if (expected) judged.expected = expected;
    return judged;
  });
}

/**
 * The clusters an RF2 source's refsets fill: each refset goes to every cluster whose refset id (in the layers so far,
 * or named by this source's own release content) is that refset's. A refset matching no cluster is noted on its file.
 */
function refsetCodesets(source: CodesetSourceContent, layered: ReadonlyMap<string, Codeset>): Codeset[] {
  const refsetOf = new Map<string, string>();
  for (const c of layered.values()) refsetOf.set(c.cluster, c.refset);
  for (const c of source.codesets) refsetOf.set(c.cluster, c.refset);
  for (const [cluster, refset] of source.external) refsetOf.set(cluster, refset);
  const out: Codeset[] = [];
  for (const members of source.refsets) {
    const clusters = [...refsetOf].filter(([, refset]) => refset === members.refset).map(([cluster]) => cluster);
    const report = source.files.find((f) => f.file === members.file);
    if (!clusters.length) {
      if (report) report.note = [report.note, `refset ${members.refset} (${members.codes.size} members) is no loaded cluster's refset id`].filter(Boolean).join('; ');
      continue;
    }
    for (const cluster of clusters) {
      report?.clusters.push(cluster);
      out.push({
        cluster,
        title: '',
        refset: members.refset,
        status: 'complete',
        source: { publisher: 'SNOMED CT RF2 simple reference set', release: members.release, url: '', copiedFrom: basename(members.file) },
        codes: new Map([...members.codes].map((code) => [code, ''])),
        file: members.file,
      });
    }
  }
  return out;
}

/** Loads the codesets folder and reads each codeset source, then lays the sources over it in the order given. */
export function loadCodesetLayers(codesetsDir: string, sourcePaths: readonly string[] = []): CodesetLayers {
  const sources = sourcePaths.map((path) => readCodesetSource(path));
  return { codesets: layerCodesets(loadCodesets(codesetsDir), sources), sources };
}
