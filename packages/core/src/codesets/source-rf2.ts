import type { Problem } from '../errors.js';
import { isSnomedConceptId } from '../snomed.js';
import { findColumn, type TableRow } from './source-table.js';

/** The active members of one reference set in an RF2 file, and the release (latest effectiveTime) they are from. */
export interface RefsetMembers {
  refset: string;
  codes: Set<string>;
  release: string;
  file: string;
}

/** True when a header is the RF2 refset layout (id, effectiveTime, active, moduleId, refsetId, referencedComponentId). */
export function isRf2Refset(header: readonly string[]): boolean {
  return ['id', 'effectivetime', 'active', 'refsetid', 'referencedcomponentid'].every((key) => findColumn(header, key) >= 0);
}

/**
 * An RF2 simple reference set file (`der2_Refset_SimpleSnapshot_…txt` or `…SimpleFull…`), the form in which TRUD
 * publishes the dm+d drug refsets and the PCD refsets: the latest row of each member id decides whether it is
 * active. Refsets are named by id only; `layerCodesets` gives each to the cluster with that refset id.
 */
export function readRf2Refset(rows: TableRow[], file: string): { refsets: RefsetMembers[]; problems: Problem[] } {
  const header = rows[0]!.cells;
  const col = {
    id: findColumn(header, 'id'),
    time: findColumn(header, 'effectivetime'),
    active: findColumn(header, 'active'),
    refset: findColumn(header, 'refsetid'),
    code: findColumn(header, 'referencedcomponentid'),
  };
  const problems: Problem[] = [];
  const latest = new Map<string, { time: string; active: boolean; refset: string; code: string }>();
  for (const { cells, line } of rows.slice(1)) {
    const [id, time, active, refset, code] = [col.id, col.time, col.active, col.refset, col.code].map((i) => cells[i]?.trim() ?? '') as [string, string, string, string, string];
    const bad = (message: string) => problems.push({ code: 'CG_CODESET_FORMAT', message, file, line });
    if (!id) bad('no member id');
    else if (!/^\d{8}$/.test(time)) bad(`effectiveTime "${time}" is not YYYYMMDD`);
    else if (active !== '0' && active !== '1') bad(`active "${active}" is not 0 or 1`);
    else if (!/^\d{6,18}$/.test(refset)) bad(`refsetId "${refset}" is not 6–18 digits`);
    else if (!isSnomedConceptId(code)) bad(`referencedComponentId "${code}" is not a SNOMED CT concept id`);
    else {
      const held = latest.get(id);
      if (!held || held.time <= time) latest.set(id, { time, active: active === '1', refset, code });
    }
  }
  const byRefset = new Map<string, RefsetMembers>();
  for (const row of latest.values()) {
    let members = byRefset.get(row.refset);
    if (!members) byRefset.set(row.refset, (members = { refset: row.refset, codes: new Set(), release: row.time, file }));
    if (row.time > members.release) members.release = row.time;
    if (row.active) members.codes.add(row.code);
  }
  return { refsets: [...byRefset.values()], problems };
}
