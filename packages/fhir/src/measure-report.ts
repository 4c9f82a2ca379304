import type { CodeableConcept, MeasureReport, MeasureReportGroup, Reference } from 'fhir/r4.js';
import {
  achievementDay,
  formatDay,
  qualityServiceStart,
  type CompiledRegistry,
  type IndicatorStatus,
  type PatientResult,
  provisionalReason,
} from '@caregaps/core';
import { NHS_NUMBER_SYSTEM } from './systems.js';

const POPULATION = 'http://terminology.hl7.org/CodeSystem/measure-population';
/** Code system of Caregaps indicator ids (DM020, AF006, …) in a report's groups. */
export const INDICATOR_SYSTEM = 'https://caregaps.dev/fhir/CodeSystem/indicator';
/** Identifier system of the source record ids an individual report lists as evaluated. */
export const RECORD_ID_SYSTEM = 'https://caregaps.dev/fhir/NamingSystem/record-id';
/**
 * Extension on a group whose indicator is provisional (it reads a missing, partial or substitute cluster); its
 * valueString says which (DESIGN §3.4).
 */
export const PROVISIONAL_EXTENSION = 'https://caregaps.dev/fhir/StructureDefinition/provisional';

export interface MeasureReportOptions {
  /** The achievement date the results were evaluated on (YYYY-MM-DD). */
  asOf: string;
  /** The registries evaluated: they give each indicator's title and the order of groups. */
  registries: readonly CompiledRegistry[];
  /** Canonical URL prefix of the measures; a registry's measure is `<measureBase><registry id>`. */
  measureBase?: string;
  /** When the report was made (ISO date-time); defaults to now. */
  date?: string;
}

type Counts = Record<'initial-population' | 'denominator' | 'denominator-exception' | 'numerator', number>;

/**
 * How a status falls into the FHIR measure populations: patients on the register are the initial population; met,
 * gap and excepted are in the denominator; excepted (a personalised care adjustment) is a denominator exception;
 * met is the numerator. Not-applicable patients stay outside the denominator.
 */
function countsOf(status: IndicatorStatus | undefined): Counts {
  const inDenominator = status === 'met' || status === 'gap' || status === 'excepted';
  return {
    'initial-population': 1,
    denominator: inDenominator ? 1 : 0,
    'denominator-exception': status === 'excepted' ? 1 : 0,
    numerator: status === 'met' ? 1 : 0,
  };
}

function group(registry: CompiledRegistry, indicator: number, counts: Counts, withScore: boolean): MeasureReportGroup {
  const id = registry.indicatorIds[indicator]!;
  const code: CodeableConcept = {
    coding: [{ system: INDICATOR_SYSTEM, code: id, display: registry.registry.definition.indicators[indicator]!.title }],
  };
  const provisional = registry.provisional.indicators[id] ?? [];
  const out: MeasureReportGroup = {
    ...(provisional.length ? { extension: [{ url: PROVISIONAL_EXTENSION, valueString: provisionalReason(provisional) }] } : {}),
    code,
    population: (Object.keys(counts) as (keyof Counts)[]).map((population) => ({
      code: { coding: [{ system: POPULATION, code: population }] },
      count: counts[population],
    })),
  };
  // Proportion scoring: numerator ÷ (denominator − exceptions), which is the indicator's achievement.
  const base = counts.denominator - counts['denominator-exception'];
  if (withScore && base > 0) out.measureScore = { value: counts.numerator / base };
  return out;
}

function header(registry: CompiledRegistry, options: MeasureReportOptions, type: 'individual' | 'summary'): MeasureReport {
  const end = achievementDay(options.asOf);
  return {
    resourceType: 'MeasureReport',
    status: 'complete',
    type,
    measure: `${options.measureBase ?? 'https://caregaps.dev/fhir/Measure/'}${registry.id}`,
    date: options.date ?? new Date().toISOString(),
    period: { start: formatDay(qualityServiceStart(end)), end: options.asOf },
  };
}

function registryOf(options: MeasureReportOptions, id: string): CompiledRegistry {
  const registry = options.registries.find((r) => r.id === id);
  if (!registry) throw new Error(`result for registry ${id}, which is not among the registries given`);
  return registry;
}

/**
 * One patient's results in one registry as an individual MeasureReport: a group per indicator with the patient's
 * populations; with explanations, the records that decided are listed as evaluated resources.
 */
export function individualMeasureReport(result: PatientResult, options: MeasureReportOptions): MeasureReport {
  const registry = registryOf(options, result.registry);
  const report = header(registry, options, 'individual');
  report.subject = { identifier: { system: NHS_NUMBER_SYSTEM, value: result.nhsNumber } };
  report.group = registry.indicatorIds.map((id, i) => group(registry, i, countsOf(result.indicators[id]), false));
  if (result.explanation) {
    const ids = new Set<string>();
    const cascades = [result.explanation.register, ...Object.values(result.explanation.indicators).flatMap((e) => (e.numerator ? [e.denominator, e.numerator] : [e.denominator]))];
    for (const cascade of cascades) for (const fact of Object.values(cascade.facts)) for (const id of fact.records) ids.add(id);
    report.evaluatedResource = [...ids].map((value): Reference => ({ identifier: { system: RECORD_ID_SYSTEM, value } }));
  }
  return report;
}

/** Results of a population as one summary MeasureReport per registry, each group with counts and the score. */
export function summaryMeasureReports(results: Iterable<PatientResult>, options: MeasureReportOptions): MeasureReport[] {
  const totals = new Map<string, Counts[]>(
    options.registries.map((r) => [r.id, r.indicatorIds.map(() => ({ 'initial-population': 0, denominator: 0, 'denominator-exception': 0, numerator: 0 }))]),
  );
  for (const result of results) {
    const registry = registryOf(options, result.registry);
    registry.indicatorIds.forEach((id, i) => {
      const sum = totals.get(registry.id)![i]!;
      const one = countsOf(result.indicators[id]);
      for (const key of Object.keys(one) as (keyof Counts)[]) sum[key] += one[key];
    });
  }
  return options.registries.map((registry) => {
    const report = header(registry, options, 'summary');
    report.group = totals.get(registry.id)!.map((counts, i) => group(registry, i, counts, true));
    return report;
  });
}
