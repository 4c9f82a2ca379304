import { CaregapsError, parseDay } from '@caregaps/core';
import type { AccessPolicy, RecordItem } from '../policy.js';
import { DATA_CATEGORIES, PURPOSES, type AccessRequest, type DataCategory, type Purpose, type Verdict } from '../types.js';

/** One version of an information-sharing agreement between data controllers. */
export interface SharingAgreement {
  id: string;
  version: number;
  title: string;
  /** ODS codes of the organisations party to the agreement: each may see the others' records it covers. */
  parties: string[];
  dataCategories: DataCategory[];
  purposes: Purpose[];
  /** First day in force (YYYY-MM-DD). */
  start: string;
  /** First day no longer in force; `null` for open-ended. */
  end: string | null;
  status: 'draft' | 'signed' | 'withdrawn';
  /** Who signed each party's side: party → user. */
  signatures: Record<string, string>;
}

/** The terms of an agreement, as given to create or amend it. */
export type AgreementTerms = Pick<SharingAgreement, 'title' | 'parties' | 'dataCategories' | 'purposes' | 'start' | 'end'>;

function checkTerms(terms: AgreementTerms): void {
  const problems: string[] = [];
  if (typeof terms.title !== 'string' || terms.title.trim() === '') problems.push('title is empty');
  if (!Array.isArray(terms.parties) || new Set(terms.parties).size < 2) problems.push('an agreement needs at least two distinct parties');
  if (!Array.isArray(terms.dataCategories) || terms.dataCategories.length === 0 || terms.dataCategories.some((c) => !DATA_CATEGORIES.includes(c))) {
    problems.push(`dataCategories must be some of ${DATA_CATEGORIES.join(', ')}`);
  }
  if (!Array.isArray(terms.purposes) || terms.purposes.length === 0 || terms.purposes.some((p) => !PURPOSES.includes(p))) {
    problems.push(`purposes must be some of ${PURPOSES.join(', ')}`);
  }
  if (parseDay(terms.start) === undefined) problems.push('start is not a YYYY-MM-DD date');
  if (terms.end !== null && (parseDay(terms.end) === undefined || terms.end <= terms.start)) problems.push('end must be null or a date after start');
  if (problems.length) throw new CaregapsError('CG_ACCESS_AGREEMENT', `The sharing agreement is invalid: ${problems.join('; ')}`);
}

/**
 * Versioned sharing agreements, with a lifecycle that only the agreement's own signatories steer:
 * - a draft is signed by every party it names and, for an amendment, by every signatory of the signed version it
 *   would replace (so no party can be added, or a term changed, without all current signatories);
 * - only the parties of the signed version (or, before any signature, of the draft) may amend it: a party
 *   named only in a draft has no say yet;
 * - only the signatories of the signed version may withdraw it (before any signature: the draft's parties), which
 *   ends the agreement in every version; amending never takes that right away.
 * Every change keeps the earlier versions.
 */
export class AgreementRegistry {
  private readonly versions = new Map<string, SharingAgreement[]>();
  private next = 1;
  private changes = 0;

  constructor(saved: readonly SharingAgreement[] = []) {
    for (const a of saved) {
      checkTerms(a);
      const list = this.versions.get(a.id) ?? [];
      list.push(structuredClone(a));
      list.sort((x, y) => x.version - y.version);
      this.versions.set(a.id, list);
      const n = Number(/^ISA-(\d+)$/.exec(a.id)?.[1]);
      if (n >= this.next) this.next = n + 1;
    }
  }

  create(terms: AgreementTerms): SharingAgreement {
    checkTerms(terms);
    const agreement: SharingAgreement = { id: `ISA-${this.next++}`, version: 1, ...structuredClone(terms), status: 'draft', signatures: {} };
    this.versions.set(agreement.id, [agreement]);
    this.changes++;
    return structuredClone(agreement);
  }

  /** The latest signed version (the one that governs the agreement until withdrawn or replaced). */
  private governing(id: string): SharingAgreement | undefined {
    return [...(this.versions.get(id) ?? [])].reverse().find((v) => v.status === 'signed');
  }

  /** Who must sign the latest draft before it is in force: its parties and the signatories of the version it replaces. */
  private signersOf(id: string, draft: SharingAgreement): string[] {
    return [...new Set([...draft.parties, ...Object.keys(this.governing(id)?.signatures ?? {})])];
  }

  /** Grows with every change, so a reader can tell that the agreements changed under it. */
  get revision(): number {
    return this.changes;
  }

  /** Whether an organisation is named in any version of an agreement. */
  involves(id: string, party: string): boolean {
    return (this.versions.get(id) ?? []).some((v) => v.parties.includes(party));
  }

  /** Whether an organisation may sign, amend or withdraw an agreement now (for checks before acting). */
  mayChange(id: string, party: string, action: 'sign' | 'amend' | 'withdraw'): boolean {
    const list = this.versions.get(id);
    if (!list) return false;
    const latest = list[list.length - 1]!;
    const governing = this.governing(id);
    if (action === 'sign') return latest.status === 'draft' && this.signersOf(id, latest).includes(party);
    if (action === 'withdraw' && governing) return party in governing.signatures;
    return (governing ?? latest).parties.includes(party);
  }

