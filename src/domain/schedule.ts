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

/**
 * wallClock is the ISO weekday and minutes after midnight that a clock in `zone` shows at `at`: the instant shifted by
 * the zone's offset then, as luxon computes a DateTime's fields (without building one).
 */
export function wallClock(at: Date, zone: string): { weekday: number; minutes: number } {
  const local = new Date(at.getTime() + IANAZone.create(zone).offset(at.getTime()) * 60_000);
  return { weekday: local.getUTCDay() || 7, minutes: local.getUTCHours() * 60 + local.getUTCMinutes() };
}

const clocks = new Map<string, number | null>();

/** parseClock turns "HH:mm" into minutes after midnight, or null when malformed. Memoised: a plan asks for few. */
export function parseClock(hhmm: string): number | null {
  let minutes = clocks.get(hhmm);
  if (minutes === undefined) {
    const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
    minutes = m ? Number(m[1]) * 60 + Number(m[2]) : null;
    if (clocks.size < 1000) clocks.set(hhmm, minutes);
  }
  return minutes;
}

function atMinutes(day: DateTime, minutes: number): DateTime {
  // Luxon moves a wall time that falls in a DST gap forward, so the result always exists exactly once.
  return day.set({ hour: Math.floor(minutes / 60), minute: minutes % 60, second: 0, millisecond: 0 });
}

/**
 * addOffset adds a step's calendar offset to the sale time in `zone`. Month and year arithmetic clamps to the end
 * of a shorter month, so a 29 February sale has its anniversary on 28 February in other years. A wall time that the
 * result's day skips (a DST gap) moves forward by the gap. This is luxon's `plus` done on the wall clock directly
 * (test/unit/domain/schedule.test.ts holds them equal): it runs for every step of every plan.
 */
export function addOffset(soldAt: Date, zone: string, offset: StepOffset): Date {
  const { years = 0, months = 0, weeks = 0, days = 0 } = offset;
  if (![years, months, weeks, days].every(Number.isInteger)) {
    return DateTime.fromJSDate(soldAt, { zone }).plus({ years, months, weeks, days }).toJSDate();
  }
  const tz = IANAZone.create(zone);
  const ts = soldAt.getTime();
  const before = tz.offset(ts);
  const wall = new Date(ts + before * 60_000);
  const year = wall.getUTCFullYear() + years;
  const month = wall.getUTCMonth() + months; // 0-based, may run past December: Date.UTC carries it
  const day = Math.min(wall.getUTCDate(), daysInMonth(year, month)) + days + weeks * 7;
  const local = Date.UTC(
    year,
    month,
    day,
    wall.getUTCHours(),
    wall.getUTCMinutes(),
    wall.getUTCSeconds(),
    wall.getUTCMilliseconds(),
  );
  return new Date(localToInstant(local, before, tz));
}

/** daysInMonth is the length of 0-based `month` of `year`, either of which may be carried (month 12 is January). */
function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

/**
 * localToInstant turns a wall time (as UTC milliseconds) into the instant it names in `tz`, starting from a guessed
 * offset: luxon's rule, so a time in a DST gap moves forward and an ambiguous one takes the guess when it fits.
 */
function localToInstant(local: number, guess: number, tz: IANAZone): number {
  let utc = local - guess * 60_000;
  const o2 = tz.offset(utc);
  if (o2 === guess) return utc;
  utc -= (o2 - guess) * 60_000;
  const o3 = tz.offset(utc);
  if (o2 === o3) return utc;
  return local - Math.min(o2, o3) * 60_000;
}

const DAY_MS = 86_400_000;

/** A zone's offset over a span of local days, or null when it changes in the span; keyed by zone and first local day. */
const steadyOffsets = new Map<string, number | null>();

/**
 * steadyOffset is `zone`'s UTC offset (minutes) when it is the same over every instant of local days `from` to
 * `from + days - 1` (whatever the offset, those lie between 14 hours before UTC midnight of `from` and 12 hours after
 * that of `from + days`), else null. Over such a span local dates and wall times map to instants by plain arithmetic,
 * with no gap or overlap to resolve, so the answers below equal luxon's without building a DateTime. As in the zone
 * offset cache, offsets equal at points a day apart count as constant between them (no zone changes twice a day).
 */
function steadyOffset(zone: string, from: number, days: number): number | null {
  const key = `${zone}|${from}|${days}`;
  let found = steadyOffsets.get(key);
  if (found === undefined) {
    const tz = IANAZone.create(zone);
    const first = from * DAY_MS - 14 * 3_600_000;
    const last = (from + days) * DAY_MS + 12 * 3_600_000;
    found = tz.offset(first);
    for (let t = first + DAY_MS; found !== null; t += DAY_MS) {
      if (tz.offset(Math.min(t, last)) !== found) found = null;
      if (t >= last) break;
    }
    if (steadyOffsets.size >= 100_000) steadyOffsets.clear();
    steadyOffsets.set(key, found);
  }
  return found;
}

/** localDay is the number of the local date (days since 1970-01-01) that a clock `offset` minutes from UTC shows at `ms`. */
const localDay = (ms: number, offset: number) => Math.floor((ms + offset * 60_000) / DAY_MS);

/** isoWeekday is the ISO weekday (1 Monday .. 7 Sunday) of a local day number (day 0 was a Thursday). */
const isoWeekday = (day: number) => ((((day + 3) % 7) + 7) % 7) + 1;

/**
 * fitSendWindow returns the first instant at or after `at` that lies inside the window, in `zone`: unchanged when
 * already inside, else the opening of the next allowed day.
 */
export function fitSendWindow(at: Date, zone: string, window: SendWindow): Date {
  const start = parseClock(window.start) ?? 9 * 60;
  const end = parseClock(window.end) ?? 17 * 60;
  // Most instants are already inside: the wall clock from the zone's offset says so without building a DateTime.
  const wall = wallClock(at, zone);
  if (window.days.includes(wall.weekday) && wall.minutes >= start && wall.minutes < end) return at;
  // With no offset change in the days ahead, the next opening is arithmetic on the local date.
  const ms = at.getTime();
  const today = localDay(ms, IANAZone.create(zone).offset(ms));
  const offset = steadyOffset(zone, today, 8);
  if (offset !== null) {
    for (let i = 0; i < 8; i++) {
      if (!window.days.includes(isoWeekday(today + i))) continue;
      const open = (today + i) * DAY_MS + (start - offset) * 60_000;
      const close = (today + i) * DAY_MS + (end - offset) * 60_000;
      if (i === 0 && ms >= open && ms < close) return at;
      if (ms < open) return new Date(open);
    }
    throw new Error('send window has no open day');
  }
  return fitSendWindowAcrossChange(at, zone, window, start, end);
}

/** fitSendWindowAcrossChange is fitSendWindow when the zone's offset changes in the days ahead: luxon resolves it. */
function fitSendWindowAcrossChange(at: Date, zone: string, window: SendWindow, start: number, end: number): Date {
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
  // With no offset change in the fortnight ahead, the day and its start are arithmetic on the local date.
  const ms = at.getTime();
  const today = localDay(ms, IANAZone.create(zone).offset(ms));
  const offset = steadyOffset(zone, today, 15);
  if (offset !== null) {
    for (let i = after ? 1 : 0; i < 15; i++)
      if (days.includes(isoWeekday(today + i))) return new Date((today + i) * DAY_MS + (minutes - offset) * 60_000);
    throw new Error('no business day in the week');
  }
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
  return addOffset(soldAt, zone, { years });
}
