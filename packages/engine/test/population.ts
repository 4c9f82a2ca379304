import { formatDay, parseDay, withCheckDigit, type CaregapsRecord } from '@caregaps/core';
import { Prng } from '@caregaps/synthetic';

/** Reproducible random numbers in [0, 1) from a seed (the synthetic generator's PRNG), so failures reproduce. */
export function random(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.float();
}

/**
 * A record stream for a small population: patients (some arriving after their events, some moving practice or
 * dying), events with real codes, corrections under the same id and retractions.
 */
export function population(patients: number, codes: readonly string[], seed = 1): CaregapsRecord[] {
  const rnd = random(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd() * list.length)]!;
  const dayIn = (from: string, to: string) => formatDay(parseDay(from)! + Math.floor(rnd() * (parseDay(to)! - parseDay(from)!)));
  const records: CaregapsRecord[] = [];
  const late: CaregapsRecord[] = [];
  let stem = 900100000;
  let eventNumber = 0;
  for (let p = 0; p < patients; p++) {
    let nhsNumber: string | undefined;
    while (!nhsNumber) nhsNumber = withCheckDigit(stem++);
    const patient: CaregapsRecord = {
      kind: 'patient',
      nhsNumber,
      birthDate: dayIn('1930-01-01', '2010-01-01'),
      sex: pick(['female', 'male'] as const),
      practice: pick(['P1', 'P2', 'P3', 'P9']),
      registeredFrom: dayIn('2000-01-01', '2025-06-01'),
      registeredTo: null,
      deathDate: rnd() < 0.05 ? dayIn('2025-01-01', '2026-01-01') : null,
    };
    if (rnd() < 0.2) late.push(patient);
    else records.push(patient);
    const events = 1 + Math.floor(rnd() * 8);
    for (let e = 0; e < events; e++) {
      const id = `S:${++eventNumber}`;
      const event: CaregapsRecord = { kind: 'event', id, nhsNumber, code: pick(codes), date: dayIn('2020-01-01', '2025-12-31') };
      if (rnd() < 0.6) event.value = 35 + Math.floor(rnd() * 50);
      records.push(event);
      if (rnd() < 0.1) records.push({ ...event, date: dayIn('2024-01-01', '2025-03-31') });
      if (rnd() < 0.05) records.push({ kind: 'retract', id, nhsNumber });
    }
    if (rnd() < 0.05) records.push({ ...patient, practice: pick(['P1', 'P2', 'P3']) });
  }
  return [...records, ...late];
}
