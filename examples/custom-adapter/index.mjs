// A third-party source adapter, written against @caregaps/core alone:
//   1. `meta` says what the adapter is (name, version, the core versions it supports, what it reads), apart from `read`;
//   2. `read` yields one item per feed line: a record, or a quarantine with the file, line and reason;
//   3. the host registers it (checked at registration), reads the feed through the registry (every record checked
//      against record format v1), links it with GP demographics, and evaluates DM020.
// Run from the repository root after `pnpm build`:  node examples/custom-adapter/index.mjs
import { fileURLToPath } from 'node:url';
import {
  AdapterRegistry,
  Linker,
  PatientStore,
  evaluatePopulation,
  inputName,
  loadNormalisationMaps,
  loadRegistries,
  preparedPatients,
  sourceLines,
  inputChunks,
} from '@caregaps/core';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const root = (path) => here(`../../${path}`);

/** ACME Pathology's pipe-delimited results feed. Status X = cancelled; a cancelled result does not count. */
export const acmeLabAdapter = {
  meta: { name: 'acme-lab', version: '1.0.0', engine: '^0.1.0', reads: ['acme-lab-results'], description: 'ACME Pathology results feed' },
  async *read(inputs, options) {
    for (const input of inputs) {
      const file = inputName(input);
      for await (const { line, text } of sourceLines(inputChunks(input))) {
        if (text.trim() === '' || text.startsWith('#')) continue;
        const at = { file, line };
        const [accession, nhsNumber, collected, test, value, unit, status, ...extra] = text.split('|');
        if (extra.length || status === undefined) {
          yield { ok: false, code: 'CG_SOURCE_PARSE', reason: 'expected 7 fields separated by |', at };
          continue;
        }
        at.recordId = `acme-lab:${accession}`;
        if (status === 'X') {
          yield { ok: false, code: 'CG_SOURCE_NOT_DONE', reason: `result ${accession} was cancelled`, at };
          continue;
        }
        const date = /^\d{8}$/.test(collected) ? `${collected.slice(0, 4)}-${collected.slice(4, 6)}-${collected.slice(6)}` : undefined;
        if (!date) {
          yield { ok: false, code: 'CG_SOURCE_DATE', reason: `collected "${collected}" is not YYYYMMDD`, at };
          continue;
        }
        // Local test codes are kept under their own system; the normalisation map turns known ones into SNOMED CT.
        const n = options.maps.normalise('local:acme-lab', test, Number(value), unit);
        const record = { kind: 'event', id: `acme-lab:${accession}`, nhsNumber, code: n.code, date, source: options.source };
        if (n.system) record.system = n.system;
        if (n.value !== undefined) record.value = n.value;
        if (n.unit !== undefined) record.unit = n.unit;
        // An invalid NHS number is not checked here: the registry's check (record format v1) quarantines it.
        yield { ok: true, record, at };
      }
    }
  },
};

export async function runExample({ log = console.log } = {}) {
  const registry = new AdapterRegistry().register(acmeLabAdapter);
  const maps = loadNormalisationMaps(here('./maps'));
  const linker = new Linker();
  const store = new PatientStore();
  const quarantined = [];
  // GP demographics, as another adapter would deliver them (here written out directly).
  for (const [nhsNumber, birthDate] of [['9434765919', '1957-03-02'], ['9990000026', '1970-11-14']]) {
    linker.accept({ ok: true, at: {}, record: { kind: 'patient', nhsNumber, birthDate, sex: 'female', practice: 'F83004', registeredFrom: '2001-05-01', source: 'F83004' } });
    const diagnosis = linker.accept({ ok: true, at: {}, record: { kind: 'event', id: `F83004:dm:${nhsNumber}`, nhsNumber, code: '44054006', date: '2015-03-01', source: 'F83004' } });
    store.apply(diagnosis);
  }
  const lab = [];
  for await (const item of registry.read('acme-lab', [here('./feed.txt')], { maps, source: 'RAL01' })) {
    if (!item.ok) {
      quarantined.push(item);
      log(`quarantined ${item.at.file.split('/').pop()}:${item.at.line}: ${item.reason} [${item.code}]`);
      continue;
    }
    lab.push(item.record);
    const record = linker.accept(item);
    if (record) store.apply(record);
  }
  for (const patient of linker.finish().records) store.apply(patient);
  const { index, compiled } = loadRegistries(root('registries'), root('codesets'), ['diabetes']);
  const results = [...evaluatePopulation(preparedPatients(store, index), compiled, '2025-03-31')];
  for (const r of results) log(`${r.nhsNumber}: DM020 ${r.indicators.DM020}`);

  let refused;
  try {
    new AdapterRegistry().register({ ...acmeLabAdapter, meta: { ...acmeLabAdapter.meta, engine: '^2.0.0' } });
  } catch (error) {
    refused = error.code;
    log(`an adapter built for core ^2.0.0 is refused: ${error.code}`);
  }
  return { lab, quarantined, results, refused };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runExample();