  private authorise(id: string, party: string, action: 'sign' | 'amend' | 'withdraw'): SharingAgreement {
    const latest = this.latest(id);
    if (latest.status === 'withdrawn') throw new CaregapsError('CG_ACCESS_AGREEMENT', `Agreement ${id} is withdrawn; it cannot be changed`);
    if (action === 'sign' && latest.status !== 'draft') throw new CaregapsError('CG_ACCESS_AGREEMENT', `Agreement ${id} v${latest.version} is ${latest.status}; only a draft can be signed`);
    if (!this.mayChange(id, party, action)) {
      const who = action === 'withdraw' ? 'a signatory of the version in force' : action === 'amend' ? 'a party to the version in force' : 'a party to the draft or a signatory of the version it replaces';
      throw new CaregapsError('CG_ACCESS_AGREEMENT', `${party} may not ${action} agreement ${id}: only ${who} may`);
    }
    return latest;
  }

  /** Signs the latest draft for one party; it is in force once every party and every current signatory has signed. */
  sign(id: string, party: string, user: string): SharingAgreement {
    const latest = this.authorise(id, party, 'sign');
    latest.signatures[party] = user;
    this.changes++;
    if (this.signersOf(id, latest).every((p) => latest.signatures[p] !== undefined)) latest.status = 'signed';
    return structuredClone(latest);
  }

  /** A new draft version with changed terms, by a party to the version in force; that version stays in force until the draft is signed. */
  amend(id: string, changes: Partial<AgreementTerms>, by: string): SharingAgreement {
    const latest = this.authorise(id, by, 'amend');
    const terms: AgreementTerms = {
      title: changes.title ?? latest.title,
      parties: changes.parties ?? latest.parties,
      dataCategories: changes.dataCategories ?? latest.dataCategories,
      purposes: changes.purposes ?? latest.purposes,
      start: changes.start ?? latest.start,
      end: changes.end === undefined ? latest.end : changes.end,
    };
    checkTerms(terms);
    const list = this.versions.get(id)!;
    if (latest.status === 'draft') list.pop();
    const draft: SharingAgreement = { id, version: latest.version + (latest.status === 'draft' ? 0 : 1), ...structuredClone(terms), status: 'draft', signatures: {} };
    list.push(draft);
    this.changes++;
    return structuredClone(draft);
  }

  /** Ends the agreement in every version; by a signatory of the version in force (before any signature, a party to the draft). */
  withdraw(id: string, by: string): SharingAgreement {
    this.authorise(id, by, 'withdraw');
    const list = this.versions.get(id)!;
    for (const v of list) v.status = 'withdrawn';
    this.changes++;
    return structuredClone(list[list.length - 1]!);
  }

  private latest(id: string): SharingAgreement {
    const list = this.versions.get(id);
    if (!list) throw new CaregapsError('CG_ACCESS_AGREEMENT', `No agreement ${id}`);
    return list[list.length - 1]!;
  }

  /** The version in force for each agreement on a day (the latest signed version whose period covers the day). */
  inForce(today: string): SharingAgreement[] {
    const result: SharingAgreement[] = [];
    for (const list of this.versions.values()) {
      const signed = [...list].reverse().find((v) => v.status === 'signed');
      if (signed && signed.start <= today && (signed.end === null || today < signed.end)) result.push(signed);
    }
    return result;
  }

  /** Every version of every agreement, for saving. */
  toJSON(): SharingAgreement[] {
    return [...this.versions.values()].flat().map((a) => structuredClone(a));
  }
}

/**
 * Sharing agreements decide which organisation sees which source's records: an organisation always sees the
 * records it sent; another source's records need an agreement in force between the two, for the purpose and the
 * data category. Identifiable lists of another practice's patients need an agreement covering registry statuses.
 */
export function agreementPolicy(agreements: AgreementRegistry): AccessPolicy {
  const covering = (request: AccessRequest, source: string, category: DataCategory) =>
    agreements
      .inForce(request.today)
      .find((a) => a.parties.includes(source) && a.parties.includes(request.principal.organisation) && a.purposes.includes(request.purpose) && a.dataCategories.includes(category));
  return {
    meta: { name: 'sharing-agreements', version: '1.0.0', decides: "which organisation may see which source organisation's records, for which purposes and data categories", aggregates: 'by-opt-outs' },
    decide(request: AccessRequest): Verdict {
      const patient = request.patient;
      if (!patient || request.activity === 'view-aggregate' || request.activity === 'view-audit-report' || request.activity === 'manage-opt-outs') return { decision: 'not-applicable', rule: 'not-record-access' };
      if (patient.practice === request.principal.organisation) return { decision: 'allow', rule: 'own-patient' };
      // A record view is filtered item by item; a list shows the practice's registry statuses, so it needs them shared.
      if (request.activity === 'view-patient-record') return { decision: 'allow', rule: 'filtered-by-item' };
      const a = covering(request, patient.practice, 'registry-statuses');
      return a ? { decision: 'allow', rule: `agreement:${a.id}@v${a.version}` } : { decision: 'deny', rule: 'no-agreement' };
    },
    visible(request: AccessRequest, item: RecordItem): Verdict {
      if (item.source === request.principal.organisation) return { decision: 'allow', rule: 'own-records' };
      const a = covering(request, item.source, item.category);
      return a ? { decision: 'allow', rule: `agreement:${a.id}@v${a.version}` } : { decision: 'deny', rule: 'no-agreement' };
    },
  };
}
