import { CaregapsError } from '../errors.js';
import type { Codeset } from './codeset.js';

export { parseCodeset, loadCodesets, type Codeset, type CodesetSource, type CodesetStatus, type MemberCount } from './codeset.js';
export type { RefsetMembers } from './source-rf2.js';
export { readCodesetSource, type CodesetSourceContent, type SourceFileReport, type SourceFileKind } from './sources.js';
export { layerCodesets, loadCodesetLayers, BUNDLED_LAYER, type CodesetLayers } from './layers.js';

const NONE: readonly number[] = Object.freeze([]);

/**
 * Maps each code to the clusters it belongs to. Clusters are numbered in the order given, so a cluster's number
 * is stable for the life of the index and can key arrays on hot paths.
 */
export class CodesetIndex {
  readonly clusters: readonly string[];
  private readonly byName = new Map<string, Codeset>();
  private readonly numberOf = new Map<string, number>();
  private readonly clustersOfCode = new Map<string, number[]>();

  constructor(codesets: readonly Codeset[]) {
    codesets.forEach((codeset, n) => {
      if (this.byName.has(codeset.cluster)) {
        throw new CaregapsError('CG_CODESET_DUPLICATE', `Cluster ${codeset.cluster} is loaded twice`, [
          { code: 'CG_CODESET_DUPLICATE', message: `second copy of ${codeset.cluster}`, ...(codeset.file ? { file: codeset.file } : {}) },
        ]);
      }
      this.byName.set(codeset.cluster, codeset);
      this.numberOf.set(codeset.cluster, n);
      for (const code of codeset.codes.keys()) {
        const list = this.clustersOfCode.get(code);
        if (list) list.push(n);
        else this.clustersOfCode.set(code, [n]);
      }
    });
    this.clusters = codesets.map((c) => c.cluster);
  }

  /** The number of a cluster, or `undefined` when no codeset of that name is loaded. */
  clusterNumber(cluster: string): number | undefined {
    return this.numberOf.get(cluster);
  }

  codeset(cluster: string): Codeset | undefined {
    return this.byName.get(cluster);
  }

  /** Numbers of the clusters a SNOMED code belongs to (empty for codes in no cluster). */
  clustersOf(code: string): readonly number[] {
    return this.clustersOfCode.get(code) ?? NONE;
  }
}
