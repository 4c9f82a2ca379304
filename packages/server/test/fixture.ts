import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryAuditLog } from '@caregaps/access';
import { DEMO_AGREEMENTS, DEMO_CARE_TEAMS, createServer, openHost, type Host } from '@caregaps/server';
import type { FastifyInstance } from 'fastify';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SAMPLE = join(ROOT, 'examples', 'sample-population');
export const AS_OF = '2025-03-31';

/** The sample population's NHS numbers, read straight from the file (the leak scan's list). */
export const SAMPLE_NHS_NUMBERS: ReadonlySet<string> = new Set(
  readFileSync(join(SAMPLE, 'records.ndjson'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"kind":"patient"'))
    .map((l) => (JSON.parse(l) as { nhsNumber: string }).nhsNumber),
);

/**
 * The "Haemoglobin A1c level (monitoring ranges) - IFCC standardised" code, read from the bundled IFCCHBAM_COD
 * codeset (its header cites the PCD refset and the OpenCodelists release it was copied from).
 */
export const HBA1C_CODE = /^"(\d+)","Haemoglobin A1c level \(monitoring ranges\)/m.exec(readFileSync(join(ROOT, 'codesets', 'IFCCHBAM_COD.csv'), 'utf8'))![1]!;

export interface Served {
  host: Host;
  audit: MemoryAuditLog;
  app: FastifyInstance;
}

/**
 * The sample population (diabetes only, to stay fast) behind a server with the demo principals; `demo` adds the
 * demo's care team and signed agreement (as `caregaps serve --demo` does).
 */
export async function serveSample(liveDelayMs = 20, demo = false): Promise<Served> {
  const audit = new MemoryAuditLog();
  const host = await openHost({
    records: [join(SAMPLE, 'records.ndjson')],
    organisations: join(SAMPLE, 'organisations.ndjson'),
    asOf: AS_OF,
    registries: join(ROOT, 'registries'),
    codesets: join(ROOT, 'codesets'),
    only: ['diabetes'],
    audit,
    ...(demo ? { careTeams: DEMO_CARE_TEAMS, agreements: DEMO_AGREEMENTS } : {}),
  });
  const app = await createServer({ ...host, liveDelayMs });
  return { host, audit, app };
}

/** Signs in through the development sign-in form and returns the session cookie. */
export async function signIn(app: FastifyInstance, principal: string): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/login', payload: `principal=${principal}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  if (response.statusCode !== 303) throw new Error(`sign-in as ${principal} answered ${response.statusCode}`);
  const cookie = response.cookies[0]!;
  return `${cookie.name}=${cookie.value}`;
}

/** A FHIR Observation: an IFCC HbA1c result in mmol/mol for a patient named by NHS number. */
export function hba1cObservation(id: string, nhsNumber: string, value: number, date = AS_OF): Record<string, unknown> {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://snomed.info/sct', code: HBA1C_CODE }] },
    subject: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhsNumber } },
    effectiveDateTime: date,
    valueQuantity: { value, unit: 'mmol/mol', system: 'http://unitsofmeasure.org', code: 'mmol/mol' },
  };
}

export function bundleOf(type: 'transaction' | 'batch', ...resources: Record<string, unknown>[]): string {
  return JSON.stringify({ resourceType: 'Bundle', type, entry: resources.map((resource) => ({ fullUrl: `urn:uuid:${String(resource['id'])}`, resource, request: { method: 'POST', url: String(resource['resourceType']) } })) });
}
