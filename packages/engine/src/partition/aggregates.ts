/** Count changes at one practice since the last report: a delta per counter (layout as `CounterLayout`). */
export interface PracticeDelta {
  practice: string;
  delta: Int32Array;
}

/**
 * A partition's counts, per practice only: the organisation hierarchy lives with the router, which adds each
 * partition's practice deltas up the hierarchy (DESIGN §4: aggregates merged on the main thread). Changes
 * accumulate per practice until `takeDeltas`, so a report carries one vector per practice touched.
 */
export class PracticeCounters {
  private readonly pending = new Map<number, Int32Array>();

  constructor(
    private readonly width: number,
    private readonly practices: readonly string[],
  ) {}

  add(practice: number, k: number, delta: number): void {
    let vector = this.pending.get(practice);
    if (vector === undefined) {
      vector = new Int32Array(this.width);
      this.pending.set(practice, vector);
    }
    vector[k]! += delta;
  }

  /** The deltas since the last call (practices whose counters all came back to zero are left out). */
  takeDeltas(): PracticeDelta[] {
    const out: PracticeDelta[] = [];
    for (const [practice, delta] of this.pending) if (delta.some((d) => d !== 0)) out.push({ practice: this.practices[practice]!, delta });
    this.pending.clear();
    return out;
  }
}
