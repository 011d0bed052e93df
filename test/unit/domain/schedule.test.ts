/** schedule.ts: send windows, business days, working hours, offsets and anniversaries, including DST gaps and overlaps. */
import { DateTime } from 'luxon';
import {
  addBusinessDays,
  addOffset,
  anniversary,
  businessDaysBetween,
  DEFAULT_SEND_WINDOW,
  fitSendWindow,
  isValidZone,
  isWithinWorkingHours,
  nextBusinessDay,
  parseClock,
} from '../../../src/domain/schedule';
import { at, EVERY_DAY, MON_FRI, offset, wall } from './time';

const NY = 'America/New_York';
const SYD = 'Australia/Sydney';
const LON = 'Europe/London';

// DST changes used below (2026):
//   New York: Sun 8 March 02:00 EST -> 03:00 EDT (02:00-02:59 does not exist); Sun 1 Nov 02:00 EDT -> 01:00 EST (01:00-01:59 twice).
//   London:   Sun 29 March 01:00 GMT -> 02:00 BST;                               Sun 25 Oct 02:00 BST -> 01:00 GMT.
//   Sydney:   Sun 5 April 03:00 AEDT -> 02:00 AEST;                              Sun 4 Oct 02:00 AEST -> 03:00 AEDT.

describe('parseClock and isValidZone', () => {
  test.each([
    ['09:00', 540],
    ['00:00', 0],
    ['23:59', 1439],
    ['17:30', 1050],
    ['24:00', null],
    ['9:00', null],
    ['09:60', null],
    ['0900', null],
    ['', null],
    ['09:00:00', null],
  ])('parseClock(%j) = %j', (text, minutes) => {
    expect(parseClock(text)).toBe(minutes);
  });

  test.each([
    ['Australia/Sydney', true],
    ['America/New_York', true],
    ['Europe/London', true],
    ['Asia/Kolkata', true],
    ['UTC', true],
    ['Nowhere/Land', false],
    ['', false],
    ['Australia/sydney-ish', false],
  ])('isValidZone(%j) = %j', (zone, valid) => {
    expect(isValidZone(zone)).toBe(valid);
  });

  test('the default send window is Monday to Friday, 09:00 to 17:00', () => {
    expect(DEFAULT_SEND_WINDOW).toEqual({ days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' });
  });
});

describe('fitSendWindow', () => {
  test.each([
    { zone: NY, when: '2026-03-17T10:15', expected: '2026-03-17 10:15 Tue', why: 'inside the window: unchanged' },
    { zone: NY, when: '2026-03-17T09:00', expected: '2026-03-17 09:00 Tue', why: 'at the opening: unchanged' },
    {
      zone: NY,
      when: '2026-03-17T08:59',
      expected: '2026-03-17 09:00 Tue',
      why: 'just before the opening: the opening',
    },
    { zone: NY, when: '2026-03-17T17:00', expected: '2026-03-18 09:00 Wed', why: 'at the close: next day opening' },
    { zone: NY, when: '2026-03-17T18:30', expected: '2026-03-18 09:00 Wed', why: 'Tuesday 18:30: Wednesday 09:00' },
    {
      zone: NY,
      when: '2026-03-20T16:59',
      expected: '2026-03-20 16:59 Fri',
      why: 'Friday just before close: unchanged',
    },
    { zone: NY, when: '2026-03-20T17:30', expected: '2026-03-23 09:00 Mon', why: 'Friday evening: Monday 09:00' },
    { zone: NY, when: '2026-03-21T11:00', expected: '2026-03-23 09:00 Mon', why: 'Saturday: Monday 09:00' },
    { zone: NY, when: '2026-03-22T23:59', expected: '2026-03-23 09:00 Mon', why: 'late Sunday: Monday 09:00' },
    {
      zone: SYD,
      when: '2026-04-04T10:00',
      expected: '2026-04-06 09:00 Mon',
      why: 'Sydney Saturday before the April change: Monday AEST',
    },
    {
      zone: LON,
      when: '2026-03-28T12:00',
      expected: '2026-03-30 09:00 Mon',
      why: 'London Saturday before the March change: Monday BST',
    },
  ])('$why ($zone $when)', ({ zone, when, expected }) => {
    expect(wall(fitSendWindow(at(when, zone), zone, DEFAULT_SEND_WINDOW), zone)).toBe(expected);
  });

  test('an instant already inside the window is returned exactly', () => {
    const inside = at('2026-03-17T10:15:42.123', NY);
    expect(fitSendWindow(inside, NY, DEFAULT_SEND_WINDOW).getTime()).toBe(inside.getTime());
  });

  test('the window is judged in the given zone: one instant, three answers', () => {
    const instant = new Date('2026-03-20T22:30:00Z'); // Fri 18:30 New York, Sat 09:30 Sydney, Fri 22:30 London
    expect(wall(fitSendWindow(instant, NY, DEFAULT_SEND_WINDOW), NY)).toBe('2026-03-23 09:00 Mon');
    expect(wall(fitSendWindow(instant, SYD, DEFAULT_SEND_WINDOW), SYD)).toBe('2026-03-23 09:00 Mon');
    expect(wall(fitSendWindow(instant, 'Asia/Kolkata', DEFAULT_SEND_WINDOW), 'Asia/Kolkata')).toBe(
      '2026-03-23 09:00 Mon',
    );
    expect(fitSendWindow(new Date('2026-03-20T14:00:00Z'), 'UTC', DEFAULT_SEND_WINDOW).toISOString()).toBe(
      '2026-03-20T14:00:00.000Z',
    );
  });

  describe('custom window: Tuesdays and Thursdays 10:00-12:00', () => {
    const w = { days: [2, 4], start: '10:00', end: '12:00' };
    test.each([
      ['2026-03-16T11:00', '2026-03-17 10:00 Tue'],
      ['2026-03-17T11:00', '2026-03-17 11:00 Tue'],
      ['2026-03-17T12:00', '2026-03-19 10:00 Thu'],
      ['2026-03-19T12:01', '2026-03-24 10:00 Tue'],
      ['2026-03-22T09:00', '2026-03-24 10:00 Tue'],
    ])('%s -> %s', (when, expected) => {
      expect(wall(fitSendWindow(at(when, NY), NY, w), NY)).toBe(expected);
    });
  });

  test('a one-day window after its close waits a whole week', () => {
    const w = { days: [3], start: '09:00', end: '17:00' };
    expect(wall(fitSendWindow(at('2026-03-18T17:00', NY), NY, w), NY)).toBe('2026-03-25 09:00 Wed');
  });

  test('a weekend-only window', () => {
    const w = { days: [6, 7], start: '10:00', end: '14:00' };
    expect(wall(fitSendWindow(at('2026-03-18T12:00', NY), NY, w), NY)).toBe('2026-03-21 10:00 Sat');
    expect(wall(fitSendWindow(at('2026-03-21T14:00', NY), NY, w), NY)).toBe('2026-03-22 10:00 Sun');
  });

  test('a window with no days throws rather than looping', () => {
    expect(() => fitSendWindow(at('2026-03-18T12:00', NY), NY, { days: [], start: '09:00', end: '17:00' })).toThrow(
      /no open day/,
    );
  });

  describe('spring-forward gap: a window opening at a wall time that does not exist that day', () => {
    // New York 8 March: 02:00-02:59 does not exist, window opens "02:30". London 29 March: 01:00-01:59 does not exist, opens "01:30".
    const cases = [
      {
        zone: NY,
        start: '02:30',
        before: '2026-03-08T01:00',
        transition: '2026-03-08T07:00:00.000Z',
        after: ['2026-03-08T03:00', '2026-03-08T03:15'],
      },
      {
        zone: LON,
        start: '01:30',
        before: '2026-03-29T00:30',
        transition: '2026-03-29T01:00:00.000Z',
        after: ['2026-03-29T02:00', '2026-03-29T02:10'],
      },
    ];

    test.each(cases)(
      '$zone: from before the gap, the window opens once, that same day, just after the gap',
      ({ zone, start, before, transition }) => {
        const w = { days: EVERY_DAY, start, end: '17:00' };
        const opened = fitSendWindow(at(before, zone), zone, w);
        expect(wall(opened, zone).slice(0, 10)).toBe(before.slice(0, 10));
        expect(opened.getTime()).toBeGreaterThanOrEqual(new Date(transition).getTime());
        expect(opened.getTime()).toBeLessThanOrEqual(new Date(transition).getTime() + 30 * 60_000);
        expect(isWithinWorkingHours(opened, zone, w.days, w.start, w.end)).toBe(true);
      },
    );

    test.each(cases.flatMap((c) => c.after.map((when) => ({ ...c, when }))))(
      '$zone $when (wall clock already past $start, so inside the window) is returned unchanged',
      ({ zone, start, when }) => {
        // isWithinWorkingHours agrees it is inside; fitSendWindow must not push it later.
        const w = { days: EVERY_DAY, start, end: '17:00' };
        const instant = at(when, zone);
        expect(isWithinWorkingHours(instant, zone, w.days, w.start, w.end)).toBe(true);
        expect(wall(fitSendWindow(instant, zone, w), zone)).toBe(wall(instant, zone));
      },
    );
  });

  describe('fall-back overlap: a window 01:00-02:00 on the night 01:00-01:59 happens twice (New York, 1 Nov 2026)', () => {
    const w = { days: EVERY_DAY, start: '01:00', end: '02:00' };
    test.each([
      ['2026-11-01T05:30:00Z', 'first 01:30 (EDT)'],
      ['2026-11-01T06:30:00Z', 'second 01:30 (EST)'],
    ])('%s, the %s, is inside and unchanged', (iso) => {
      const instant = new Date(iso);
      expect(fitSendWindow(instant, NY, w).toISOString()).toBe(instant.toISOString());
    });

    test('before the window it opens at the first 01:00 (EDT), once', () => {
      expect(fitSendWindow(at('2026-11-01T00:30', NY), NY, w).toISOString()).toBe('2026-11-01T05:00:00.000Z');
    });

    test('at 02:00 EST (after both 01:xx hours) it waits for the next night', () => {
      const next = fitSendWindow(new Date('2026-11-01T07:00:00Z'), NY, w);
      expect(wall(next, NY)).toBe('2026-11-02 01:00 Mon');
      expect(offset(next, NY)).toBe('-05:00');
    });
  });
});

describe('nextBusinessDay', () => {
  test.each([
    {
      when: '2026-03-17T14:00',
      after: false,
      expected: '2026-03-17 09:00 Tue',
      why: 'a business day: that day at work start',
    },
    {
      when: '2026-03-17T07:00',
      after: false,
      expected: '2026-03-17 09:00 Tue',
      why: 'early on a business day: that day at work start',
    },
    { when: '2026-03-21T14:00', after: false, expected: '2026-03-23 09:00 Mon', why: 'Saturday: Monday' },
    { when: '2026-03-22T23:59', after: false, expected: '2026-03-23 09:00 Mon', why: 'late Sunday: Monday' },
    { when: '2026-03-17T14:00', after: true, expected: '2026-03-18 09:00 Wed', why: 'after a Tuesday: Wednesday' },
    { when: '2026-03-20T08:00', after: true, expected: '2026-03-23 09:00 Mon', why: 'after a Friday: Monday' },
    { when: '2026-03-21T08:00', after: true, expected: '2026-03-23 09:00 Mon', why: 'after a Saturday: Monday' },
    {
      when: '2026-03-06T16:00',
      after: true,
      expected: '2026-03-09 09:00 Mon',
      why: 'after a Friday across the March change: Monday 09:00 EDT',
    },
  ])('$why', ({ when, after, expected }) => {
    expect(wall(nextBusinessDay(at(when, NY), NY, MON_FRI, '09:00', after), NY)).toBe(expected);
  });

  test('work start defaults to 09:00 and can be changed', () => {
    expect(wall(nextBusinessDay(at('2026-03-21T12:00', NY), NY, MON_FRI), NY)).toBe('2026-03-23 09:00 Mon');
    expect(wall(nextBusinessDay(at('2026-03-21T12:00', NY), NY, MON_FRI, '07:45'), NY)).toBe('2026-03-23 07:45 Mon');
  });

  test('custom business days (Sunday to Thursday)', () => {
    const days = [7, 1, 2, 3, 4];
    expect(wall(nextBusinessDay(at('2026-03-20T12:00', NY), NY, days), NY)).toBe('2026-03-22 09:00 Sun');
  });

  test('the local date is taken in the given zone', () => {
    const instant = new Date('2026-03-22T02:00:00Z'); // Sat 22:00 in New York, Sun 13:00 in Sydney
    expect(wall(nextBusinessDay(instant, NY, [6]), NY)).toBe('2026-03-21 09:00 Sat');
    expect(wall(nextBusinessDay(instant, SYD, [6]), SYD)).toBe('2026-03-28 09:00 Sat');
  });

  test('no business days throws', () => {
    expect(() => nextBusinessDay(at('2026-03-20T12:00', NY), NY, [])).toThrow(/no business day/);
  });

  test('spring-forward gap: work starting at 02:30 on 8 March (New York) starts once, that day, just after the gap', () => {
    const start = nextBusinessDay(at('2026-03-08T00:15', NY), NY, EVERY_DAY, '02:30');
    expect(wall(start, NY).slice(0, 10)).toBe('2026-03-08');
    expect(offset(start, NY)).toBe('-04:00');
    expect(start.getTime()).toBeGreaterThanOrEqual(Date.parse('2026-03-08T07:00:00Z')); // 03:00 EDT
    expect(start.getTime()).toBeLessThanOrEqual(Date.parse('2026-03-08T07:30:00Z')); // 03:30 EDT
  });

  test('fall-back overlap: work starting at 01:30 on 1 November (New York) starts at the first 01:30, once', () => {
    const start = nextBusinessDay(at('2026-11-01T00:15', NY), NY, EVERY_DAY, '01:30');
    expect(start.toISOString()).toBe('2026-11-01T05:30:00.000Z');
    // From the second 01:30 (same local date) it is still that day's single start.
    expect(nextBusinessDay(new Date('2026-11-01T06:30:00Z'), NY, EVERY_DAY, '01:30').toISOString()).toBe(
      '2026-11-01T05:30:00.000Z',
    );
  });

  test('Sydney October change: a Monday after the gap night is 09:00 AEDT', () => {
    const start = nextBusinessDay(at('2026-10-03T12:00', SYD), SYD, MON_FRI);
    expect(wall(start, SYD)).toBe('2026-10-05 09:00 Mon');
    expect(start.toISOString()).toBe('2026-10-04T22:00:00.000Z');
  });
});

describe('addBusinessDays', () => {
  test.each([
    { when: '2026-03-20T15:00', count: 1, expected: '2026-03-23 09:00 Mon', why: 'Friday + 1: Monday' },
    { when: '2026-03-20T15:00', count: 2, expected: '2026-03-24 09:00 Tue', why: 'Friday + 2: Tuesday' },
    {
      when: '2026-03-19T15:00',
      count: 2,
      expected: '2026-03-23 09:00 Mon',
      why: 'Thursday + 2 (a no-answer retry): Monday',
    },
    { when: '2026-03-18T10:00', count: 3, expected: '2026-03-23 09:00 Mon', why: 'Wednesday + 3: Monday' },
    { when: '2026-03-16T10:00', count: 5, expected: '2026-03-23 09:00 Mon', why: 'Monday + 5: next Monday' },
    {
      when: '2026-03-21T10:00',
      count: 1,
      expected: '2026-03-23 09:00 Mon',
      why: 'Saturday + 1: Monday (the first business day after Saturday)',
    },
    { when: '2026-03-21T10:00', count: 2, expected: '2026-03-24 09:00 Tue', why: 'Saturday + 2: Tuesday' },
    {
      when: '2026-03-21T10:00',
      count: 0,
      expected: '2026-03-23 09:00 Mon',
      why: 'Saturday + 0: Monday (the next business day)',
    },
    {
      when: '2026-03-17T15:00',
      count: 0,
      expected: '2026-03-17 09:00 Tue',
      why: 'Tuesday + 0: that day at work start',
    },
    { when: '2026-03-06T15:00', count: 1, expected: '2026-03-09 09:00 Mon', why: 'Friday + 1 across the March change' },
    {
      when: '2026-10-30T15:00',
      count: 3,
      expected: '2026-11-04 09:00 Wed',
      why: 'Friday + 3 across the November change',
    },
  ])('$why', ({ when, count, expected }) => {
    expect(wall(addBusinessDays(at(when, NY), NY, MON_FRI, count), NY)).toBe(expected);
  });

  test('a custom work start is honoured', () => {
    expect(wall(addBusinessDays(at('2026-03-20T15:00', LON), LON, MON_FRI, 1, '08:15'), LON)).toBe(
      '2026-03-23 08:15 Mon',
    );
  });

  test('custom business days (Monday to Thursday)', () => {
    expect(wall(addBusinessDays(at('2026-03-19T15:00', NY), NY, [1, 2, 3, 4], 1), NY)).toBe('2026-03-23 09:00 Mon');
  });
});

describe('businessDaysBetween', () => {
  test.each([
    { from: '2026-03-17T09:00', to: '2026-03-17T17:00', count: 0, why: 'same day' },
    { from: '2026-03-20T16:00', to: '2026-03-23T08:00', count: 1, why: 'Friday to Monday (time of day ignored)' },
    { from: '2026-03-20T23:00', to: '2026-03-23T00:30', count: 1, why: 'late Friday to just after midnight Monday' },
    { from: '2026-03-16T09:00', to: '2026-03-23T09:00', count: 5, why: 'Monday to next Monday' },
    { from: '2026-03-20T09:00', to: '2026-03-26T09:00', count: 4, why: 'Friday to next Thursday' },
    { from: '2026-03-21T09:00', to: '2026-03-22T09:00', count: 0, why: 'Saturday to Sunday' },
    { from: '2026-03-23T09:00', to: '2026-03-20T09:00', count: 0, why: 'to before from' },
    { from: '2026-03-05T09:00', to: '2026-03-12T09:00', count: 5, why: 'a week across the March change' },
    { from: '2026-10-29T09:00', to: '2026-11-05T09:00', count: 5, why: 'a week across the November change' },
  ])('$why: $count', ({ from, to, count }) => {
    expect(businessDaysBetween(at(from, NY), at(to, NY), NY, MON_FRI)).toBe(count);
  });

  test('overdue by 3 business days: a task due Thursday is 3 business days overdue on Tuesday', () => {
    expect(businessDaysBetween(at('2026-03-19T09:00', NY), at('2026-03-24T10:00', NY), NY, MON_FRI)).toBe(3);
  });

  test('local dates are taken in the given zone', () => {
    const from = new Date('2026-03-20T12:00:00Z'); // Friday in both zones
    const to = new Date('2026-03-22T20:00:00Z'); // Sunday 16:00 in New York, Monday 07:00 in Sydney
    expect(businessDaysBetween(from, to, NY, MON_FRI)).toBe(0);
    expect(businessDaysBetween(from, to, SYD, MON_FRI)).toBe(1);
  });
});

describe('isWithinWorkingHours', () => {
  test.each([
    ['2026-03-17T09:00', true, 'at the start'],
    ['2026-03-17T16:59', true, 'just before the end'],
    ['2026-03-17T17:00', false, 'at the end'],
    ['2026-03-17T08:59', false, 'just before the start'],
    ['2026-03-21T12:00', false, 'a Saturday'],
    ['2026-03-22T12:00', false, 'a Sunday'],
  ])('%s: %s (%s)', (when, expected) => {
    expect(isWithinWorkingHours(at(when, NY), NY, MON_FRI, '09:00', '17:00')).toBe(expected);
  });

  test('the same instant is judged in each zone', () => {
    const instant = new Date('2026-03-17T14:00:00Z'); // Tue 10:00 New York, Wed 01:00 Sydney, 14:00 London, 19:30 Kolkata
    expect(isWithinWorkingHours(instant, NY, MON_FRI, '09:00', '17:00')).toBe(true);
    expect(isWithinWorkingHours(instant, SYD, MON_FRI, '09:00', '17:00')).toBe(false);
    expect(isWithinWorkingHours(instant, LON, MON_FRI, '09:00', '17:00')).toBe(true);
    expect(isWithinWorkingHours(instant, 'Asia/Kolkata', MON_FRI, '09:00', '17:00')).toBe(false);
    expect(isWithinWorkingHours(instant, 'Asia/Kolkata', MON_FRI, '09:00', '20:00')).toBe(true);
  });

  test('spring-forward gap (New York, 8 March, hours 02:30-17:00 every day)', () => {
    expect(isWithinWorkingHours(at('2026-03-08T01:59', NY), NY, EVERY_DAY, '02:30', '17:00')).toBe(false);
    expect(isWithinWorkingHours(new Date('2026-03-08T07:00:00Z'), NY, EVERY_DAY, '02:30', '17:00')).toBe(true); // 03:00 EDT
  });

  test('fall-back overlap (New York, 1 November, hours 01:00-02:00 every day): both 01:30s are inside', () => {
    expect(isWithinWorkingHours(new Date('2026-11-01T05:30:00Z'), NY, EVERY_DAY, '01:00', '02:00')).toBe(true);
    expect(isWithinWorkingHours(new Date('2026-11-01T06:30:00Z'), NY, EVERY_DAY, '01:00', '02:00')).toBe(true);
    expect(isWithinWorkingHours(new Date('2026-11-01T07:00:00Z'), NY, EVERY_DAY, '01:00', '02:00')).toBe(false); // 02:00 EST
  });
});

describe('addOffset', () => {
  test.each([
    {
      zone: NY,
      sold: '2026-01-31T10:00',
      off: { months: 1 },
      expected: '2026-02-28 10:00 Sat',
      why: '31 Jan + 1 month clamps to 28 Feb',
    },
    {
      zone: NY,
      sold: '2027-11-30T10:00',
      off: { months: 3 },
      expected: '2028-02-29 10:00 Tue',
      why: '30 Nov + 3 months lands on a leap day',
    },
    {
      zone: NY,
      sold: '2026-05-31T10:00',
      off: { months: 6 },
      expected: '2026-11-30 10:00 Mon',
      why: '31 May + 6 months clamps to 30 Nov',
    },
    {
      zone: NY,
      sold: '2026-03-01T10:00',
      off: { weeks: 2 },
      expected: '2026-03-15 10:00 Sun',
      why: 'weeks across the March change keep the wall time',
    },
    {
      zone: SYD,
      sold: '2026-04-04T23:30',
      off: { days: 1 },
      expected: '2026-04-05 23:30 Sun',
      why: 'a day across the April change (25 real hours)',
    },
    {
      zone: NY,
      sold: '2026-02-08T02:30',
      off: { months: 1 },
      expected: '2026-03-08 03:30 Sun',
      why: '02:30 on the gap day moves forward past the gap',
    },
  ])('$why', ({ zone, sold, off, expected }) => {
    expect(wall(addOffset(at(sold, zone), zone, off), zone)).toBe(expected);
  });

  test('a wall time in the fall-back overlap resolves to a single instant (the first, EDT)', () => {
    const dt = addOffset(at('2026-10-01T01:30', NY), NY, { months: 1 });
    expect(dt.toISOString()).toBe('2026-11-01T05:30:00.000Z');
  });

  test('the offset is applied in the customer zone, not UTC (a Sydney morning is the previous UTC day)', () => {
    // 1 March 08:00 in Sydney is 28 Feb 21:00Z; + 1 month is 1 April 08:00 Sydney, not 28 March.
    const dt = addOffset(at('2026-03-01T08:00', SYD), SYD, { months: 1 });
    expect(wall(dt, SYD)).toBe('2026-04-01 08:00 Wed');
  });

  test("equals luxon's plus for every kind of zone and offset, at random instants and around every DST change", () => {
    // DST both ways, half-hour and 45-minute offsets, no DST, and Lord Howe, whose DST shift is 30 minutes.
    const zones = [NY, SYD, 'Europe/Berlin', 'Asia/Kolkata', 'Asia/Kathmandu', 'UTC', 'Australia/Lord_Howe'];
    const offsets = [{ days: 7 }, { months: 1 }, { months: 3 }, { months: 7, days: 3 }, { years: 1 }, { weeks: 2 }, {}];
    const mismatches: string[] = [];
    const same = (soldAt: Date, zone: string, offset: (typeof offsets)[number]) => {
      const ours = addOffset(soldAt, zone, offset).toISOString();
      const luxon = DateTime.fromJSDate(soldAt, { zone }).plus(offset).toJSDate().toISOString();
      if (ours !== luxon)
        mismatches.push(`${zone} ${soldAt.toISOString()} + ${JSON.stringify(offset)}: ${ours}, luxon ${luxon}`);
    };
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 2_000; i++) {
      const soldAt = new Date(Date.UTC(2025, 0, 1) + Math.floor(random() * 4 * 365 * 86_400_000));
      same(soldAt, zones[i % zones.length], offsets[i % offsets.length]);
    }
    // Sales whose result lands on a transition day, every 30 minutes of the wall clock: gaps and overlaps.
    for (const zone of zones) {
      for (let day = DateTime.fromISO('2026-01-01', { zone }); day.year < 2028; day = day.plus({ days: 1 })) {
        if (day.offset === day.endOf('day').offset) continue;
        for (const offset of offsets) {
          const soldDay = day.minus(offset);
          for (let h = 0; h < 48; h++)
            same(soldDay.set({ hour: Math.floor(h / 2), minute: (h % 2) * 30 }).toJSDate(), zone, offset);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });
});

describe('fitSendWindow and nextBusinessDay without luxon', () => {
  // The luxon forms these functions had before taking the arithmetic path when the zone's offset does not change in
  // the days ahead: the reference they must equal, at random instants and around every DST change.
  const refAtMinutes = (day: DateTime, m: number) =>
    day.set({ hour: Math.floor(m / 60), minute: m % 60, second: 0, millisecond: 0 });
  function refFit(at: Date, zone: string, window: { days: number[]; start: string; end: string }): Date {
    const start = parseClock(window.start) ?? 540;
    const end = parseClock(window.end) ?? 1020;
    const local = DateTime.fromJSDate(at, { zone });
    for (let i = 0; i < 8; i++) {
      const day = local.plus({ days: i }).startOf('day');
      if (!window.days.includes(day.weekday)) continue;
      const open = refAtMinutes(day, start);
      const close = refAtMinutes(day, end);
      const wall = local.hour * 60 + local.minute;
      if (i === 0 && ((local >= open && local < close) || (wall >= start && wall < end))) return at;
      if (local < open) return open.toJSDate();
    }
    throw new Error('send window has no open day');
  }
  function refNext(at: Date, zone: string, days: number[], workStart: string, after: boolean): Date {
    const minutes = parseClock(workStart) ?? 540;
    const local = DateTime.fromJSDate(at, { zone }).startOf('day');
    for (let i = after ? 1 : 0; i < 15; i++) {
      const day = local.plus({ days: i });
      if (days.includes(day.weekday)) return refAtMinutes(day, minutes).toJSDate();
    }
    throw new Error('no business day in the week');
  }

  test('equal the luxon reference for every kind of zone and window, at random instants and around every DST change', () => {
    const zones = [NY, SYD, LON, 'Asia/Kolkata', 'Asia/Kathmandu', 'UTC', 'Australia/Lord_Howe', 'America/Santiago'];
    const windows = [
      DEFAULT_SEND_WINDOW,
      { days: [2, 4], start: '10:00', end: '12:00' },
      { days: [6, 7], start: '00:30', end: '23:30' },
      { days: EVERY_DAY, start: '02:30', end: '03:15' },
      { days: [3], start: '01:00', end: '02:00' },
    ];
    const callers: [number[], string][] = [
      [MON_FRI, '09:00'],
      [[7, 1, 2, 3, 4], '02:30'],
      [[6], '00:00'],
      [EVERY_DAY, '23:45'],
    ];
    const mismatches: string[] = [];
    const check = (at: Date, zone: string, i: number) => {
      const w = windows[i % windows.length];
      const ours = fitSendWindow(at, zone, w).toISOString();
      const ref = refFit(at, zone, w).toISOString();
      if (ours !== ref) mismatches.push(`fit ${zone} ${at.toISOString()} ${JSON.stringify(w)}: ${ours}, luxon ${ref}`);
      const [days, start] = callers[i % callers.length];
      const after = i % 3 === 0;
      const next = nextBusinessDay(at, zone, days, start, after).toISOString();
      const refN = refNext(at, zone, days, start, after).toISOString();
      if (next !== refN)
        mismatches.push(`next ${zone} ${at.toISOString()} ${days} ${start} ${after}: ${next}, luxon ${refN}`);
    };
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 3_000; i++)
      check(new Date(Date.UTC(2025, 0, 1) + Math.floor(random() * 4 * 365 * 86_400_000)), zones[i % zones.length], i);
    // Every 50 minutes (so every minute-of-hour phase comes round) of the fortnight before each transition and the
    // two days after it: gaps and overlaps ahead.
    let k = 0;
    for (const zone of zones) {
      for (let day = DateTime.fromISO('2026-01-01', { zone }); day.year < 2028; day = day.plus({ days: 1 })) {
        if (day.offset === day.endOf('day').offset) continue;
        for (let m = -15 * 24 * 60; m < 2 * 24 * 60; m += 50) check(day.plus({ minutes: m }).toJSDate(), zone, k++);
      }
    }
    expect(mismatches).toEqual([]);
  });
});

describe('anniversary', () => {
  test.each([
    { years: 1, expected: '2029-02-28 11:00 Wed' },
    { years: 2, expected: '2030-02-28 11:00 Thu' },
    { years: 3, expected: '2031-02-28 11:00 Fri' },
    { years: 4, expected: '2032-02-29 11:00 Sun' },
  ])('a 29 February 2028 sale: anniversary $years is $expected', ({ years, expected }) => {
    expect(wall(anniversary(at('2028-02-29T11:00', NY), NY, years), NY)).toBe(expected);
  });

  test('is taken on the local date: 29 Feb 07:00 in Sydney (28 Feb 20:00Z) -> 28 Feb 07:00 next year', () => {
    const sold = at('2028-02-29T07:00', SYD);
    expect(sold.toISOString()).toBe('2028-02-28T20:00:00.000Z');
    expect(wall(anniversary(sold, SYD, 1), SYD)).toBe('2029-02-28 07:00 Wed');
  });

  test('an instant that is 29 Feb in UTC but 1 March in Sydney has its anniversary on 1 March there', () => {
    const sold = new Date('2028-02-29T20:00:00Z');
    expect(wall(anniversary(sold, SYD, 1), SYD)).toBe('2029-03-01 07:00 Thu');
    expect(wall(anniversary(sold, 'UTC', 1), 'UTC')).toBe('2029-02-28 20:00 Wed');
  });

  test('keeps the wall time across DST (a July sale in Sydney, AEST, anniversary AEST; a January one AEDT)', () => {
    expect(offset(anniversary(at('2026-07-10T16:00', SYD), SYD, 1), SYD)).toBe('+10:00');
    expect(wall(anniversary(at('2026-01-10T16:00', SYD), SYD, 1), SYD)).toBe('2027-01-10 16:00 Sun');
    expect(offset(anniversary(at('2026-01-10T16:00', SYD), SYD, 1), SYD)).toBe('+11:00');
  });

  test('zero years is the sale itself', () => {
    const sold = at('2026-06-01T12:00', LON);
    expect(anniversary(sold, LON, 0).getTime()).toBe(sold.getTime());
  });
});
