/**
 * Calendar arithmetic in a customer's or staff member's own time zone: send windows, business days and
 * anniversaries. Every function is pure: the instant and the zone come in, an instant goes out.
 */
import { DateTime, IANAZone } from 'luxon';
import type { SendWindow, StepOffset } from './types';

/** DEFAULT_SEND_WINDOW is Monday to Friday, 09:00 to 17:00 local. */
export const DEFAULT_SEND_WINDOW: SendWindow = { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' };

const KNOWN_ZONES = new Set<string>();

/** isValidZone tells whether an IANA zone name is known to the runtime. */
export function isValidZone(zone: string): boolean {
  // Luxon builds an Intl.DateTimeFormat for every check, a cost paid on each sale; the runtime's zones never change.
  if (KNOWN_ZONES.has(zone)) return true;
  const valid = IANAZone.isValidZone(zone);
  if (valid && KNOWN_ZONES.size < 1000) KNOWN_ZONES.add(zone);
  return valid;
}

/** parseClock turns "HH:mm" into minutes after midnight, or null when malformed. */
export function parseClock(hhmm: string): number | null {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

function atMinutes(day: DateTime, minutes: number): DateTime {
  // Luxon moves a wall time that falls in a DST gap forward, so the result always exists exactly once.
  return day.set({ hour: Math.floor(minutes / 60), minute: minutes % 60, second: 0, millisecond: 0 });
}

/**
 * addOffset adds a step's calendar offset to the sale time in `zone`. Month and year arithmetic clamps to the end
 * of a shorter month, so a 29 February sale has its anniversary on 28 February in other years.
 */
export function addOffset(soldAt: Date, zone: string, offset: StepOffset): DateTime {
  return DateTime.fromJSDate(soldAt, { zone }).plus({
    years: offset.years ?? 0,
    months: offset.months ?? 0,
    weeks: offset.weeks ?? 0,
    days: offset.days ?? 0,
  });
}

/**
 * fitSendWindow returns the first instant at or after `at` that lies inside the window, in `zone`: unchanged when
 * already inside, else the opening of the next allowed day.
 */
export function fitSendWindow(at: Date, zone: string, window: SendWindow): Date {
  const start = parseClock(window.start) ?? 9 * 60;
  const end = parseClock(window.end) ?? 17 * 60;
  const local = DateTime.fromJSDate(at, { zone });
  for (let i = 0; i < 8; i++) {
    const day = local.plus({ days: i }).startOf('day');
    if (!window.days.includes(day.weekday)) continue;
    const open = atMinutes(day, start);
    const close = atMinutes(day, end);
    // Inside by instant, or by wall clock: an opening in a DST gap moves past the gap (02:30 -> 03:30), yet 03:00
    // is already after the window's start on the clock.
    const wall = local.hour * 60 + local.minute;
    if (i === 0 && ((local >= open && local < close) || (wall >= start && wall < end))) return at;
    if (local < open) return open.toJSDate();
  }
  throw new Error('send window has no open day');
}

/**
 * nextBusinessDay returns the start of working hours on the first business day on or after `at`'s local date
 * (or strictly after it when `after` is set), in `zone`.
 */
export function nextBusinessDay(at: Date, zone: string, days: number[], workStart = '09:00', after = false): Date {
  const minutes = parseClock(workStart) ?? 9 * 60;
  const local = DateTime.fromJSDate(at, { zone }).startOf('day');
  for (let i = after ? 1 : 0; i < 15; i++) {
    const day = local.plus({ days: i });
    if (days.includes(day.weekday)) return atMinutes(day, minutes).toJSDate();
  }
  throw new Error('no business day in the week');
}

/** addBusinessDays moves `count` business days after `at`'s local date, to the start of working hours. */
export function addBusinessDays(at: Date, zone: string, days: number[], count: number, workStart = '09:00'): Date {
  let current = at;
  for (let i = 0; i < count; i++) current = nextBusinessDay(current, zone, days, workStart, true);
  return count === 0 ? nextBusinessDay(at, zone, days, workStart) : current;
}

/** businessDaysBetween counts business days strictly after `from`'s local date up to and including `to`'s. */
export function businessDaysBetween(from: Date, to: Date, zone: string, days: number[]): number {
  let day = DateTime.fromJSDate(from, { zone }).startOf('day').plus({ days: 1 });
  const last = DateTime.fromJSDate(to, { zone }).startOf('day');
  let count = 0;
  while (day <= last) {
    if (days.includes(day.weekday)) count++;
    day = day.plus({ days: 1 });
  }
  return count;
}

/** isWithinWorkingHours tells whether `at` falls on a working day between start and end, in `zone`. */
export function isWithinWorkingHours(at: Date, zone: string, days: number[], start: string, end: string): boolean {
  const local = DateTime.fromJSDate(at, { zone });
  const minutes = local.hour * 60 + local.minute;
  return days.includes(local.weekday) && minutes >= (parseClock(start) ?? 540) && minutes < (parseClock(end) ?? 1020);
}

/** anniversary returns the `years`th anniversary of `soldAt` in `zone` (29 February falls back to 28 February). */
export function anniversary(soldAt: Date, zone: string, years: number): Date {
  return addOffset(soldAt, zone, { years }).toJSDate();
}
