import { CaregapsError, type CompiledRegistry } from '@caregaps/core';
import type { AccessView, GapQuery } from '@caregaps/access';
import { esc, purposeField } from './html.js';
import type { GapHistory, GapStart } from './since.js';

/** Reads `?registry=&indicator=`; `undefined` when no registry is chosen yet (the page then shows only the form). */
export function gapQuery(query: Record<string, unknown>, registries: readonly CompiledRegistry[]): GapQuery | undefined {
  const registry = query['registry'];
  if (registry === undefined || registry === '') return undefined;
  const compiled = registries.find((r) => r.id === registry);
  if (!compiled) throw new CaregapsError('CG_USAGE', `No registry named ${String(registry)}`);
  const indicator = query['indicator'];
  if (indicator === undefined || indicator === '') return { registry: compiled.id };
  if (!compiled.indicatorIds.includes(String(indicator))) throw new CaregapsError('CG_USAGE', `Registry ${compiled.id} has no indicator ${String(indicator)}`);
  return { registry: compiled.id, indicator: String(indicator) };
}

/** The query string of a gap list, for links (CSV export, live updates). */
export function gapSearch(query: GapQuery): string {
  return new URLSearchParams({ registry: query.registry, ...(query.indicator ? { indicator: query.indicator } : {}) }).toString();
}

/** An indicator's requirement, from the registry's own title of it (what a patient in its gap lacks). */
function requirementOf(registries: readonly CompiledRegistry[], registry: string, indicator: string): string {
  const definition = registries.find((r) => r.id === registry)?.registry.definition.indicators.find((i) => i.id === indicator);
  return (definition?.title ?? indicator).replace(/^The (percentage|proportion) of patients\s+/i, '').trim();
}

/**
 * The live part of a gap list: the patients in a gap the viewer may see, through the access layer (audited there),
 * each with what the indicator asks for and, with a gap history, since when the patient has been in the gap.
 */
export async function gapsFragment(
  view: AccessView,
  query: GapQuery,
  registries: readonly CompiledRegistry[],
  history?: GapHistory,
  /** "Since" dates already found (an open page's stream keeps them for the patients no change has named). */
  known?: Map<string, GapStart | undefined>,
): Promise<string> {
  const rows = await view.patients(query);
  const sinceOf = (nhsNumber: string, registry: string, indicator: string): GapStart | undefined => {
    const key = `${nhsNumber}|${registry}|${indicator}`;
    if (known?.has(key)) return known.get(key);
    const start = history?.since(nhsNumber, registry, indicator);
    known?.set(key, start);
    return start;
  };
  const body = rows
    .map((r) => {
      const start = sinceOf(r.nhsNumber, r.registry, r.indicator);
      const since = start ? `${start.atLeast ? 'before ' : ''}<time datetime="${esc(start.since)}">${esc(start.since)}</time>` : '–';
      return `<tr data-nhs-number="${esc(r.nhsNumber)}"><th scope="row"><a href="/patients/${esc(r.nhsNumber)}">${esc(r.nhsNumber)}</a></th><td>${esc(r.practice)}</td><td>${esc(r.indicator)}</td><td class="status-${esc(r.status)}">${esc(r.status)}</td><td>${esc(requirementOf(registries, r.registry, r.indicator))}</td><td data-since="${esc(start?.since ?? '')}">${since}</td></tr>`;
    })
    .join('\n');
  return `<p id="gap-count"><strong>${rows.length}</strong> ${rows.length === 1 ? 'patient entry' : 'patient entries'} in a gap.</p>
<table id="gap-table"><caption>Gap list: ${esc(query.registry)}${query.indicator ? ` / ${esc(query.indicator)}` : ''}</caption>
<thead><tr><th scope="col">NHS number</th><th scope="col">Practice</th><th scope="col">Indicator</th><th scope="col">Status</th><th scope="col">What is missing (the indicator asks for)</th><th scope="col">In a gap since</th></tr></thead>
<tbody>${body}</tbody></table>`;
}

/** The form that picks a registry and indicator. */
export function gapForm(registries: readonly CompiledRegistry[], query: GapQuery | undefined, purpose?: string): string {
  const regs = registries.map((r) => `<option value="${esc(r.id)}"${r.id === query?.registry ? ' selected' : ''}>${esc(r.registry.definition.title)}</option>`).join('');
  const indicators = registries
    .flatMap((r) => r.indicatorIds.map((id) => `<option value="${esc(id)}"${id === query?.indicator ? ' selected' : ''}>${esc(r.id)} ${esc(id)}</option>`))
    .join('');
  return `<form class="query" method="get" action="/gaps"><label for="registry">Registry<select id="registry" name="registry">${regs}</select></label>
<label for="indicator">Indicator<select id="indicator" name="indicator"><option value="">every indicator</option>${indicators}</select></label>${purposeField(purpose)}<button type="submit">Show</button></form>`;
}
