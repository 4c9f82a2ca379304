import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main, type Io } from '@caregaps/cli';
import { watch } from '../src/commands/watch.js';
import { CODESETS, REGISTRIES } from './run.js';


function capture(): { io: Io; out: () => string[]; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: { out: (t) => void (out += t), err: (t) => void (err += t), interactive: false },
    out: () => out.trim().split('\n').filter(Boolean),
    err: () => err,
  };
}

const lines = [
  '{"kind":"patient","nhsNumber":"9434765919","birthDate":"1957-03-02","sex":"female","practice":"F83004","registeredFrom":"2001-05-01"}',
  '{"kind":"event","id":"o1","nhsNumber":"9434765919","code":"44054006","date":"2015-03-01"}',
  '{"kind":"event","id":"o2","nhsNumber":"9434765919","code":"999791000000106","date":"2025-01-10","value":52}',
  'not json',
];
const dir = mkdtempSync(join(tmpdir(), 'caregaps-watch-'));
const input = join(dir, 'records.ndjson');
writeFileSync(input, lines.join('\n') + '\n');

describe('caregaps watch', () => {
  it('prints each change as one NDJSON line, including those time brings', async () => {
    const c = capture();
    const code = await main(['watch', '--input', input, '--as-of', '2025-03-31', '--registry', 'diabetes', '--advance-to', '2025-04-02'], c.io);
    expect(code).toBe(0);
    const changes = c.out().map((l) => JSON.parse(l));
    expect(changes[0]).toEqual({ nhsNumber: '9434765919', registry: 'diabetes', before: 'off', after: 'on', asOf: '2025-03-31' });
    // DM020 reads BLDTESTDEC_COD, missing from the bundled codesets: its changes carry provisional: true.
    expect(Object.keys(changes[1])).toEqual(['nhsNumber', 'registry', 'indicator', 'before', 'after', 'asOf', 'provisional']);
    expect(changes).toContainEqual({ nhsNumber: '9434765919', registry: 'diabetes', indicator: 'DM020', before: 'gap', after: 'met', asOf: '2025-03-31', provisional: true });
    // On 1 April a new QOF year starts and the January HbA1c no longer falls in the 12 months before PPED.
    expect(changes).toContainEqual({ nhsNumber: '9434765919', registry: 'diabetes', indicator: 'DM020', before: 'met', after: 'gap', asOf: '2025-04-01', provisional: true });
    expect(changes.every((x) => x.asOf !== '2025-04-02')).toBe(true);
    expect(c.err()).toContain('3 records accepted, 1 quarantined');
  });

  it('reads standard input with -', async () => {
    const c = capture();
    const stdin = Readable.from([lines.slice(0, 2).join('\n') + '\n']);
    const opts = { input: '-', asOf: '2025-03-31', registries: REGISTRIES, codesets: CODESETS, registry: ['diabetes'] };
    expect(await watch(c.io, opts, stdin)).toBe(0);
    expect(c.out().map((l) => JSON.parse(l))[0]).toEqual({ nhsNumber: '9434765919', registry: 'diabetes', before: 'off', after: 'on', asOf: '2025-03-31' });
  });

  it('refuses an --advance-to before --as-of', async () => {
    const c = capture();
    expect(await main(['watch', '--input', input, '--as-of', '2025-03-31', '--advance-to', '2025-01-01'], c.io)).toBe(2);
    expect(c.err()).toContain('CG_USAGE');
  });
});
