/**
 * Calendar dates as day numbers (days since 1970-01-01, UTC). Rules compare integers, never Date objects.
 * @module
 */

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Day number of a calendar date (month 1–12, day within the month) in the proleptic Gregorian calendar, exact for
 * every year (0000–9999 included). Plain arithmetic (H. Hinnant's days_from_civil), no Date objects: this runs for
 * every record and every evaluation, and Date.UTC would read years below 100 as 1900–1999.
 */
function dayOf(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719468;
}

/** The value of `length` decimal digits at `at`, or -1 if any is not a digit. */
function digits(text: string, at: number, length: number): number {
  let n = 0;
  for (let i = at; i < at + length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** Day number of a valid `YYYY-MM-DD` date, or `undefined` when the text is not a real calendar date. */
export function parseDay(text: string): number | undefined {
  if (text.length !== 10 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return dayOf(year, month, day);
}

/** `YYYY-MM-DD` of a day number (years 0000–9999). */
export function formatDay(day: number): string {
  const [y, m, d] = civil(day);
  return `${String(y).padStart(4, '0')}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`;
}

/**
 * The dates a record may carry: from 1 January 1850 (the oldest patient record worth keeping) to 31 December 2199
 * (registrations and deaths are not recorded further ahead). A date outside is a typing or export error
 * (`0095-01-01`, `2202-01-01`), quarantined rather than read as a real patient's history. See docs/records.md.
 */
export const RECORD_DATE_RANGE = { first: '1850-01-01', last: '2199-12-31' } as const;
const FIRST_RECORD_DAY = -43829;
const LAST_RECORD_DAY = 84005;

/** Day number of a record date: a real `YYYY-MM-DD` calendar date within `RECORD_DATE_RANGE`, else `undefined`. */
export function parseRecordDay(text: string): number | undefined {
  const day = parseDay(text);
  return day !== undefined && day >= FIRST_RECORD_DAY && day <= LAST_RECORD_DAY ? day : undefined;
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return DAYS_IN_MONTH[month - 1]!;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

/** Year, month (1–12) and day of month of a day number (H. Hinnant's civil_from_days: arithmetic, no Date). */
function civil(day: number): [year: number, month: number, dayOfMonth: number] {
  const z = day + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, dayOfYear - Math.floor((153 * mp + 2) / 5) + 1];
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
  return dayOf(year, month, Math.min(d, daysInMonth(year, month)));
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
  if (bd > daysInMonth(year, bm)) return bm === 12 ? dayOf(year + 1, 1, 1) : dayOf(year, bm + 1, 1);
  return dayOf(year, bm, bd);
}

/**
 * Payment period end date (PPED) for an achievement date: the 31 March that ends the QOF year
 * (1 April – 31 March) containing it.
 */
export function paymentPeriodEnd(achievementDay: number): number {
  const [y, m] = civil(achievementDay);
  return dayOf(m >= 4 ? y + 1 : y, 3, 31);
}

/** Quality service start date (QSSD): 1 April that starts the QOF year containing the achievement date. */
export function qualityServiceStart(achievementDay: number): number {
  const [y, m] = civil(achievementDay);
  return dayOf(m >= 4 ? y : y - 1, 4, 1);
}
