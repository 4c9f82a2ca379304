import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { CaregapsError, type Problem } from '../errors.js';
import { isSnomedConceptId } from '../snomed.js';
import { splitMetadata } from '../codesets/metadata.js';

/**
 * One row of a normalisation map: a code of another system (and, optionally, the unit its value must have) and the
 * SNOMED CT concept it becomes, with the unit conversion `target = round((value + shift) × scale, round)`.
 */
export interface MapRow {
  fromSystem: string;
  fromCode: string;
  /** The unit the source value must carry for this row to apply; empty = any unit (or none). */
  fromUnit: string;
  toCode: string;
  /** The unit of the converted value; empty = keep the source unit. */
  toUnit: string;
  shift: number;
  scale: number;
  /** Decimal places to round converted values to; `undefined` = no rounding. */
  round: number | undefined;
  /** When set, the code is a component of a panel (e.g. `systolic`): its value is stored under this name. */
  component: string | undefined;
  file?: string;
  line?: number;
}

/** What a code (with its value) becomes after normalisation. */
export interface Normalised {
  code: string;
  /** Absent for SNOMED CT; otherwise the kept source system (an unmapped code). */
  system?: string;
  value?: number;
  unit?: string;
  /** The component name when the code is a panel component. */
  component?: string;
  /** True when a map row applied. */
  mapped: boolean;
  /**
   * Set when the unit conversion leaves the range of finite numbers (e.g. an HbA1c of 1e308 % times the IFCC
   * factor): the value is unusable and the record must be quarantined with this reason.
   */
  overflow?: string;
}

const HEADER = ['from_system', 'from_code', 'from_unit', 'to_code', 'to_unit', 'shift', 'scale', 'round', 'component', 'note'];
const REQUIRED_META = ['map', 'title', 'source'] as const;

/**
 * Normalisation maps (DESIGN §3.4): other code systems and local codes to SNOMED CT, with unit conversions, read
 * from CSV files under `codesets/maps/`. A code no row maps is kept with its system, never dropped.
 */
export class NormalisationMap {
  /** system → code → rows (nested, so a lookup builds no key string). */
  private readonly rows = new Map<string, Map<string, MapRow[]>>();

  constructor(rows: Iterable<MapRow> = []) {
    for (const row of rows) this.add(row);
  }

  /** Adds a row; a second row for the same system, code and unit is refused (`CG_CODESET_DUPLICATE`). */
  add(row: MapRow): void {
    let codes = this.rows.get(row.fromSystem);
    if (!codes) this.rows.set(row.fromSystem, (codes = new Map()));
    const list = codes.get(row.fromCode) ?? [];
    if (list.some((r) => r.fromUnit === row.fromUnit)) {
      const problem: Problem = { code: 'CG_CODESET_DUPLICATE', message: `${row.fromSystem} ${row.fromCode} (unit "${row.fromUnit}") is mapped twice` };
      if (row.file !== undefined) problem.file = row.file;
      if (row.line !== undefined) problem.line = row.line;
      throw new CaregapsError('CG_CODESET_DUPLICATE', 'A normalisation map row is repeated', [problem]);
    }
    list.push(row);
    codes.set(row.fromCode, list);
  }

  get size(): number {
    let n = 0;
    for (const codes of this.rows.values()) for (const list of codes.values()) n += list.length;
    return n;
  }

  /** The row for this code and unit: one naming the unit exactly wins over one for any unit. */
  lookup(system: string, code: string, unit?: string): MapRow | undefined {
    const list = this.rows.get(system)?.get(code);
    if (!list) return undefined;
    let anyUnit: MapRow | undefined;
    for (const row of list) {
      if (row.fromUnit === '') anyUnit = row;
      else if (unit !== undefined && row.fromUnit === unit) return row;
    }
    return anyUnit;
  }

