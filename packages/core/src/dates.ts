/**
 * Calendar dates as day numbers (days since 1970-01-01, UTC). Rules compare integers, never Date objects.
 * @module
 */

const MS_PER_DAY = 86_400_000;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Day number of a valid `YYYY-MM-DD` date, or `undefined` when the text is not a real calendar date. */
export function parseDay(text: string): number | undefined {
  const m = ISO_DATE.exec(text);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return Date.UTC(year, month - 1, day) / MS_PER_DAY;
}

/** `YYYY-MM-DD` of a day number. */
export function formatDay(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Year, month (1–12) and day of month of a day number. */
export function civil(day: number): [year: number, month: number, dayOfMonth: number] {
  const d = new Date(day * MS_PER_DAY);
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
}

/**
 * Calendar month arithmetic as the QOF business rules use it: the day of month is kept and clamped to the
 * length of the target month (31 August − 6 months = 28 or 29 February).
 */
export function addMonths(day: number, months: number): number {
  const [y, m, d] = civil(day);
  const index = y * 12 + (m - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  return Date.UTC(year, month - 1, Math.min(d, daysInMonth(year, month))) / MS_PER_DAY;
}

/** Age in completed years on `onDay` of someone born on `birthDay`. */
export function ageInYears(birthDay: number, onDay: number): number {
  const [by, bm, bd] = civil(birthDay);
  const [y, m, d] = civil(onDay);
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

/** The first day on which someone born on `birthDay` is `years` old (29 February birthdays turn on 1 March). */
export function dayOfAge(birthDay: number, years: number): number {
  const [by, bm, bd] = civil(birthDay);
  const year = by + years;
  if (bd > daysInMonth(year, bm)) return Date.UTC(year, bm, 1) / MS_PER_DAY;
  return Date.UTC(year, bm - 1, bd) / MS_PER_DAY;
}

/**
 * Payment period end date (PPED) for an achievement date: the 31 March that ends the QOF year
 * (1 April – 31 March) containing it.
 */
export function paymentPeriodEnd(achievementDay: number): number {
  const [y, m] = civil(achievementDay);
  return Date.UTC(m >= 4 ? y + 1 : y, 2, 31) / MS_PER_DAY;
}

/** Quality service start date (QSSD): 1 April that starts the QOF year containing the achievement date. */
export function qualityServiceStart(achievementDay: number): number {
  const [y, m] = civil(achievementDay);
  return Date.UTC(m >= 4 ? y : y - 1, 3, 1) / MS_PER_DAY;
}
