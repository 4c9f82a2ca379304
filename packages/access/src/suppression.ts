/** A published value: a (rounded) count, or the suppression token. */
export type Published = number | string;

/** Cells (id → true count) and the sums that hold between them: each parent equals the sum of its children. */
export interface SuppressionInput {
  cells: ReadonlyMap<string, number>;
  groups: readonly { parent: string; children: readonly string[] }[];
  /** Cells at national level, which need no disclosure control. */
  national?: ReadonlySet<string>;
}

/** A statistical disclosure control method, applied to every anonymised output. */
export interface SuppressionPolicy {
  readonly meta: { name: string; version: string; decides: string };
  /** Whether a published value is the suppression token. */
  isSuppressed(value: Published): boolean;
  publish(input: SuppressionInput): Map<string, Published>;
}

export interface NhsDigitalOptions {
  /** Counts from 1 to this are suppressed (default 7). */
  threshold?: number;
  /** Other counts are rounded to the nearest multiple of this (default 5). */
  base?: number;
  /** What a suppressed count is published as (default `*`). */
  token?: string;
  /** Suppress further cells so no suppressed cell can be had by subtracting published totals (default true). */
  secondary?: boolean;
}

/**
 * NHS Digital's disclosure control below national level: 0 stays 0, 1–7 are suppressed, every other count is
 * rounded to the nearest 5 (codonPython `suppress_value`). Then secondary suppression over every sum the table
 * holds (parent = Σ children), repeated until nothing changes: a published parent with exactly one suppressed
 * child, or with suppressed children that are all 1, has its smallest non-zero published child (or else the
 * parent itself) suppressed too; a suppressed parent whose children are all published has its smallest non-zero
 * child suppressed. So no suppressed cell is the difference of published numbers.
 */
export function nhsDigitalSuppression(options: NhsDigitalOptions = {}): SuppressionPolicy {
  const threshold = options.threshold ?? 7;
  const base = options.base ?? 5;
  const token = options.token ?? '*';
  const secondary = options.secondary !== false;
  return {
    meta: {
      name: 'nhs-digital-suppression',
      version: '1.0.0',
      decides: `sub-national counts: 0 stays 0, 1–${threshold} become ${token}, others round to the nearest ${base}${secondary ? '; secondary suppression across totals' : ''}`,
    },
    isSuppressed: (value) => value === token,
    publish(input) {
      const out = new Map<string, Published>();
      for (const [id, count] of input.cells) {
        if (input.national?.has(id)) out.set(id, count);
        else if (count === 0) out.set(id, 0);
        else if (count <= threshold) out.set(id, token);
        else out.set(id, Math.round(count / base) * base);
      }
      if (!secondary) return out;
      const suppressed = (id: string) => out.get(id) === token;
      const count = (id: string) => input.cells.get(id) ?? 0;
      /** The smallest non-zero published cell of a list (by true count, then id), if any. */
      const smallest = (ids: readonly string[]) =>
        ids.filter((c) => !suppressed(c) && count(c) > 0).sort((a, b) => count(a) - count(b) || (a < b ? -1 : 1))[0];
      let changed = true;
      while (changed) {
        changed = false;
        for (const group of input.groups) {
          if (!out.has(group.parent)) continue;
          const hidden = group.children.filter(suppressed);
          const parentHidden = suppressed(group.parent);
          let extra: string | undefined;
          if (parentHidden && hidden.length === 0) {
            // The parent would be the sum of its published children.
            extra = smallest(group.children);
          } else if (!parentHidden && hidden.length === 1) {
            // The child would be the parent minus its published siblings.
            extra = smallest(group.children) ?? group.parent;
          } else if (!parentHidden && hidden.length > 1 && hidden.reduce((sum, c) => sum + count(c), 0) <= hidden.length) {
            // Suppressed children that are all 1 would be pinned by their total.
            extra = smallest(group.children) ?? group.parent;
          }
          if (extra !== undefined && !suppressed(extra)) {
            out.set(extra, token);
            changed = true;
          }
        }
      }
      return out;
    },
  };
}

/** A rate in percent from published numbers: suppressed if either is, `null` when the denominator is 0. */
export function publishedRate(numerator: Published, denominator: Published, token: (v: Published) => boolean): Published | null {
  if (token(numerator) || token(denominator)) return typeof numerator === 'string' ? numerator : (denominator as string);
  if (denominator === 0) return null;
  return Math.round((1000 * (numerator as number)) / (denominator as number)) / 10;
}
