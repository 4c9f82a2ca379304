import { checkRecord, type CaregapsRecord } from '@caregaps/core';
import { readFhir } from '@caregaps/fhir';

/** What applying records needs from the engine: `apply` returns whether the record was accepted. */
export interface RecordSink {
  apply(record: unknown): boolean | Promise<boolean>;
}

/** A FHIR R4 OperationOutcome issue. */
interface Issue {
  severity: 'error' | 'information';
  code: 'invalid' | 'processing' | 'informational';
  diagnostics: string;
  expression?: string[];
}

const outcome = (issue: Issue[]) => ({ resourceType: 'OperationOutcome', issue });

interface EntryResult {
  records: CaregapsRecord[];
  problems: string[];
}

/** The response to `POST /fhir`: HTTP status and a FHIR resource. */
export interface IntakeResponse {
  status: number;
  body: Record<string, unknown>;
  /** Records applied to the engine. */
  applied: number;
}

/**
 * Reads a FHIR R4 Bundle (transaction or batch) through the FHIR adapter and applies its records. A transaction is
 * all or nothing: one refused entry refuses the Bundle (400, an OperationOutcome naming every refused entry). A
 * batch applies every good entry. Either way the answer names each entry (accepted, with how many records, or
 * refused, with the reason and code), as a `transaction-response` / `batch-response` Bundle.
 */
export async function receiveBundle(engine: RecordSink, text: string, source: string): Promise<IntakeResponse> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    return refuse(`The body is not JSON: ${(error as Error).message}`);
  }
  const bundle = doc as { resourceType?: unknown; type?: unknown; entry?: unknown };
  if (typeof doc !== 'object' || doc === null || bundle.resourceType !== 'Bundle') return refuse('The body must be a FHIR R4 Bundle (resourceType "Bundle")');
  if (bundle.type !== 'transaction' && bundle.type !== 'batch') return refuse('Bundle.type must be "transaction" or "batch"');
  const count = Array.isArray(bundle.entry) ? bundle.entry.length : 0;
  if (count === 0) return refuse('The Bundle has no entries');

  const entries: EntryResult[] = Array.from({ length: count }, () => ({ records: [], problems: [] }));
  const whole: string[] = [];
  for await (const item of readFhir([{ name: 'request', text }], { source })) {
    const at = /^\/entry\/(\d+)(?:\/|$)/.exec(item.at.pointer ?? '');
    const entry = at ? entries[Number(at[1])] : undefined;
    if (!item.ok) {
      (entry ? entry.problems : whole).push(`${item.reason} [${item.code}]`);
      continue;
    }
    const fault = checkRecord(item.record);
    if (fault) (entry ? entry.problems : whole).push(`${fault.message} [${fault.code}]`);
    else if (entry) entry.records.push(item.record);
    else whole.push(`a record that belongs to no entry (${item.at.pointer ?? 'no position'})`);
  }
  if (whole.length) return refuse(whole.join('; '));
  const failed = entries.map((e, i) => ({ e, i })).filter(({ e }) => e.problems.length > 0);
  if (bundle.type === 'transaction' && failed.length) {
    return {
      status: 400,
      applied: 0,
      body: outcome(failed.map(({ e, i }) => ({ severity: 'error', code: 'invalid', diagnostics: `entry ${i}: ${e.problems.join('; ')}`, expression: [`Bundle.entry[${i}]`] }))),
    };
  }
  let applied = 0;
  const responses = [];
  for (const [i, entry] of entries.entries()) {
    if (entry.problems.length === 0) {
      for (const record of entry.records) {
        if (await engine.apply(record)) applied++;
        else entry.problems.push(`the engine refused record ${'id' in record ? record.id : record.kind} (see its quarantine)`);
      }
    }
    const ok = entry.problems.length === 0;
    responses.push({
      response: {
        status: ok ? '201 Created' : '422 Unprocessable Entity',
        outcome: outcome([
          ok
            ? { severity: 'information', code: 'informational', diagnostics: `accepted: ${entry.records.length} record${entry.records.length === 1 ? '' : 's'}` }
            : { severity: 'error', code: 'processing', diagnostics: `quarantined: ${entry.problems.join('; ')}`, expression: [`Bundle.entry[${i}]`] },
        ]),
      },
    });
  }
  return { status: 200, applied, body: { resourceType: 'Bundle', type: `${bundle.type}-response`, entry: responses } };
}

function refuse(message: string): IntakeResponse {
  return { status: 400, applied: 0, body: outcome([{ severity: 'error', code: 'invalid', diagnostics: message }]) };
}
