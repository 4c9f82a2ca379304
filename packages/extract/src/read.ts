import { basename } from 'node:path';
import { parse as parseCsv, type CsvError } from 'csv-parse';
import {
  inputChunks,
  inputName,
  isSnomedConceptId,
  itemsOf,
  jsonObjectBatches,
  lineBatches,
  isValidNhsNumber,
  parseRecordDay,
  type AdapterItem,
  type AdapterOptions,
  type ErrorCode,
  type EventRecord,
  type PatientRecord,
  type SourceAdapter,
  type SourceInput,
  type SourceLocation,
} from '@caregaps/core';
import { matchesGlob } from './glob.js';
import { loadColumnMap, type ColumnMap, type DateFormat, type FieldSpec, type TableMap } from './column-map.js';

/** Options of the extract adapter: the column map (parsed, or a file path) and the common adapter options. */
export interface ExtractAdapterOptions extends AdapterOptions {
  columnMap: ColumnMap | string;
  /** Longest CSV record or NDJSON line accepted, in bytes (default 1 MiB). */
  maxRecordBytes?: number;
}

/** One parsed row: a CSV record by header name, or an NDJSON object. Only own properties are columns. */
type Row = Record<string, unknown>;

function cell(row: Row, column: string): unknown {
  return Object.hasOwn(row, column) ? row[column] : undefined;
}

const MONTHS: Record<string, string> = { JAN: '01', FEB: '02', MAR: '03', APR: '04', MAY: '05', JUN: '06', JUL: '07', AUG: '08', SEP: '09', OCT: '10', NOV: '11', DEC: '12' };

/** Whether text goes on after ten characters with " " or "T" and then no line break (the regular expression's `[T ].*`). */
function isTimeTail(text: string): boolean {
  if (text.length <= 10) return false;
  const c = text.charCodeAt(10);
  if (c !== 32 && c !== 84) return false;
  for (let i = 11; i < text.length; i++) {
    const d = text.charCodeAt(i);
    if (d === 10 || d === 13 || d === 0x2028 || d === 0x2029) return false;
  }
  return true;
}

/** YYYY-MM-DD from a date written in `format`, or undefined when it is not a real calendar date in the record range. */
export function parseDate(text: string, format: DateFormat): string | undefined {
  // The common form without a regular expression: an ISO date, alone or followed by " " or "T" and a time.
  if (format === 'YYYY-MM-DD' && (text.length === 10 || isTimeTail(text))) {
    const day = text.length === 10 ? text : text.slice(0, 10);
    return parseRecordDay(day) !== undefined ? day : undefined;
  }
  let m: RegExpExecArray | null;
  let day: string | undefined;
  switch (format) {
    case 'YYYY-MM-DD':
      m = /^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$/.exec(text);
      day = m?.[1];
      break;
    case 'DD/MM/YYYY':
    case 'DD.MM.YYYY':
      m = (format === 'DD/MM/YYYY' ? /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?: .*)?$/ : /^(\d{1,2})\.(\d{1,2})\.(\d{4})(?: .*)?$/).exec(text);
      if (m) day = `${m[3]}-${m[2]!.padStart(2, '0')}-${m[1]!.padStart(2, '0')}`;
      break;
    case 'YYYYMMDD':
      m = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
      if (m) day = `${m[1]}-${m[2]}-${m[3]}`;
      break;
    case 'DD-MMM-YYYY':
      m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
      if (m && MONTHS[m[2]!.toUpperCase()]) day = `${m[3]}-${MONTHS[m[2]!.toUpperCase()]}-${m[1]!.padStart(2, '0')}`;
      break;
  }
  return day !== undefined && parseRecordDay(day) !== undefined ? day : undefined;
}

class RowFault {
  constructor(
    readonly code: ErrorCode,
    readonly reason: string,
  ) {}
}

/** Compiled per table: reads each field from a row, translating values and dates. */
class TableReader {
  private readonly dateFormat: DateFormat;
  private readonly sourceKey: string;
  private readonly components: [string, FieldSpec][];

