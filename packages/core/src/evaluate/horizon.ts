import { paymentPeriodEnd, qualityServiceStart } from '../dates.js';
import { applyOffset, type Anchor, type DateExpression } from '../rules/date-expression.js';

/** The anchor dates of one achievement date. */
export interface AnchorDates {
  ACHV_DAT: number;
  PPED: number;
  QSSD: number;
}

export function anchorDates(achievementDay: number): AnchorDates {
  return { ACHV_DAT: achievementDay, PPED: paymentPeriodEnd(achievementDay), QSSD: qualityServiceStart(achievementDay) };
}

const ANCHOR_OF: Record<Anchor, (achv: number) => number> = {
  ACHV_DAT: (a) => a,
  PPED: paymentPeriodEnd,
  QSSD: qualityServiceStart,
};

/** An anchored date expression as a function of the achievement date. It never decreases as time passes. */
export function anchoredFunction(expr: DateExpression & { term: { anchor: Anchor } }): (achv: number) => number {
  const anchor = ANCHOR_OF[expr.term.anchor];
  return (achv) => applyOffset(expr, anchor(achv));
}

const SEARCH_LIMIT_DAYS = 366 * 120;
/** Days after the achievement date whose values a `MovingDate` memoises (beyond, it computes them each time). */
const MEMO_DAYS = 2048;
/** Memo slots: a day's value sits in slot `day mod MEMO_SLOTS`, tagged with the day. */
const MEMO_SLOTS = MEMO_DAYS + 1;

/**
 * A date that moves with the achievement date (non-decreasing), with its values on the days after the achievement
 * date memoised: horizons ask when it reaches a record's date for every patient evaluated on the same date, and
 * each value takes calendar arithmetic. A value depends on its day alone, so the memo, tagged by day, stays valid
 * when the achievement date moves (advancing one day clears nothing).
 */
export class MovingDate {
  private readonly memo = new Float64Array(MEMO_SLOTS);
  private readonly memoDay = new Float64Array(MEMO_SLOTS).fill(Number.NaN);

  constructor(readonly at: (achv: number) => number) {}

  /**
   * The first achievement date after `achv` on which the date reaches `target` (`≥ target`, or `> target` when
   * `strict`), or Infinity within 120 years.
   */
  firstDayReaching(achv: number, target: number, strict: boolean): number {
    if (!Number.isFinite(target)) return Infinity;
    let step = 1;
    let lo = 0; // days after achv: not reached (or the current date)
    let hi = step;
    while (!this.reached(achv, hi, target, strict)) {
      lo = hi;
      step *= 2;
      hi = step;
      if (step > SEARCH_LIMIT_DAYS) return Infinity;
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.reached(achv, mid, target, strict)) hi = mid;
      else lo = mid;
    }
    return achv + hi;
  }

  private reached(achv: number, after: number, target: number, strict: boolean): boolean {
    const day = achv + after;
    let value: number;
    if (after <= MEMO_DAYS) {
      const slot = ((day % MEMO_SLOTS) + MEMO_SLOTS) % MEMO_SLOTS;
      if (this.memoDay[slot] === day) value = this.memo[slot]!;
      else {
        value = this.memo[slot] = this.at(day);
        this.memoDay[slot] = day;
      }
    } else value = this.at(day);
    return strict ? value > target : value >= target;
  }
}
