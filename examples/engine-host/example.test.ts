import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadRegistries } from '@caregaps/core';
import { Engine } from '@caregaps/engine';
import { expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript example, imported as users would run it
import { runHost } from './index.mjs';

interface HostRun {
  storeDirectory: string;
  accepted: number;
  registerSize: number;
  closedByResult: number;
  why: { value: number; records: string[] };
  openedByTime: number;
  before: { met: number; gap: number; achievement: number };
  after: { met: number; gap: number; achievement: number };
  worklistSize: number;
  engineGaps: number;
  asOf: string;
}

it('reacts to gaps closing on a new record and opening as time passes, and resumes from its store', async () => {
  const r = (await runHost({ days: 30 })) as HostRun;
  try {
    expect(r.registerSize).toBeGreaterThan(0);
    expect(r.closedByResult).toBe(1);
    expect(r.why).toEqual({ value: 48, records: ['lab:hba1c:1'] });
    expect(r.openedByTime).toBeGreaterThan(0);
    expect(r.after.achievement).toBeLessThan(r.before.achievement);
    expect(r.worklistSize).toBe(r.engineGaps);
    expect(r.asOf).toBe('2025-04-30');
    const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
    const restarted = new Engine({ ...loadRegistries(root('registries'), root('codesets'), ['diabetes']), asOf: '2025-03-31', store: { directory: r.storeDirectory } });
    expect(restarted.asOf).toBe('2025-04-30');
    expect([...restarted.patients({ registry: 'diabetes', indicator: 'DM020', status: 'gap' })]).toHaveLength(r.engineGaps);
    restarted.close();
  } finally {
    rmSync(r.storeDirectory, { recursive: true, force: true });
  }
});
