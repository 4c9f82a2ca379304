import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '@caregaps/cli';
import { clusterWorker } from '../src/commands/cluster.js';
import { NATS_SERVER, SKIP_REASON, sharedServer } from '../../nats/test/nats-server.js';
import { CODESETS, REGISTRIES, run } from './run.js';

if (!NATS_SERVER) console.warn(`skipping the cluster command tests: ${SKIP_REASON}`);

// Codes from codesets/: 44054006 (DM_COD), 999791000000106 (IFCCHBAM_COD). NHS number from DESIGN §3.1.
const records = [
  { kind: 'organisation', code: 'F83004', name: 'Practice', type: 'practice', parent: null },
  { kind: 'patient', nhsNumber: '9434765919', birthDate: '1957-03-02', sex: 'female', practice: 'F83004', registeredFrom: '2001-05-01' },
  { kind: 'event', id: 'o1', nhsNumber: '9434765919', code: '44054006', date: '2015-03-01' },
  { kind: 'event', id: 'o2', nhsNumber: '9434765919', code: '999791000000106', date: '2025-01-10', value: 52 },
];

describe.skipIf(!NATS_SERVER)('caregaps publish and caregaps cluster', () => {
  let server: { url: string; dispose(): Promise<void> };
  const dir = mkdtempSync(join(tmpdir(), 'caregaps-cli-cluster-'));
  beforeAll(async () => {
    server = await sharedServer();
  });
  afterAll(async () => {
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes a file, a worker applies it, status and patient read the results; publishing again adds nothing', async () => {
    const cluster = `cli-${process.pid}`;
    const file = join(dir, 'records.ndjson');
    writeFileSync(file, [...records.map((r) => JSON.stringify(r)), '{"kind":"patient","nhsNumber":"1234567890"}'].join('\n') + '\n');
    const connection = ['--server', server.url, '--cluster', cluster];
    // The worker and the first publish race to set the cluster up: both name the partition count.
    const signals = new EventEmitter();
    let log = '';
    const io: Io = { out: () => {}, err: (t) => void (log += t), interactive: false };
    const worker = clusterWorker(io, { server: server.url, cluster, store: join(dir, 'store'), partitions: '4', asOf: '2025-03-31', registries: REGISTRIES, codesets: CODESETS, codesetsFrom: [] }, signals);

    const published = await run('publish', file, ...connection, '--partitions', '4', '--quarantine', join(dir, 'refused.ndjson'));
    expect(published.code, published.err).toBe(0);
    expect(published.err).toMatch(/^\s+3\s+new records$/m);
    expect(published.err).toMatch(/^\s+1\s+organisation records/m);
    expect(published.err).toMatch(/CG_RECORD_/);

    const status = await run('cluster', 'status', ...connection, '--wait', '60', '--registry', 'diabetes');
    expect(status.code, status.err).toBe(0);
    expect(status.out).toMatch(/4 owned, 0 unowned; lag 0 records; caught up/);
    expect(status.out).toMatch(/diabetes\s+register\s+1\s/);

    const patient = await run('cluster', 'patient', '9434765919', ...connection);
    expect(patient.code, patient.err).toBe(0);
    const answer = JSON.parse(patient.out) as { registries: { registry: string; onRegister: boolean }[] };
    expect(answer.registries.find((r) => r.registry === 'diabetes')?.onRegister).toBe(true);

    const again = await run('publish', file, ...connection);
    expect(again.err).toMatch(/^\s+0\s+new records$/m);
    expect(again.err).toMatch(/^\s+3\s+duplicates/m);

    signals.emit('SIGTERM');
    expect(await worker).toBe(0);
    expect(log).toMatch(/took partition/);
  }, 120_000);

  it('says where it could not connect, with a code and exit 2', async () => {
    const result = await run('cluster', 'status', '--server', 'nats://127.0.0.1:9', '--cluster', 'nowhere');
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/CG_CLUSTER_CONNECT/);
  });
});