  constructor(
    readonly table: TableMap,
    map: ColumnMap,
    private readonly options: ExtractAdapterOptions,
    /** Patient key (e.g. an EMIS PatientGuid) → NHS number, filled by patient tables, read by event tables; `refused:<key>` → why a patient was quarantined. */
    private readonly keys: Map<string, string>,
  ) {
    this.dateFormat = table.dateFormat ?? map.dateFormat ?? 'YYYY-MM-DD';
    this.sourceKey = options.source ?? map.name;
    this.components = Object.entries(table.values ?? {});
  }

  private text(row: Row, spec: FieldSpec | undefined, name: string): string | undefined {
    if (!spec) return undefined;
    let raw: unknown = spec.value ?? cell(row, spec.column!);
    if (typeof raw === 'number' || typeof raw === 'boolean') raw = String(raw);
    else if (raw !== undefined && raw !== null && typeof raw !== 'string') throw new RowFault('CG_SOURCE_FIELD', `${name} (column ${spec.column}) holds ${Array.isArray(raw) ? 'a list' : 'an object'}, not a value`);
    let v = typeof raw === 'string' ? raw.trim() : '';
    if (v === '') v = spec.default ?? '';
    if (v === '') return undefined;
    if (spec.values) {
      const mapped = spec.values[v];
      if (mapped === undefined || !Object.hasOwn(spec.values, v)) {
        throw new RowFault('CG_SOURCE_FIELD', `${name} "${v.slice(0, 40)}" (column ${spec.column}) is not one of ${Object.keys(spec.values).join(', ')}`);
      }
      return mapped;
    }
    return v;
  }

  private required(row: Row, field: keyof TableMap['fields'], code: ErrorCode = 'CG_SOURCE_FIELD'): string {
    const spec = this.table.fields[field];
    const v = this.text(row, spec, field);
    if (v === undefined) throw new RowFault(code, `${field} is empty${spec?.column ? ` (column ${spec.column})` : ''}`);
    return v;
  }

  private date(row: Row, field: keyof TableMap['fields'], need: boolean): string | undefined {
    const spec = this.table.fields[field];
    const v = this.text(row, spec, field);
    if (v === undefined) {
      if (need) throw new RowFault('CG_SOURCE_DATE', `${field} is empty${spec?.column ? ` (column ${spec.column})` : ''}`);
      return undefined;
    }
    const format = spec?.format ?? this.dateFormat;
    const day = parseDate(v, format);
    if (day === undefined) throw new RowFault('CG_SOURCE_DATE', `${field} "${v.slice(0, 40)}" is not a real date in the form ${format}`);
    return day;
  }

