/**
 * Bundle size (issue 13, item 7; test plan A4): a Bundle over streamFromBytes is read as a stream, one entry at a
 * time, giving what a whole parse gives; one over maxBundleBytes is quarantined unread. Figures: time, RSS growth and
 * the longest event-loop block while a 57 MB Bundle is read.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckedBatches, type AdapterItem } from '@caregaps/core';
import { STREAM_FROM_BYTES, fhirAdapter } from '@caregaps/fhir';
import { measureLoad } from '../../core/test/load-probe.js';

const DIR = mkdtempSync(join(tmpdir(), 'caregaps-bundle-'));

function bundleOf(observations: number): string {
  const entry: unknown[] = [
    {
      fullUrl: 'urn:uuid:p1',
      resource: { resourceType: 'Patient', id: 'p1', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765919' }], birthDate: '1957-03-02', gender: 'female' },
    },
  ];
  for (let i = 0; i < observations; i++) {
    entry.push({
      fullUrl: `urn:uuid:o${i}`,
      resource: {
        resourceType: 'Observation',
        id: `o${i}`,
        status: 'final',
        subject: { reference: 'urn:uuid:p1' },
        code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006', display: 'Diabetes mellitus type 2 (disorder)' }], text: 'Type 2 diabetes mellitus' },
        effectiveDateTime: '2020-01-01T10:00:00Z',
        note: [{ text: 'x'.repeat(300) }],
      },
    });
  }
  return JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry });
}

/** Reads the file, measuring the time, the longest event-loop block and the RSS growth. */
async function readMeasured(file: string, options = {}): Promise<{ items: AdapterItem[]; blockMs: number; ms: number; rssGrowthMb: number }> {
  const { result: items, blockMs, ms, rssGrowthMb } = await measureLoad(async () => {
    const items: AdapterItem[] = [];
    for await (const batch of readCheckedBatches(fhirAdapter, [file], { defaultPractice: 'F83004', ...options })) items.push(...batch);
    return items;
  });
  return { items, blockMs, ms, rssGrowthMb };
}

const outcome = (i: AdapterItem) => (i.ok ? JSON.stringify(i.record) : `${i.code} ${i.at.pointer ?? ''}`);

describe('Bundle size', () => {
  it('a 57 MB Bundle is streamed: every entry read, heap and event-loop block bounded', async () => {
    const file = join(DIR, 'large.json');
    let text = bundleOf(86_000);
    writeFileSync(file, text);
    const megabytes = Buffer.byteLength(text) / 1e6;
    text = '';
    expect(megabytes).toBeGreaterThan(STREAM_FROM_BYTES / 1e6);
    const { items, blockMs, ms, rssGrowthMb } = await readMeasured(file);
    const accepted = items.filter((i) => i.ok).length;
    console.log(
      `Bundle of ${megabytes.toFixed(0)} MB (86,001 resources), streamed: accepted ${accepted}; quarantined ${items.length - accepted}; ` +
        `read in ${(ms / 1000).toFixed(1)} s; longest event-loop block ${blockMs.toFixed(0)} ms; RSS growth ${rssGrowthMb.toFixed(0)} MB`,
    );
    expect(accepted).toBe(86_001);
    expect(rssGrowthMb).toBeLessThan(megabytes * 3);
    expect(blockMs).toBeLessThan(1000);
  });

  it('streaming gives exactly what parsing the whole Bundle gives; maxBundleBytes refuses a larger one unread', async () => {
    const file = join(DIR, 'medium.json');
    const doc = JSON.parse(bundleOf(3_000));
    // Entries that are not resources, a DELETE, a nested Bundle and a second Patient for the same id with another
    // NHS number, so both ways meet every kind of entry.
    doc.entry.push({ request: { method: 'DELETE' } }, {}, { resource: { resourceType: 'Bundle', type: 'collection', entry: [doc.entry[5]] } });
    doc.entry.push({ resource: { ...doc.entry[0].resource, identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765870' }] } });
    writeFileSync(file, JSON.stringify(doc));
    const whole = await readMeasured(file);
    const streamed = await readMeasured(file, { streamFromBytes: 1 << 16 });
    console.log(`Bundle of ${(JSON.stringify(doc).length / 1e6).toFixed(1)} MB: whole parse ${whole.ms.toFixed(0)} ms, longest block ${whole.blockMs.toFixed(0)} ms; streamed ${streamed.ms.toFixed(0)} ms, longest block ${streamed.blockMs.toFixed(0)} ms; items differing 0 of ${whole.items.length}`);
    expect(streamed.items.map(outcome)).toEqual(whole.items.map(outcome));
    expect(whole.items.filter((i) => !i.ok).map((i) => !i.ok && i.code).sort()).toEqual(['CG_SOURCE_CONFLICT', 'CG_SOURCE_FIELD', 'CG_SOURCE_UNSUPPORTED']);
    const refused = await readMeasured(file, { maxBundleBytes: 1 << 20 });
    expect(refused.items.map((i) => (i.ok ? 'ok' : i.code))).toEqual(['CG_SOURCE_TOO_LARGE']);
    expect(refused.ms).toBeLessThan(1000);
  });

  it('a large document that is not a Bundle, or not JSON, is one quarantine for the file', async () => {
    const single = join(DIR, 'single.json');
    writeFileSync(single, JSON.stringify({ resourceType: 'Observation', id: 'x', note: [{ text: 'x'.repeat(200_000) }] }));
    expect((await readMeasured(single, { streamFromBytes: 1 << 16 })).items.map((i) => (i.ok ? 'ok' : i.code))).toEqual(['CG_SOURCE_TOO_LARGE']);
    const broken = join(DIR, 'broken.json');
    writeFileSync(broken, bundleOf(500).slice(0, -5000));
    expect((await readMeasured(broken, { streamFromBytes: 1 << 16 })).items.map((i) => (i.ok ? 'ok' : i.code))).toEqual(['CG_SOURCE_PARSE']);
  });
});
