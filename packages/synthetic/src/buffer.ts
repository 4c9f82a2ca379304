/**
 * One patient's events as parallel typed arrays, reused from patient to patient, so a ten-year history of a hundred
 * records allocates no object per event. Events are sorted by date (ties in the order they were added) through one
 * typed-array sort of packed keys.
 * @module
 */

/** Days are stored offset so that every day from 1700 on packs as a non-negative key. */
const DAY_OFFSET = 100_000;
/** Events per patient are numbered in 20 bits of the sort key. */
export const MAX_EVENTS_PER_PATIENT = (1 << 20) - 1;
const SERIAL = 1 << 20;

export class EventBuffer {
  length = 0;
  day = new Int32Array(512);
  /** Index of the event's code in the generator's code table. */
  fact = new Int32Array(512);
  /** The value (NaN: none); for blood pressure, the systolic reading. */
  value = new Float64Array(512);
  /** The diastolic reading of a blood pressure (NaN otherwise). */
  diastolic = new Float64Array(512);
  private keys = new Float64Array(512);

  clear(): void {
    this.length = 0;
  }

  push(fact: number, day: number, value = NaN, diastolic = NaN): void {
    if (this.length === this.day.length) this.grow();
    const i = this.length++;
    this.fact[i] = fact;
    this.day[i] = day;
    this.value[i] = value;
    this.diastolic[i] = diastolic;
  }

  /** Event indices in date order, ties in insertion order: valid until the next `push` or `clear`. */
  order(): Float64Array {
    const keys = this.keys.subarray(0, this.length);
    for (let i = 0; i < this.length; i++) keys[i] = (this.day[i]! + DAY_OFFSET) * SERIAL + i;
    keys.sort();
    for (let i = 0; i < this.length; i++) keys[i] = keys[i]! % SERIAL;
    return keys;
  }

  private grow(): void {
    const size = this.day.length * 2;
    const copy = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.day = copy(this.day, (n) => new Int32Array(n));
    this.fact = copy(this.fact, (n) => new Int32Array(n));
    this.value = copy(this.value, (n) => new Float64Array(n));
    this.diastolic = copy(this.diastolic, (n) => new Float64Array(n));
    this.keys = new Float64Array(size);
  }
}
