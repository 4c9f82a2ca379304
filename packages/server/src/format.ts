import { publishedRate, type Published, type SuppressionPolicy } from '@caregaps/access';
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

/**
 * QOF achievement (met ÷ (met + gap)) and gross achievement (met ÷ (met + gap + excepted)) from published numbers
 * only, suppressed when any number they need is.
 */
export function achievement(
  counts: { met: Published; gap: Published; excepted: Published },
  suppression: SuppressionPolicy,
): { achievement: Published | null; gross: Published | null } {
  const isToken = (v: Published) => suppression.isSuppressed(v);
  const denominator = publishedSum(counts.met, counts.gap, isToken);
  const gross = publishedSum(denominator, counts.excepted, isToken);
  return { achievement: publishedRate(counts.met, denominator, isToken), gross: publishedRate(counts.met, gross, isToken) };
}