  /**
   * Normalises one coded value. `system` is the short system name (`snomed`, `loinc`, `read2`, `local:<name>` …).
   * A code without a row stays as it is, with its system (absent for SNOMED CT).
   */
  normalise(system: string, code: string, value?: number, unit?: string): Normalised {
    const row = this.lookup(system, code, unit);
    if (!row) {
      const kept: Normalised = { code, mapped: false };
      if (system !== 'snomed') kept.system = system;
      if (value !== undefined) kept.value = value;
      if (unit !== undefined) kept.unit = unit;
      return kept;
    }
    const out: Normalised = { code: row.toCode, mapped: true };
    if (value !== undefined) {
      let v = (value + row.shift) * row.scale;
      if (row.round !== undefined) {
        const f = 10 ** row.round;
        v = Math.round(v * f) / f;
      }
      out.value = v;
      if (!Number.isFinite(v)) out.overflow = `value ${value} converts to ${v} by the ${system} ${code} → ${row.toCode} map row: outside the range of numbers`;
      const toUnit = row.toUnit || unit;
      if (toUnit !== undefined) out.unit = toUnit;
    }
    if (row.component !== undefined) out.component = row.component;
    return out;
  }
}

/** Parses one map file: `# key: value` metadata (map, title, source), then rows under the header. */
export function parseNormalisationMap(text: string, file?: string): MapRow[] {
  const fail = (message: string, line?: number): never => {
    const problem: Problem = { code: 'CG_MAP_FORMAT', message };
    if (file !== undefined) problem.file = file;
    if (line !== undefined) problem.line = line;
    throw new CaregapsError('CG_MAP_FORMAT', `Normalisation map ${file ?? ''} is malformed`, [problem]);
  };
  const { meta, csv, headerLine } = splitMetadata(text);
  for (const key of REQUIRED_META) if (!meta.get(key)) fail(`missing metadata line "# ${key}: …"`, 1);
  let rows: string[][];
  try {
    rows = parse(csv, { skip_empty_lines: true, comment: '#' }) as string[][];
  } catch (error) {
    return fail(`CSV error: ${(error as Error).message}`, headerLine);
  }
  const [header, ...body] = rows;
  if (!header || header.join(',') !== HEADER.join(',')) fail(`the CSV header must be "${HEADER.join(',')}"`, headerLine);
  const number = (text: string, fallback: number, line: number, column: string): number => {
    if (text === '') return fallback;
    const n = Number(text);
    if (!Number.isFinite(n)) fail(`${column} "${text}" is not a number`, line);
    return n;
  };
  const out: MapRow[] = [];
  body.forEach((cells, k) => {
    const line = headerLine + 1 + k;
    const [fromSystem, fromCode, fromUnit, toCode, toUnit, shift, scale, round, component] = cells.map((c) => c.trim());
    if (!fromSystem || !fromCode || !toCode) fail('from_system, from_code and to_code are required', line);
    if (!isSnomedConceptId(toCode!)) fail(`to_code "${toCode}" is not a SNOMED CT concept id`, line);
    if (component && !/^[a-z][a-zA-Z0-9]{0,31}$/.test(component)) fail(`component "${component}" must be a lower camelCase name`, line);
    const row: MapRow = {
      fromSystem: fromSystem!,
      fromCode: fromCode!,
      fromUnit: fromUnit ?? '',
      toCode: toCode!,
      toUnit: toUnit ?? '',
      shift: number(shift ?? '', 0, line, 'shift'),
      scale: number(scale ?? '', 1, line, 'scale'),
      round: round ? number(round, 0, line, 'round') : undefined,
      component: component || undefined,
      line,
    };
    if (file !== undefined) row.file = file;
    out.push(row);
  });
  return out;
}

/** Loads every `*.csv` map in a folder (e.g. `codesets/maps`) into one map. */
export function loadNormalisationMaps(dir: string): NormalisationMap {
  const map = new NormalisationMap();
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.csv')).sort()) {
    const file = join(dir, name);
    for (const row of parseNormalisationMap(readFileSync(file, 'utf8'), file)) map.add(row);
  }
  return map;
}
