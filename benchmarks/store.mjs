// The record store against LMDB's own put floor, side by side in one run: raw LMDB puts (binary values, object values
// encoded by lmdb-js's msgpack, and the store's own layout — two puts per new event — with nothing else), and
// RecordStore batches (received bytes stored as they are, and parsed records encoded once as JSON), each in
// transactions of one batch committed durably, on one thread. Reports records/s, B-tree entries per record and the
// store file's bytes per record.
// Usage: node benchmarks/store.mjs [records=400000] [batchSize=4096] [runs=5] [--patients <n>] [--baseline <dist>]
//        [--no-sync]
//   --patients <n>    the generated population of n patients at 100 records each (benchmarks/.data) instead of the
//                     built-in feed: `node benchmarks/store.mjs --patients <n> [batchSize] [runs]`
//   --baseline <dir>  also runs the RecordStore of another build of @caregaps/engine (its dist/index.js), for a
//                     before/after figure from one run
//   --no-sync         every variant commits without flushing (LMDB noSync): the CPU cost alone, without the disk's
//                     flush latency (a baseline build without the noSync option still flushes)
// (needs `pnpm build`; results go to benchmarks/.data/results unless `--save`)
// `storeBenchmark(records, options)` is exported for the engine benchmark, which passes its own records.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { withCheckDigit } from '@caregaps/core';
import { open } from 'lmdb';
import { RecordStore, partitionFile } from '../packages/engine/dist/index.js';
import { load, median, population, writeResults } from './lib.mjs';

/**
 * Measures records/s for each way of writing `records` (objects in record format v1). Each run writes into a fresh
 * store in a temporary directory (removed after). Returns medians and every run, and per variant the store file's
 * bytes per record and the B-tree entries written per record (from the last run).
 */
export async function storeBenchmark(records, { batchSize = 4096, runs = 5, directory = tmpdir(), baseline, noSync = false } = {}) {
  const bytes = records.map((r) => Buffer.from(JSON.stringify(r)));
  const keys = records.map((r) => (r.kind === 'patient' ? r.nhsNumber : `${r.source ?? ''}\u0000${r.id}`));
  const footprint = {};
  const fresh = async (name, write) => {
    const dir = mkdtempSync(join(directory, 'caregaps-store-bench-'));
    try {
      const { rate, file, entries } = await write(dir);
      footprint[name] = { bytesPerRecord: Math.round(statSync(file).size / records.length), entriesPerRecord: Number((entries / records.length).toFixed(3)) };
      return rate;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const rate = (ms) => Math.round(records.length / (ms / 1000));
  const timed = (fn) => {
    const t = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const batches = (fn) => {
    for (let i = 0; i < records.length; i += batchSize) fn(i, Math.min(i + batchSize, records.length));
  };
  const rawEnv = (dir) => open({ path: join(dir, 'raw.mdb'), overlappingSync: false, maxDbs: 2, noSync });
  const raw = (encoding, value) => async (dir) => {
    const env = rawEnv(dir);
    const db = env.openDB({ name: 'records', encoding });
    const ms = timed(() => batches((from, to) => env.transactionSync(() => {
      for (let j = from; j < to; j++) db.putSync(keys[j], value(j));
    })));
    const entries = db.getStats().entryCount;
    await env.close();
    return { rate: rate(ms), file: join(dir, 'raw.mdb'), entries };
  };
  // The store's layout with nothing else: per event an identity inserted with no-overwrite (id, source → patient,
  // handle) and the record under patient + handle; per patient record one put.
  const rawLayout = async (dir) => {
    const env = rawEnv(dir);
    const recordsDb = env.openDB({ name: 'records', encoding: 'binary', keyEncoding: 'binary' });
    const identities = env.openDB({ name: 'identities', encoding: 'binary', keyEncoding: 'binary' });
    const noOverwrite = { noOverwrite: true };
    let handle = 0;
    const ms = timed(() => batches((from, to) => env.transactionSync(() => {
      for (let j = from; j < to; j++) {
        const r = records[j];
        if (r.kind === 'patient') {
          recordsDb.putSync(Buffer.from(r.nhsNumber, 'latin1'), bytes[j]);
          continue;
        }
        const value = Buffer.allocUnsafe(14);
        value.write(r.nhsNumber, 0, 'latin1');
        value.writeUInt32LE(handle, 10);
        identities.putSync(Buffer.from(keys[j]), value, noOverwrite);
        const key = Buffer.allocUnsafe(14);
        key.write(r.nhsNumber, 0, 'latin1');
        key.writeUInt32BE(handle++, 10);
        recordsDb.putSync(key, bytes[j]);
      }
    })));
    const entries = recordsDb.getStats().entryCount + identities.getStats().entryCount;
    await env.close();
    return { rate: rate(ms), file: join(dir, 'raw.mdb'), entries };
  };
  // Each RecordStore variant also reads everything back with patients() (the replay a rebuild does).
  const replays = {};
  const store = (Store, withBytes, name) => async (dir) => {
    const s = Store.open({ directory: dir, noSync });
    const ms = timed(() => batches((from, to) => s.writeSync({ records: records.slice(from, to), ...(withBytes ? { bytes: bytes.slice(from, to) } : {}) })));
    const entries = Object.entries(s.counts).reduce((n, [db, c]) => (db === 'meta' ? n : n + c), 0);
    let read = 0;
    const replayMs = timed(() => {
      for (const p of s.patients()) read += (p.patient ? 1 : 0) + p.events.length + p.retractions.length;
    });
    (replays[name] ??= []).push(Math.round(read / (replayMs / 1000)));
    await s.close();
    return { rate: rate(ms), file: partitionFile(dir), entries };
  };
  const variants = {
    rawBinary: raw('binary', (j) => bytes[j]),
    rawObject: raw('msgpack', (j) => records[j]),
    rawLayout,
    storeBytes: store(RecordStore, true, 'storeBytes'),
    storeObjects: store(RecordStore, false, 'storeObjects'),
    ...(baseline ? { baselineBytes: store(baseline, true, 'baselineBytes') } : {}),
  };
  const all = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let run = 0; run <= runs; run++) {
    // Interleaved, so that a change of machine load touches every variant alike; run 0 is a warm-up.
    for (const [name, write] of Object.entries(variants)) {
      const r = await fresh(name, write);
      if (run > 0) all[name].push(r);
    }
  }
  const medians = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, median(v)]));
  // The warm-up's replay is left out, as its write is.
  const replay = Object.fromEntries(Object.entries(replays).map(([k, v]) => [k, { median: median(v.slice(1)), all: v.slice(1) }]));
  return { records: records.length, batchSize, runs, noSync, medians, all, footprint, replay, load: loadavg() };
}

