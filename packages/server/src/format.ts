import { publishedRate, type Published } from '@caregaps/access';
import { publishedSum } from '@caregaps/report';
import { esc } from './html.js';

/** A published count for a table cell (suppressed counts show their token). */
export function count(value: Published | null | undefined): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'number' ? value.toLocaleString('en-GB') : esc(value);
}

/** A published rate (already a percentage) to one decimal place. */
export function percent(value: Published | null | undefined): string {
  if (value === null || value === undefined) return '–';
  return typeof value === 'number' ? `${value.toFixed(1)}%` : esc(value);
}

/** Gross achievement, met ÷ (met + gap + excepted), from published numbers only (suppressed if any part is). */
export function grossAchievement(counts: { met: Published; denominator: Published; excepted: Published }, isSuppressed: (v: Published) => boolean): Published | null {
  return publishedRate(counts.met, publishedSum(counts.denominator, counts.excepted, isSuppressed), isSuppressed);
}
