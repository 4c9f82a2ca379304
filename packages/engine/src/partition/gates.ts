import type { CompiledRegistry } from '@caregaps/core';

/** Registry bit masks are 32-bit integers: with more registries every one is checked on its own. */
const MASK_REGISTRIES = 30;

/**
 * The registries' register gates (`CompiledRegistry.gate`) over a partition's cluster bit masks (`HotState.clusterMask`,
 * `words` 32-bit words per patient). A gate is clauses of clusters; a registry is open to a patient when every clause
 * holds a cluster the patient has a record in. Closed, the patient cannot be on its register whatever the date.
 */
export class RegisterGates {
  /** Whether `openOf` gives registries as a bit mask (at most 30 registries). */
  readonly masked: boolean;
  /** Per cluster, the registries whose gate's first clause holds that cluster. */
  private readonly opens: Int32Array;
  /** Registries with no gate, as a bit mask. */
  private readonly ungated: number;
  /** Registries whose gate has several clauses, as a bit mask: when the first is met, the rest are checked. */
  private readonly multiple: number;
  // Registry r's clauses are `gateStart[r]` to `gateStart[r + 1]`, clause k's words `clauseStart[k]` to
  // `clauseStart[k + 1]`, each a word number of the patient's mask and the clause's bits in it.
  private readonly gateStart: Int32Array;
  private readonly clauseStart: Int32Array;
  private readonly gateWord: Int32Array;
  private readonly gateBits: Int32Array;

  constructor(
    registries: readonly CompiledRegistry[],
    private readonly words: number,
  ) {
    this.masked = registries.length <= MASK_REGISTRIES;
    this.opens = new Int32Array(words * 32);
    const gateStart = [0];
    const clauseStart = [0];
    const gateWord: number[] = [];
    const gateBits: number[] = [];
    let ungated = 0;
    let multiple = 0;
    registries.forEach((registry, r) => {
      if (registry.gate.length === 0) ungated |= 1 << r;
      else for (const c of registry.gate[0]!) this.opens[c]! |= 1 << r;
      if (registry.gate.length > 1) multiple |= 1 << r;
      for (const clause of registry.gate) {
        const bits = new Map<number, number>();
        for (const c of clause) bits.set(c >>> 5, (bits.get(c >>> 5) ?? 0) | (1 << (c & 31)));
        for (const [word, mask] of bits) {
          gateWord.push(word);
          gateBits.push(mask);
        }
        clauseStart.push(gateWord.length);
      }
      gateStart.push(clauseStart.length - 1);
    });
    this.ungated = ungated;
    this.multiple = multiple;
    this.gateStart = Int32Array.from(gateStart);
    this.clauseStart = Int32Array.from(clauseStart);
    this.gateWord = Int32Array.from(gateWord);
    this.gateBits = Int32Array.from(gateBits);
  }

  /**
   * The registries open to the patient whose cluster mask starts at `masks[at]`, as a bit mask (when `masked`): one
   * pass over the clusters the patient has records in, then the other clauses of gates whose first clause is met.
   */
  openOf(masks: Uint32Array, at: number): number {
    let open = this.ungated;
    const opens = this.opens;
    for (let w = 0; w < this.words; w++) {
      let bits = masks[at + w]! | 0;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits);
        bits ^= 1 << b;
        open |= opens[(w << 5) | b]!;
      }
    }
    let check = open & this.multiple;
    while (check !== 0) {
      const r = 31 - Math.clz32(check);
      check ^= 1 << r;
      if (!this.passes(masks, at, r)) open ^= 1 << r;
    }
    return open;
  }

  /** Whether registry r's gate is open to the patient whose cluster mask starts at `masks[at]`. */
  passes(masks: Uint32Array, at: number, r: number): boolean {
    const { clauseStart, gateWord, gateBits } = this;
    for (let k = this.gateStart[r]!, last = this.gateStart[r + 1]!; k < last; k++) {
      let hit = 0;
      for (let j = clauseStart[k]!, end = clauseStart[k + 1]!; j < end; j++) hit |= masks[at + gateWord[j]!]! & gateBits[j]!;
      if (hit === 0) return false;
    }
    return true;
  }
}
