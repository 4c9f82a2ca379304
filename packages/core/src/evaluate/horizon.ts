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

/**
 * The first achievement date after `achv` on which `f` (non-decreasing) reaches `target`
 * (`f ≥ target`, or `f > target` when `strict`), or Infinity within 120 years.
 */
export function firstDayReaching(f: (achv: number) => number, achv: number, target: number, strict: boolean): number {
  const reached = (d: number) => (strict ? f(d) > target : f(d) >= target);
  if (!Number.isFinite(target)) return Infinity;
  let step = 1;
  let lo = achv; // not reached (or the current date)
  let hi = achv + step;
  while (!reached(hi)) {
    lo = hi;
    step *= 2;
    hi = achv + step;
    if (step > SEARCH_LIMIT_DAYS) return Infinity;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (reached(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
