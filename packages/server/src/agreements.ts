import { CaregapsError } from '@caregaps/core';
import { DATA_CATEGORIES, PURPOSES, type AccessLayer, type AgreementTerms, type DataCategory, type Purpose, type SharingAgreement } from '@caregaps/access';
import { esc } from './html.js';

const list = (value: unknown): string[] => (value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)]);

/** Reads the create or amend form: the viewer's organisation is always a party. */
export function agreementTerms(form: Record<string, unknown>, organisation: string): AgreementTerms {
  const partners = list(form['partners']).flatMap((p) => p.split(/[\s,]+/)).filter(Boolean);
  const end = String(form['end'] ?? '');
  return {
    title: String(form['title'] ?? ''),
    parties: [...new Set([organisation, ...partners])],
    dataCategories: list(form['dataCategories']) as DataCategory[],
    purposes: list(form['purposes']) as Purpose[],
    start: String(form['start'] ?? ''),
    end: end === '' ? null : end,
  };
}

/** An agreement id from a route parameter: digits and letters only (ids are made by the registry). */
export function agreementId(id: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) throw new CaregapsError('CG_USAGE', 'No such agreement');
  return id;
}

function describe(a: SharingAgreement): string {
  const signatures = Object.entries(a.signatures).map(([party, user]) => `${esc(party)} by ${esc(user)}`).join(', ') || 'none';
  return `<tr><td>${esc(a.version)}</td><td>${esc(a.status)}</td><td>${esc(a.parties.join(', '))}</td><td>${esc(a.dataCategories.join(', '))}</td><td>${esc(a.purposes.join(', '))}</td><td>${esc(a.start)} – ${esc(a.end ?? 'open')}</td><td>${signatures}</td></tr>`;
}

/**
 * The agreements the viewer's organisation is party to, each with its history (every version) and the actions the
 * access layer may allow (sign, withdraw, amend; it decides and audits each); and the form for a new one.
 */
export function agreementsBody(access: AccessLayer, organisation: string): string {
  const byId = new Map<string, SharingAgreement[]>();
  for (const version of access.agreements.toJSON()) {
    if (!version.parties.includes(organisation)) continue;
    byId.set(version.id, [...(byId.get(version.id) ?? []), version]);
  }
  const sections = [...byId.entries()].map(([id, versions]) => {
    const latest = versions[versions.length - 1]!;
    const actions =
      latest.status === 'withdrawn'
        ? ''
        : `${latest.signatures[organisation] === undefined ? `<form method="post" action="/agreements/${esc(id)}/sign" class="inline"><button type="submit">Sign for ${esc(organisation)}</button></form>` : ''}
<form method="post" action="/agreements/${esc(id)}/withdraw" class="inline"><button type="submit">Withdraw</button></form>
<details><summary>Amend</summary><form method="post" action="/agreements/${esc(id)}/amend" class="agreement-form">${termFields(`amend-${id}`, latest, organisation)}<button type="submit">Draft the amendment</button></form></details>`;
    return `<section class="agreement" data-agreement="${esc(id)}"><h2>${esc(latest.title)} (${esc(id)})</h2>
<table><caption>Versions, oldest first</caption><thead><tr><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Parties</th><th scope="col">Data</th><th scope="col">Purposes</th><th scope="col">In force</th><th scope="col">Signed</th></tr></thead>
<tbody>${versions.map(describe).join('')}</tbody></table>${actions}</section>`;
  });
  const form = `<h2>New agreement</h2><form method="post" action="/agreements" class="agreement-form">${termFields('new', undefined, organisation)}<button type="submit">Create draft</button></form>`;
  return `${sections.join('\n') || '<p>Your organisation is party to no sharing agreement.</p>'}${form}`;
}

/**
 * The fields of an agreement's terms, for a new draft (empty) or an amendment (filled with the latest version's
 * terms). `prefix` keeps each form's ids apart, so every label names its own control.
 */
function termFields(prefix: string, terms: AgreementTerms | undefined, organisation: string): string {
  const id = (name: string) => esc(`${prefix}-${name}`);
  const checkboxes = (name: 'dataCategories' | 'purposes', values: readonly string[]) =>
    values
      .map((v) => `<label class="check"><input type="checkbox" name="${name}" value="${esc(v)}"${(terms?.[name] as readonly string[] | undefined)?.includes(v) ? ' checked' : ''}> ${esc(v)}</label>`)
      .join(' ');
  const partners = terms ? terms.parties.filter((p) => p !== organisation).join(', ') : '';
  return `<p><label for="${id('title')}">Title <input id="${id('title')}" name="title" value="${esc(terms?.title ?? '')}" required></label></p>
<p><label for="${id('partners')}">Other parties (ODS codes, comma-separated) <input id="${id('partners')}" name="partners" value="${esc(partners)}" required></label></p>
<fieldset><legend>Data categories</legend>${checkboxes('dataCategories', DATA_CATEGORIES)}</fieldset>
<fieldset><legend>Purposes</legend>${checkboxes('purposes', PURPOSES)}</fieldset>
<p><label for="${id('start')}">In force from <input id="${id('start')}" name="start" type="date" value="${esc(terms?.start ?? '')}" required></label> <label for="${id('end')}">until (empty: open-ended) <input id="${id('end')}" name="end" type="date" value="${esc(terms?.end ?? '')}"></label></p>
`;
}
