/**
 * The limits every input string and date must keep, so that what is accepted is also what Postgres, JSON and the
 * date libraries accept. Pure: the API's validation policy, the import and the services all ask these functions.
 */

/** MIN_INPUT_YEAR and MAX_INPUT_YEAR bound the calendar year of any date or instant taken as input. */
export const MIN_INPUT_YEAR = 1900;
export const MAX_INPUT_YEAR = 2200;

/** yearInRange tells whether a calendar year may be taken as input. */
export function yearInRange(year: number): boolean {
  return Number.isInteger(year) && year >= MIN_INPUT_YEAR && year <= MAX_INPUT_YEAR;
}

/** DATE_RANGE_REASON is the message for a date or instant outside the years accepted. */
export const DATE_RANGE_REASON = `must be within the years ${MIN_INPUT_YEAR} to ${MAX_INPUT_YEAR}`;

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * textProblem says why a string cannot be stored, or null when it can: Postgres text refuses the NUL character, and
 * jsonb (and UTF-8 itself) refuse an unpaired surrogate.
 */
export function textProblem(s: string): string | null {
  if (s.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(s)) return 'must not contain an unpaired surrogate (invalid Unicode)';
  return null;
}

// eslint-disable-next-line no-control-regex -- NUL is exactly what this must find
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** storableText replaces what textProblem refuses with U+FFFD, for text that quotes refused input (a rejection). */
export function storableText(s: string): string {
  return s.replace(UNSTORABLE, '\uFFFD');
}
