import { addMonths, parseDay } from '../dates.js';

/** The dates every registry can refer to (BR-DM-v46 §3: ACHV_DAT, PPED, QSSD). */
export const ANCHORS = ['ACHV_DAT', 'PPED', 'QSSD'] as const;
export type Anchor = (typeof ANCHORS)[number];

export type DateTerm = { anchor: Anchor } | { day: number } | { field: string };

/** A parsed date expression: a term and an optional signed offset. */
export interface DateExpression {
  term: DateTerm;
  offset: { amount: number; unit: 'days' | 'months' } | undefined;
  text: string;
}

const EXPR = /^\s*([A-Z][A-Z0-9_]*|\d{4}-\d{2}-\d{2})\s*(?:([+-])\s*(\d{1,4})\s*(days?|months?|years?))?\s*$/;

/** Parses `PPED - 12 months`, `DMINVITE1_DAT + 7 days`, `2023-04-01`; `undefined` when malformed. */
export function parseDateExpression(text: string): DateExpression | undefined {
  const m = EXPR.exec(text);
  if (!m) return undefined;
  const [, name, sign, amountText, unitText] = m as unknown as [string, string, string?, string?, string?];
  let term: DateTerm;
  if (/^\d/.test(name)) {
    const day = parseDay(name);
    if (day === undefined) return undefined;
    term = { day };
  } else if ((ANCHORS as readonly string[]).includes(name)) {
    term = { anchor: name as Anchor };
  } else {
    term = { field: name };
  }
  let offset: DateExpression['offset'];
  if (sign && amountText && unitText) {
    const n = Number(amountText) * (sign === '-' ? -1 : 1);
    offset = unitText.startsWith('day')
      ? { amount: n, unit: 'days' }
      : { amount: unitText.startsWith('year') ? n * 12 : n, unit: 'months' };
  }
  return { term, offset, text };
}

/** Applies an expression's offset to the term's day number. */
export function applyOffset(expr: DateExpression, day: number): number {
  if (!expr.offset) return day;
  return expr.offset.unit === 'days' ? day + expr.offset.amount : addMonths(day, expr.offset.amount);
}
