/**
 * Bundle size (issue 13, item 7; test plan A4): a Bundle over maxBundleBytes is quarantined unread, and one under it
 * is mapped in batches with the event loop released between them. Figures: time to refuse, heap growth, largest
 * event-loop block while a large Bundle is read.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckedBatches, type AdapterItem } from '@caregaps/core';
import { MAX_BUNDLE_BYTES, fhirAdapter } from '@caregaps/fhir';
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
async function readMeasured(file: string, options = {}): Promise<{ items: AdapterItem[]; blockMs: number; ms: number }> {
  const { result: items, blockMs, ms } = await measureLoad(async () => {
    const items: AdapterItem[] = [];
    for await (const batch of readCheckedBatches(fhirAdapter, [file], { defaultPractice: 'F83004', ...options })) items.push(...batch);
    return items;
  });
  return { items, blockMs, ms };
}

describe('Bundle size', () => {
  it('a 57 MB Bundle is quarantined as CG_SOURCE_TOO_LARGE without being read', async () => {
    const file = join(DIR, 'large.json');
    let text = bundleOf(86_000);
    writeFileSync(file, text);
    const megabytes = Buffer.byteLength(text) / 1e6;
    text = '';
    expect(megabytes).toBeGreaterThan(MAX_BUNDLE_BYTES / 1e6);
    const heapBefore = process.memoryUsage().heapUsed;
    const { items, ms } = await readMeasured(file);
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    console.log(`Bundle of ${megabytes.toFixed(0)} MB: ${items.map((i) => (i.ok ? 'ok' : i.code)).join(', ')} in ${ms.toFixed(0)} ms; heap growth ${heapMb.toFixed(1)} MB`);
    expect(items.map((i) => (i.ok ? 'ok' : i.code))).toEqual(['CG_SOURCE_TOO_LARGE']);
    expect(items[0]!.at.file).toBe(file);
    expect(ms).toBeLessThan(1000);
    expect(heapMb).toBeLessThan(50);
  });

  it('the limit is an option, and a large Bundle under it is mapped without blocking the event loop for long', async () => {
    const file = join(DIR, 'medium.json');
    const text = bundleOf(12_000);
    writeFileSync(file, text);
    const megabytes = Buffer.byteLength(text) / 1e6;
    expect((await readMeasured(file, { maxBundleBytes: 1 << 20 })).items.map((i) => (i.ok ? 'ok' : i.code))).toEqual(['CG_SOURCE_TOO_LARGE']);
    const { items, blockMs, ms } = await readMeasured(file);
    const accepted = items.filter((i) => i.ok).length;
    console.log(`Bundle of ${megabytes.toFixed(1)} MB (12,001 resources): accepted ${accepted}; quarantined ${items.length - accepted}; read in ${ms.toFixed(0)} ms; longest event-loop block ${blockMs.toFixed(0)} ms`);
    expect(accepted).toBe(12_001);
    // The parse of the whole document is one block; mapping adds only batch-sized ones.
    expect(blockMs).toBeLessThan(ms);
  });
});
