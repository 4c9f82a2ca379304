import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { main, type Io } from '@caregaps/cli';
import { partitionFile } from '@caregaps/engine';

function capture(): { io: Io; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { out: (t) => void (out += t), err: (t) => void (err += t), interactive: false }, out: () => out, err: () => err };
}

// Codes from codesets/: 44054006 (DM_COD), 999791000000106 (IFCCHBAM_COD). NHS number from DESIGN §3.1.
const records = [
  { kind: 'patient', nhsNumber: '9434765919', birthDate: '1957-03-02', sex: 'female', practice: 'F83004', registeredFrom: '2001-05-01' },
  { kind: 'event', id: 'o1', nhsNumber: '9434765919', code: '44054006', date: '2015-03-01' },
  { kind: 'event', id: 'o2', nhsNumber: '9434765919', code: '999791000000106', date: '2025-01-10', value: 52 },
];

/** The old engine store format, written from its description: u32 length, u32 CRC-32 of the JSON, the JSON. */
function oldStore(): string {
  const dir = mkdtempSync(join(tmpdir(), 'caregaps-old-store-'));
  const frames = [...records, { kind: 'advance', asOf: '2025-03-31' }].map((entry) => {
    const payload = Buffer.from(JSON.stringify(entry));
    const head = Buffer.alloc(8);
    head.writeUInt32LE(payload.length, 0);
    head.writeUInt32LE(crc32(payload), 4);
    return Buffer.concat([head, payload]);
  });
  writeFileSync(join(dir, 'segment-00000001.log'), Buffer.concat(frames));
  return dir;
}

describe('caregaps store', () => {
  it('migrate copies an old store; watch on the old one says to migrate; verify and rebuild read the new one', async () => {
    const old = oldStore();
    const input = join(old, 'none.ndjson');
    writeFileSync(input, '');
    const refused = capture();
    expect(await main(['watch', '--input', input, '--as-of', '2025-03-31', '--store', old], refused.io)).toBe(2);
    expect(refused.err()).toContain('caregaps store migrate');

    const target = join(mkdtempSync(join(tmpdir(), 'caregaps-new-store-')), 'store');
    const migrated = capture();
    expect(await main(['store', 'migrate', old, target], migrated.io)).toBe(0);
    expect(migrated.out()).toContain('4 entries read, 3 records written, 0 quarantined, achievement date 2025-03-31');

    const verified = capture();
    expect(await main(['store', 'verify', target], verified.io)).toBe(0);
    expect(verified.err()).toMatch(/\d+ values checked, 0 damaged/);

    const rebuilt = capture();
    expect(await main(['store', 'rebuild', target, '--registry', 'diabetes'], rebuilt.io)).toBe(0);
    expect(rebuilt.out()).toMatch(/^rebuilt 1 patients \(3 records, of which 0 events no registry reads, not held\) from .* as of 2025-03-31\ndiabetes: 1 on the register of 1 registered\n$/);
  });

  it('verify lists a damaged value by key and exits 1', async () => {
    const old = oldStore();
    const target = join(mkdtempSync(join(tmpdir(), 'caregaps-new-store-')), 'store');
    await main(['store', 'migrate', old, target], capture().io);
    const file = partitionFile(target);
    const bytes = readFileSync(file);
    const text = Buffer.from('"code":"999791000000106"');
    for (let at = bytes.indexOf(text); at >= 0; at = bytes.indexOf(text, at + 1)) bytes[at + 10]! ^= 0x01;
    writeFileSync(file, bytes);
    const verified = capture();
    expect(await main(['store', 'verify', target], verified.io)).toBe(1);
    expect(verified.out()).toBe('records[9434765919 | 1]: fails its checksum [CG_STORE_DAMAGED]\n');
  });
});