  private number(row: Row, spec: FieldSpec | undefined, name: string): number | undefined {
    const v = this.text(row, spec, name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new RowFault('CG_SOURCE_FIELD', `${name} "${v.slice(0, 40)}" is not a number`);
    return n;
  }

  private nhsNumber(row: Row): string {
    const text = this.text(row, this.table.fields.nhsNumber, 'nhsNumber');
    const given = text !== undefined && text.length !== 10 ? text.replace(/\s+/g, '') : text;
    const key = this.text(row, this.table.fields.patientKey, 'patientKey');
    if (given !== undefined) {
      if (!isValidNhsNumber(given)) {
        if (key !== undefined && this.table.kind === 'patient') this.keys.set(`refused:${key}`, 'invalid NHS number');
        throw new RowFault('CG_SOURCE_NHS_NUMBER', `NHS number "${given.slice(0, 20)}" is not 10 digits with a valid Modulus 11 check digit`);
      }
      if (key !== undefined && this.table.kind === 'patient') this.keys.set(key, given);
      return given;
    }
    if (key !== undefined) {
      const known = this.keys.get(key);
      if (known !== undefined) return known;
      if (this.options.testNumbers) {
        const assigned = this.options.testNumbers.numberFor(`${this.sourceKey}:${key}`);
        if (this.table.kind === 'patient') this.keys.set(key, assigned);
        return assigned;
      }
      if (this.table.kind === 'event' && !this.table.fields.nhsNumber) {
        if (this.keys.get(`refused:${key}`) !== undefined) {
          throw new RowFault('CG_SOURCE_NHS_NUMBER', `the patient with key "${key.slice(0, 64)}" was quarantined: ${this.keys.get(`refused:${key}`)}`);
        }
        throw new RowFault('CG_SOURCE_REFERENCE', `patient key "${key.slice(0, 64)}" is not in a patient table read before this file`);
      }
    }
    const others = (this.table.otherIdentifiers ?? []).filter((c) => {
      const v = cell(row, c);
      return v !== undefined && v !== null && String(v).trim() !== '';
    });
    const fault = new RowFault('CG_SOURCE_NHS_NUMBER', `no NHS number${others.length ? `; the row identifies the patient by ${others.join(', ')}` : ''}`);
    if (key !== undefined && this.table.kind === 'patient') this.keys.set(`refused:${key}`, 'no NHS number');
    (fault as RowFault & { identifiers?: string[] }).identifiers = others;
    throw fault;
  }

  /** One row to one item. */
  read(row: Row, at: SourceLocation): AdapterItem {
    try {
      return this.table.kind === 'patient' ? this.patient(row, at) : this.event(row, at);
    } catch (error) {
      if (!(error instanceof RowFault)) throw error;
      const item: AdapterItem = { ok: false, code: error.code, reason: error.reason, at };
      const identifiers = (error as RowFault & { identifiers?: string[] }).identifiers;
      if (identifiers?.length) item.identifiers = identifiers;
      return item;
    }
  }

  private patient(row: Row, at: SourceLocation): AdapterItem {
    const nhsNumber = this.nhsNumber(row);
    const birthDate = this.date(row, 'birthDate', true)!;
    const sex = this.text(row, this.table.fields.sex, 'sex') ?? 'unknown';
    if (sex !== 'male' && sex !== 'female' && sex !== 'other' && sex !== 'unknown') {
      throw new RowFault('CG_SOURCE_FIELD', `sex "${sex.slice(0, 20)}" must map to male, female, other or unknown (use values: in the column map)`);
    }
    const practice = this.text(row, this.table.fields.practice, 'practice') ?? this.options.defaultPractice;
    if (practice === undefined) throw new RowFault('CG_SOURCE_PRACTICE', 'practice is empty and no default practice is set');
    const registeredFrom = this.date(row, 'registeredFrom', false);
    const record: PatientRecord = {
      kind: 'patient',
      nhsNumber,
      birthDate,
      sex,
      practice,
      registeredFrom: registeredFrom ?? birthDate,
      registeredTo: this.date(row, 'registeredTo', false) ?? null,
      deathDate: this.date(row, 'deathDate', false) ?? null,
    };
    const source = this.text(row, this.table.fields.source, 'source') ?? this.options.source;
    if (source !== undefined) record.source = source;
    const updated = this.text(row, this.table.fields.updated, 'updated');
    const item: AdapterItem = { ok: true, record, at };
    if (updated !== undefined) item.updated = updated;
    if (registeredFrom === undefined) item.registeredFromFirstRecord = true;
    return item;
  }

  private event(row: Row, at: SourceLocation): AdapterItem {
    const id = `${this.sourceKey}:${this.required(row, 'id')}`;
    at.recordId = id.length > 200 ? id.slice(0, 200) : id;
    const nhsNumber = this.nhsNumber(row);
    const source = this.text(row, this.table.fields.source, 'source') ?? this.options.source;
    const rw = this.table.retractWhen;
    if (rw) {
      const flag = cell(row, rw.column);
      if (flag !== undefined && flag !== null && rw.equals.includes(String(flag).trim())) {
        return { ok: true, record: { kind: 'retract', id, nhsNumber, ...(source !== undefined ? { source } : {}) }, at };
      }
    }
    const code = this.required(row, 'code', 'CG_SOURCE_CODE');
    const system = this.text(row, this.table.fields.system, 'system') ?? 'snomed';
    if (system === 'snomed' && !isSnomedConceptId(code)) throw new RowFault('CG_SOURCE_CODE', `code "${code.slice(0, 40)}" is not a SNOMED CT concept id; map the system column`);
    const date = this.date(row, 'date', true)!;
    const value = this.number(row, this.table.fields.value, 'value');
    const unit = this.text(row, this.table.fields.unit, 'unit');
    // Most codes have no map row: look first, so that they need no normalised copy.
    const maps = this.options.maps;
    const n = maps !== undefined && maps.lookup(system, code, unit) !== undefined ? maps.normalise(system, code, value, unit) : undefined;
    if (n?.overflow !== undefined) throw new RowFault('CG_SOURCE_FIELD', n.overflow);
    const event: EventRecord = { kind: 'event', id, nhsNumber, code: n?.code ?? code, date };
    let values: Record<string, number> | undefined;
    if (n) {
      if (n.system !== undefined) event.system = n.system;
      if (n.component !== undefined) {
        if (n.value !== undefined) (values ??= {})[n.component] = n.value;
      } else {
        if (n.value !== undefined) event.value = n.value;
        if (n.unit !== undefined) event.unit = n.unit;
      }
    } else {
      if (system !== 'snomed') event.system = system;
      if (value !== undefined) event.value = value;
      if (unit !== undefined) event.unit = unit;
    }
    for (const [name, spec] of this.components) {
      const v = this.number(row, spec, name);
      if (v !== undefined) (values ??= {})[name] = v;
    }
    if (values) event.values = values;
    if (source !== undefined) event.source = source;
    return { ok: true, record: event, at };
  }
}

function formatOf(table: TableMap, name: string): 'csv' | 'ndjson' {
  return table.format ?? (/\.(nd)?jsonl?$/i.test(name) ? 'ndjson' : 'csv');
}

/**
 * Reads flat extracts (CSV or NDJSON) as a column map describes them, streaming, one item per row (a record, or a
 * quarantine naming the file, line and reason), a batch per chunk of input.
 */
export async function* readExtractBatches(inputs: readonly SourceInput[], options: ExtractAdapterOptions): AsyncGenerator<AdapterItem[]> {
  const map = typeof options.columnMap === 'string' ? loadColumnMap(options.columnMap) : options.columnMap;
  const keys = new Map<string, string>();
  const tables = map.tables.map((t) => ({ reader: new TableReader(t, map, options, keys), pattern: t.files }));
  const tableOf = (input: SourceInput) => tables.find((t) => t.pattern === undefined || matchesGlob(t.pattern, basename(inputName(input))));
  // Patient tables first, so event rows that name the patient by a key find the NHS number.
  const ordered = inputs
    .map((input, i) => ({ input, i, patient: tableOf(input)?.reader.table.kind === 'patient' }))
    .sort((a, b) => Number(b.patient) - Number(a.patient) || a.i - b.i);
  for (const { input } of ordered) {
    const file = inputName(input);
    const chosen = tableOf(input);
    if (!chosen) {
      yield [{ ok: false, code: 'CG_MAP_FORMAT', reason: `no table of column map ${map.name} matches the file name ${basename(file)}`, at: { file } }];
      continue;
    }
    try {
      if (formatOf(chosen.reader.table, file) === 'ndjson') yield* readNdjson(input, file, chosen.reader, options);
      else yield* readCsv(input, file, chosen.reader, options);
    } catch (error) {
      yield [{ ok: false, code: 'CG_INPUT', reason: (error as Error).message, at: { file } }];
    }
  }
}

/** `readExtractBatches`, one item at a time. */
export function readExtract(inputs: readonly SourceInput[], options: ExtractAdapterOptions): AsyncGenerator<AdapterItem> {
  return itemsOf(readExtractBatches(inputs, options));
}

async function* readNdjson(input: SourceInput, file: string, reader: TableReader, options: ExtractAdapterOptions): AsyncGenerator<AdapterItem[]> {
  for await (const lines of jsonObjectBatches(input, options.maxRecordBytes ?? 1 << 20, 'maxRecordBytes')) {
    yield lines.map((item) => {
      if (!item.ok) return item;
      const { object, line } = item;
      return reader.read(object, { file, line });
    });
  }
}

async function* readCsv(input: SourceInput, file: string, reader: TableReader, options: ExtractAdapterOptions): AsyncGenerator<AdapterItem[]> {
  // Row size is checked after parsing: csv-parse's own max_record_size stops the whole parse at the first big row.
  const maxRecord = options.maxRecordBytes ?? 1 << 20;
  for await (const rows of csvRows(inputChunks(input), reader.table.delimiter ?? ',')) {
    const batch: AdapterItem[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      if (row.record === undefined) {
        batch[i] = { ok: false, code: row.notUtf8 ? 'CG_SOURCE_ENCODING' : 'CG_SOURCE_PARSE', reason: row.notUtf8 ? row.error : `CSV: ${row.error}`, at: { file, ...(row.line !== undefined ? { line: row.line } : {}) } };
        continue;
      }
      let size = 0;
      for (const key in row.record) size += row.record[key]!.length;
      if (size > maxRecord) batch[i] = { ok: false, code: 'CG_SOURCE_PARSE', reason: `row of ${size} characters exceeds maxRecordBytes`, at: { file, line: row.line } };
      else batch[i] = reader.read(row.record, { file, line: row.line });
    }
    yield batch;
  }
}

/** One CSV row by header name, with the line it ends on; or a row that is not CSV (or not UTF-8), with the reason. */
export type CsvRow =
  | { line: number; record: Record<string, string>; error?: undefined }
  | { line: number | undefined; record?: undefined; error: string; notUtf8?: true };

/**
 * The rows of a CSV stream (header first; empty lines skipped; a batch per chunk), as csv-parse reads them with
 * `columns` (trimmed header names), `skip_records_with_error` and `skip_empty_lines`. Lines are cut first by
 * `lineBatches`: LF, CRLF and lone CR in any mix each end a line (inside a quoted field they become LF), and a row
 * holding a line that is not UTF-8 is refused whole, so a bad byte never turns one row into another. Plain lines (no
 * quote, the header's number of fields) are split here, which is several times faster; from the first line that is
 * not plain to the end of the input, csv-parse reads the text, its line numbers kept by feeding it the lines already
 * read as empty lines. `plain: false` sends everything to csv-parse (the reference the fast path is tested against).
 */
export async function* csvRows(chunks: AsyncIterable<string | Uint8Array>, delimiter: string, plain = true): AsyncGenerator<CsvRow[]> {
  // A delimiter that is or holds a quote or a line break is left to csv-parse.
  const splitHere = plain && delimiter !== '' && !/["\r\n]/.test(delimiter);
  let batch: CsvRow[] = [];
  /** Rows csv-parse refused while reading the current chunk (it reports them as it meets them, before its rows are read). */
  let refused: CsvRow[] = [];
  let parser: ReturnType<typeof parseCsv> | undefined;
  let failure: Error | undefined;
  let header: string[] | undefined;
  let line = 0;
  /** Lines that are not UTF-8, in order, not yet matched to the row that holds them. */
  const notUtf8: number[] = [];
  let headerLine: number | undefined;
  const startParser = (text: string) => {
    const columns = header;
    parser = parseCsv({
      bom: true,
      columns: columns ?? ((names: string[]) => names.map((h) => h.trim())),
      info: true,
      skip_records_with_error: true,
      skip_empty_lines: true,
      delimiter,
      record_delimiter: '\n',
    });
    parser.on('skip', (error: CsvError & { lines?: number }) => refused.push({ line: error.lines, error: error.message }));
    parser.on('error', (error: Error) => (failure = error));
    // The lines read here come first, as empty lines: csv-parse counts them, so its line numbers stay the file's.
    if (line > 0) parser.write('\n'.repeat(line));
    if (text !== '') parser.write(text);
  };
  /** A row is refused whole when a line in it is not UTF-8 (rows come in order, so such lines up to its end are its own). */
  const checked = (row: CsvRow): CsvRow => {
    if (row.line === undefined) return row;
    let bad: number | undefined;
    while (notUtf8.length > 0 && notUtf8[0]! <= row.line) bad ??= notUtf8.shift();
    return bad === undefined ? row : { line: row.line, error: `line ${bad} is not valid UTF-8`, notUtf8: true };
  };
  // Each chunk is written and the parsed rows drained at once (paused mode), so a chunk's rows form one batch.
  const drain = () => {
    if (parser) {
      // Rows and refusals in file order: a refusal goes before the first row that ends after its line.
      let next = 0;
      let parsed: { record: Record<string, string>; info: { lines: number } } | null;
      while ((parsed = parser.read() as typeof parsed) !== null) {
        const at = parsed.info.lines;
        while (next < refused.length && (refused[next]!.line ?? 0) < at) batch.push(refused[next++]!);
        batch.push({ line: at, record: parsed.record });
      }
      while (next < refused.length) batch.push(refused[next++]!);
      refused = [];
      if (failure) throw failure;
    }
    const full = batch;
    batch = [];
    if (notUtf8.length > 0) for (let i = 0; i < full.length; i++) full[i] = checked(full[i]!);
    return full;
  };
  /** Reads one line (without its line break) here, or returns false: a line to leave to csv-parse. */
  const plainLine = (text: string): boolean => {
    if (text.indexOf('"') !== -1) return false;
    if (text === '') return header !== undefined;
    const fields = text.split(delimiter);
    if (header === undefined) {
      // A second byte-order mark is csv-parse's to remove (its bom option), and a name it would make is left to it too.
      const names = fields.map((h) => h.trim());
      if (text.charCodeAt(0) === 0xfeff || names.includes('__proto__')) return false;
      header = names;
      return true;
    }
    if (fields.length !== header.length) return false;
    const record: Record<string, string> = {};
    for (let i = 0; i < fields.length; i++) record[header[i]!] = fields[i]!;
    batch.push({ line: line + 1, record });
    return true;
  };
  for await (const lines of lineBatches(chunks, Number.MAX_SAFE_INTEGER)) {
    for (const l of lines) {
      if (headerLine === undefined && l.text.trim() !== '') {
        headerLine = l.line;
        // The header is no row: a bad one is reported on its own, and the rows after it are read by its names.
        if (l.invalidUtf8) batch.push({ line: l.line, error: 'the header line is not valid UTF-8', notUtf8: true });
      } else if (l.invalidUtf8) notUtf8.push(l.line);
    }
    if (parser) parser.write(lines.map((l) => l.text + '\n').join(''));
    else if (!splitHere) startParser(lines.map((l) => l.text + '\n').join(''));
    else {
      for (let i = 0; i < lines.length; i++) {
        if (!plainLine(lines[i]!.text)) {
          startParser(lines.slice(i).map((l) => l.text + '\n').join(''));
          break;
        }
        line++;
      }
    }
    yield drain();
  }
  if (parser) await new Promise<void>((resolve) => parser!.end(resolve));
  const last = drain();
  // A bad line no row ended after (inside a quoted field left open at the end of the file) is still reported.
  for (const n of notUtf8.splice(0)) last.push({ line: n, error: `line ${n} is not valid UTF-8`, notUtf8: true });
  yield last;
}

/** The flat-extract source adapter. Register it with `AdapterRegistry`, or call `readExtract` directly. */
export const extractAdapter: SourceAdapter<ExtractAdapterOptions> = {
  meta: {
    name: 'gp-extract',
    version: '0.1.0',
    engine: '^0.1.0',
    reads: ['csv', 'ndjson'],
    description: 'Flat CSV and NDJSON extracts from GP systems, described by a YAML or JSON column map.',
  },
  read: readExtract,
  readBatches: readExtractBatches,
};
