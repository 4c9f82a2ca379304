/**
 * The organisation hierarchy: one ICB, its boroughs, their primary care networks (PCNs) and GP practices.
 * @module
 */
import type { OrganisationRecord } from '@caregaps/core';
import type { GeneratorConfig } from './config.js';
import { Prng } from './prng.js';

/** A practice with the patients it will hold and where it sits in the hierarchy. */
export interface Practice {
  code: string;
  name: string;
  pcn: string;
  borough: string;
  /** Number of patients the generator places in this practice (its list size). */
  listSize: number;
  /** Index of the first patient of this practice in generation order. */
  firstPatient: number;
  /** Practice quality on a standard normal scale (higher achieves more). */
  quality: number;
}

export interface Hierarchy {
  organisations: OrganisationRecord[];
  practices: Practice[];
}

/** Splits `total` into integer parts proportional to `weights` (largest remainder), each part at least `min`. */
export function apportion(total: number, weights: readonly number[], min = 0): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const rest = total - min * weights.length;
  const exact = weights.map((w) => (rest * w) / sum);
  const parts = exact.map((x) => min + Math.floor(x));
  let left = total - parts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) parts[order[k]![1]]!++;
  return parts;
}

/**
 * Builds the hierarchy for `patients` patients: list sizes drawn log-normal and clipped to the configured range until
 * they hold everyone, then scaled to add up to exactly `patients`; practices shared among boroughs by population.
 */
export function buildHierarchy(config: GeneratorConfig, patients: number, seed: string | number): Hierarchy {
  const rng = new Prng(seed, -1);
  const { listSize } = config;
  // Draw practices until their lists hold everyone, then scale the lists to add up exactly (a scale near 1 for
  // large populations; small ones get at least one practice per borough, with proportionally smaller lists).
  const drawn: number[] = [];
  let sum = 0;
  while (sum < patients || drawn.length < config.boroughs.length) {
    const size = Math.min(listSize.max, Math.max(listSize.min, listSize.median * Math.exp(listSize.logSd * rng.normal())));
    drawn.push(size);
    sum += size;
  }
  if (drawn.length > config.boroughs.length && sum - patients > drawn[drawn.length - 1]! / 2) sum -= drawn.pop()!;
  const practiceCount = drawn.length;
  const perBorough = apportion(practiceCount, config.boroughs.map((b) => b.weight), 1);
  const sizes = apportion(patients, drawn);
  const organisations: OrganisationRecord[] = [{ kind: 'organisation', code: config.icb.code, name: config.icb.name, type: 'icb', parent: null }];
  const practices: Practice[] = [];
  let first = 0;
  let pcnNumber = 0;
  config.boroughs.forEach((borough, b) => {
    const count = perBorough[b]!;
    const boroughPractices = sizes.slice(practices.length, practices.length + count);
    organisations.push({
      kind: 'organisation',
      code: borough.code,
      name: borough.name,
      type: 'borough',
      parent: config.icb.code,
      listSize: boroughPractices.reduce((a, s) => a + s, 0),
    });
    const pcnCount = Math.max(1, Math.round(count / config.practicesPerPcn));
    const pcnSizes = apportion(count, new Array<number>(pcnCount).fill(1));
    let p = 0;
    for (let k = 0; k < pcnCount; k++) {
      pcnNumber++;
      const pcnCode = `U9${String(pcnNumber).padStart(4, '0')}`;
      const members = boroughPractices.slice(p, p + pcnSizes[k]!);
      organisations.push({
        kind: 'organisation',
        code: pcnCode,
        name: `${borough.name} synthetic PCN ${k + 1}`,
        type: 'pcn',
        parent: borough.code,
        listSize: members.reduce((a, s) => a + s, 0),
      });
      for (const size of members) {
        p++;
        const code = `Z${b + 1}${String(p).padStart(4, '0')}`;
        const practice: Practice = {
          code,
          name: `${borough.name} synthetic practice ${p}`,
          pcn: pcnCode,
          borough: borough.code,
          listSize: size,
          firstPatient: first,
          quality: rng.normal(),
        };
        first += size;
        practices.push(practice);
        organisations.push({ kind: 'organisation', code, name: practice.name, type: 'practice', parent: pcnCode, listSize: size });
      }
    }
  });
  return { organisations, practices };
}
