import type { CascadeExplanation, Explanation } from '@caregaps/core';

/**
 * An explanation with every fact that read a record the viewer may not see removed (its value, date and record
 * ids would show what the sharing filter hid). The rules' results stay: they are the registered practice's
 * statuses, shown under its registry-statuses category.
 */
export function visibleExplanation(explanation: Explanation, hidden: ReadonlySet<string>): Explanation {
  const cascade = (c: CascadeExplanation): CascadeExplanation => ({
    decidedBy: { ...c.decidedBy },
    steps: c.steps.map((s) => ({ ...s })),
    facts: Object.fromEntries(
      Object.entries(c.facts)
        .filter(([, fact]) => !fact.records.some((id) => hidden.has(id)))
        .map(([name, fact]) => [name, { value: fact.value, records: [...fact.records] }]),
    ),
  });
  const indicators: Explanation['indicators'] = {};
  for (const [id, indicator] of Object.entries(explanation.indicators)) {
    indicators[id] = { status: indicator.status, denominator: cascade(indicator.denominator), ...(indicator.numerator ? { numerator: cascade(indicator.numerator) } : {}) };
  }
  return { register: cascade(explanation.register), indicators };
}
