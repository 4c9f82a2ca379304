import { withCheckDigit } from '../nhs-number.js';

/** First nine digits of the NHS test range (999 000 0000 onwards), never issued to real people. */
export const TEST_RANGE_START = 999_000_000;
const TEST_RANGE_END = 999_999_999;

/**
 * Assigns NHS test-range numbers to source patients that have none (Synthea, foreign data): the first patient seen
 * gets the first valid number from 999 000 0000, the next the next valid one, so the same input read in the same
 * order always gets the same numbers. Keys name the source patient, e.g. `fhir:Patient/8008b382…`.
 */
export class TestNumberAssigner {
  private readonly numbers = new Map<string, string>();
  private next: number;

  constructor(start = TEST_RANGE_START) {
    this.next = start;
  }

  /** The number for this source patient, assigning the next free one on first sight. */
  numberFor(key: string): string {
    let n = this.numbers.get(key);
    if (n !== undefined) return n;
    while (n === undefined) {
      if (this.next > TEST_RANGE_END) throw new RangeError('the NHS test range is exhausted');
      n = withCheckDigit(this.next++);
    }
    this.numbers.set(key, n);
    return n;
  }

  /** Every assignment so far, in order: source patient key → NHS number. */
  mapping(): Array<{ source: string; nhsNumber: string }> {
    return [...this.numbers].map(([source, nhsNumber]) => ({ source, nhsNumber }));
  }
}
