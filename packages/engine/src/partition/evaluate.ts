import type { PatientView, SeriesView } from '@caregaps/core';
import type { EventChunk, HotState } from './hot-state.js';

/**
 * One cluster's records of the patient being evaluated, gathered from the patient's block into typed arrays that
 * are reused from one evaluation to the next (no object per evaluation).
 */
class ClusterSeries implements SeriesView {
  length = 0;
  days = new Float64Array(8);
  /** Slot of each record in the chunk, for values, components and ids. */
  slots = new Int32Array(8);
  chunk: EventChunk | undefined;
  row = -1;
  /** Evaluation number the series was gathered for. */
  stamp = -1;
  private lastName = '';
  private lastNumber = -1;

  constructor(private readonly hot: HotState) {}

  component(name: string, at: number): number {
    const slot = this.slots[at]!;
    if (name === 'value') return this.chunk!.value[slot]!;
    if (name !== this.lastName) {
      this.lastName = name;
      this.lastNumber = this.hot.componentNumberOf(name);
    }
    return this.lastNumber < 0 ? Number.NaN : this.hot.component(this.chunk!, slot, this.lastNumber);
  }

  /** Read from the record store (the hot state holds handles): explanations, and a record counted once across clusters. */
  id(at: number): string {
    const handle = this.chunk!.handle[this.slots[at]!]!;
    const id = this.hot.idOf(this.row, handle);
    if (id === undefined) throw new Error(`the record store holds no event with handle ${handle} for NHS number ${this.hot.nhsNumber(this.row)}, which the hot state holds`);
    return id;
  }

  push(day: number, slot: number): void {
    if (this.length === this.days.length) {
      const days = new Float64Array(this.length * 2);
      days.set(this.days);
      this.days = days;
      const slots = new Int32Array(this.length * 2);
      slots.set(this.slots);
      this.slots = slots;
    }
    this.days[this.length] = day;
    this.slots[this.length++] = slot;
  }
}

/**
 * The patient view the compiled registries read (`CompiledRegistry.evaluate`), over one row of the hot state. One
 * view per partition, rebound to each patient in turn; a cluster's series is gathered from the patient's block the
 * first time a rule reads it in an evaluation.
 */
export class HotPatientView implements PatientView {
  birthDay = 0;
  registeredFrom = 0;
  registrationEnd = 0;
  private row = -1;
  private stamp = 0;
  /** Per cluster, created when a rule first reads it. */
  private readonly series: (ClusterSeries | undefined)[] = [];

  constructor(private readonly hot: HotState) {}

  /** Points the view at a patient (their patient record must have arrived). */
  bind(row: number): this {
    const hot = this.hot;
    this.row = row;
    this.birthDay = hot.birthDay[row]!;
    this.registeredFrom = hot.registeredFrom[row]!;
    this.registrationEnd = hot.end(row);
    this.stamp++;
    return this;
  }

  hasCluster(cluster: number): boolean {
    return this.hot.hasCluster(this.row, cluster);
  }

  seriesOf(cluster: number): SeriesView | undefined {
    const hot = this.hot;
    const row = this.row;
    if (!hot.hasCluster(row, cluster)) return undefined;
    const s = (this.series[cluster] ??= new ClusterSeries(hot));
    if (s.stamp === this.stamp) return s;
    s.stamp = this.stamp;
    s.length = 0;
    const chunk = hot.chunkOf(row)!;
    s.chunk = chunk;
    s.row = row;
    const start = hot.startOf(row);
    const end = start + hot.countOf(row);
    const sets = chunk.set;
    const days = chunk.day;
    for (let slot = start; slot < end; slot++) if (hot.setHas(sets[slot]!, cluster)) s.push(days[slot]!, slot);
    return s;
  }
}