/** Records shaped like a GP feed: per patient one patient record and `perPatient` events (codes from DESIGN §3.1). */
function feed(count, perPatient = 100) {
  const codes = ['44054006', '999791000000106', '163020007', '320030001'];
  const out = [];
  for (let stem = 900_000_000; out.length < count; stem++) {
    const nhsNumber = withCheckDigit(stem);
    if (nhsNumber === undefined) continue;
    out.push({ kind: 'patient', nhsNumber, birthDate: '1960-01-01', sex: 'female', practice: 'F83004', registeredFrom: '2001-05-01', source: 'F83004' });
    for (let e = 0; e < perPatient && out.length < count; e++) {
      const day = String(1 + (e % 28)).padStart(2, '0');
      const month = String(1 + (e % 12)).padStart(2, '0');
      out.push({ kind: 'event', id: `F83004:obs:${stem}:${e}`, nhsNumber, code: codes[e % codes.length], date: `20${15 + (e % 10)}-${month}-${day}`, value: 40 + (e % 30), unit: 'mmol/mol', source: 'F83004' });
    }
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const flag = (name) => {
    const at = args.indexOf(name);
    if (at < 0) return undefined;
    const value = args[at + 1];
    args.splice(at, 2);
    return value;
  };
  const patients = flag('--patients');
  const baselineDist = flag('--baseline');
  const noSync = args.includes('--no-sync');
  if (noSync) args.splice(args.indexOf('--no-sync'), 1);
  // With --patients the population gives the records: the positional arguments are then [batchSize] [runs].
  const given = patients ? [undefined, ...args] : args;
  const [count, batchSize, runs] = [400_000, 4096, 5].map((fallback, i) => Number(given[i] ?? fallback));
  const records = patients
    ? readFileSync((await population(Number(patients), 100)).records, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line))
    : feed(count);
  const baseline = baselineDist ? (await import(pathToFileURL(join(resolve(baselineDist), 'index.js')).href)).RecordStore : undefined;
  const before = load();
  const result = await storeBenchmark(records, { batchSize, runs, baseline, noSync });
  const m = result.medians;
  const fp = result.footprint;
  const fmt = (n) => n.toLocaleString('en-GB');
  const row = (label, key) => [
    label,
    fmt(m[key]),
    result.all[key].map(fmt).join(', '),
    (m[key] / m.rawBinary).toFixed(2),
    String(fp[key].entriesPerRecord),
    String(fp[key].bytesPerRecord),
    result.replay[key] ? fmt(result.replay[key].median) : '',
  ];
  const source = patients ? `the generated population of ${fmt(Number(patients))} patients (benchmarks/.data, seed 1)` : 'the built-in feed (1 patient record per 100 events)';
  writeResults('store', {
    title: 'Record store: LMDB put floor and RecordStore batches',
    command: `node benchmarks/store.mjs ${patients ? `--patients ${patients}` : count} ${batchSize} ${runs}${baselineDist ? ` --baseline ${baselineDist}` : ''}${noSync ? ' --no-sync' : ''}`,
    table: [
      ['writer', 'records/s (median)', 'runs', 'vs raw binary put', 'B-tree entries per record', 'file bytes per record', 'patients() replay, records/s (median)'],
      row('raw LMDB put, binary value (received bytes)', 'rawBinary'),
      row('raw LMDB put, object value (msgpack)', 'rawObject'),
      row("raw LMDB puts in the store's layout (identity no-overwrite + record)", 'rawLayout'),
      row('RecordStore.writeSync, received bytes given', 'storeBytes'),
      row('RecordStore.writeSync, parsed records (JSON once)', 'storeObjects'),
      ...(baseline ? [row(`baseline RecordStore (${baselineDist}), received bytes given`, 'baselineBytes')] : []),
    ],
    notes: [
      `${fmt(records.length)} records from ${source}, transactions of ${batchSize} records, each committed ${noSync ? 'without flushing (--no-sync: the CPU cost alone)' : 'durably (fsync)'} before the next; one thread; medians of ${runs} runs after a warm-up, variants interleaved.`,
      'RecordStore per new event: one no-overwrite insert of the identity (which finds out that it is new, with no read), one put of the record under its patient and handle, a CRC-32 over key and value of each (one call each, keys and values built in one reused buffer). A redelivered identity adds one read and the decision. Per patient record: one read and one put.',
      `Load average (1, 5, 15 min) before: ${before.join(', ')}; after: ${load().join(', ')} (2 cores shared with other sessions).`,
    ],
    data: result,
  });
}
