/** later-years.ts: which customer year contains an instant, anniversaries from the anchor (29 February), the contact. */
import {
  candidateCutoff,
  laterYearAt,
  laterYearSpan,
  laterYearStep,
  laterYearTouch,
  laterYearsStart,
  type LaterYearTouchInput,
} from '../../../src/domain/later-years';
import { DEFAULT_SEND_WINDOW } from '../../../src/domain/schedule';
import { validateTemplate } from '../../../src/channels/templates';
import { at, MON_FRI, wall } from './time';

const SYD = 'Australia/Sydney';
const NY = 'America/New_York';

describe('laterYearAt', () => {
  // A sale at 01:03 local on Monday 2 November 2026 in Sydney (14:03 UTC on the 1st).
  const anchor = at('2026-11-02T01:03', SYD);

  test('is null through the first year, up to the instant before the first anniversary', () => {
    expect(laterYearAt(anchor, SYD, anchor)).toBeNull();
    expect(laterYearAt(anchor, SYD, at('2027-11-02T01:02', SYD))).toBeNull();
  });

  test('year 2 starts exactly at the first anniversary and ends at the second', () => {
    const span = laterYearAt(anchor, SYD, at('2027-11-02T01:03', SYD))!;
    expect(span.year).toBe(2);
    expect(wall(span.startsAt, SYD)).toBe('2027-11-02 01:03 Tue');
    expect(wall(span.endsAt, SYD)).toBe('2028-11-02 01:03 Thu');
  });

  test.each([
    ['2028-11-02T01:02', 2],
    ['2028-11-02T01:03', 3],
    ['2029-05-01T12:00', 3],
    ['2036-11-02T01:03', 11],
    ['2036-11-01T23:00', 10],
  ])('at %s (Sydney) the customer is in year %i', (local, year) => {
    const span = laterYearAt(anchor, SYD, at(local, SYD))!;
    expect(span.year).toBe(year);
    expect(span.startsAt.getTime()).toBeLessThanOrEqual(at(local, SYD).getTime());
    expect(span.endsAt.getTime()).toBeGreaterThan(at(local, SYD).getTime());
  });

  test('the anniversary is the local date in the customer zone, not the UTC date', () => {
    // 14:03 UTC on 1 November is already 2 November in Sydney: a UTC computation would start a day early.
    expect(laterYearAt(anchor, SYD, new Date('2027-11-01T14:02:00Z'))).toBeNull();
    expect(laterYearAt(anchor, SYD, new Date('2027-11-01T14:03:00Z'))?.year).toBe(2);
  });

  test('a 29 February sale has its anniversaries on 28 February, and on 29 February again in leap years', () => {
    const leap = at('2028-02-29T10:00', NY);
    expect(wall(laterYearsStart(leap, NY), NY)).toBe('2029-02-28 10:00 Wed');
    expect(wall(laterYearSpan(leap, NY, 4).endsAt, NY)).toBe('2032-02-29 10:00 Sun');
    // Counted from the anchor, not from the previous anniversary (which would drift to 28 February for good).
    expect(wall(laterYearSpan(leap, NY, 5).startsAt, NY)).toBe('2032-02-29 10:00 Sun');
    expect(laterYearAt(leap, NY, at('2032-02-28T12:00', NY))?.year).toBe(4);
    expect(laterYearAt(leap, NY, at('2032-02-29T10:00', NY))?.year).toBe(5);
  });

  test('an anniversary falling in a DST gap exists exactly once', () => {
    // 8 March 2026, 02:30 does not exist in New York; the anniversary moves forward, never disappears.
    const anchorNy = at('2025-03-08T02:30', NY);
    const span = laterYearAt(anchorNy, NY, at('2026-03-08T04:00', NY))!;
    expect(span.year).toBe(2);
    expect(wall(span.startsAt, NY)).toBe('2026-03-08 03:30 Sun');
  });

  test('laterYearSpan refuses year 1 (the first-year plan) and non-integers', () => {
    expect(() => laterYearSpan(anchor, SYD, 1)).toThrow(RangeError);
    expect(() => laterYearSpan(anchor, SYD, 2.5)).toThrow(RangeError);
  });

  test('candidateCutoff admits every anchor that may have reached its anniversary in any zone', () => {
    const now = new Date('2027-11-01T14:03:00Z');
    const cutoff = candidateCutoff(now);
    expect(cutoff.getTime()).toBeGreaterThanOrEqual(anchor.getTime());
    // 29 February anchors reach their anniversary on 28 February, a day early by the calendar.
    const leap = at('2028-02-29T10:00', NY);
    expect(candidateCutoff(laterYearsStart(leap, NY)).getTime()).toBeGreaterThanOrEqual(leap.getTime());
  });
});

describe('laterYearTouch', () => {
  const anchor = at('2026-11-02T01:03', SYD);
  const base: LaterYearTouchInput = {
    anchor,
    year: 2,
    zone: SYD,
    now: at('2027-11-02T02:00', SYD),
    laterYears: { humanContact: 'call' },
    sendWindow: DEFAULT_SEND_WINDOW,
    callDays: MON_FRI,
    callStart: '09:00',
    contact: { email: 'ann@example.com', address: { lines: ['1 Main St'], country: 'AU' } },
  };

  test('a call falls on the business day of the next anniversary, at the start of work', () => {
    const t = laterYearTouch(base);
    expect(t).toMatchObject({ step: 1, channel: 'call', status: 'scheduled', senderRole: 'salesperson' });
    expect(wall(t.dueAt, SYD)).toBe('2028-11-02 09:00 Thu');
  });

  test('a call on a weekend anniversary moves to the Monday', () => {
    const t = laterYearTouch({ ...base, year: 3, now: at('2028-11-02T02:00', SYD) });
    // 2 November 2029 is a Friday; 2030 a Saturday.
    expect(wall(t.dueAt, SYD)).toBe('2029-11-02 09:00 Fri');
    expect(wall(laterYearTouch({ ...base, year: 4, now: at('2029-11-02T02:00', SYD) }).dueAt, SYD)).toBe(
      '2030-11-04 09:00 Mon',
    );
  });

  test('a letter goes by post in the send window, even to a customer who prefers email', () => {
    const t = laterYearTouch({
      ...base,
      laterYears: { humanContact: 'letter' },
      contact: { ...base.contact, preferredChannel: 'email' },
    });
    expect(t).toMatchObject({ channel: 'letter', status: 'scheduled' });
    expect(wall(t.dueAt, SYD)).toBe('2028-11-02 09:00 Thu');
  });

  test('a letter without a postal address goes as a personal email; with neither it is skipped for clean-up', () => {
    const noPost = laterYearTouch({
      ...base,
      laterYears: { humanContact: 'letter' },
      contact: { email: 'ann@example.com', address: null },
    });
    expect(noPost).toMatchObject({ channel: 'email', status: 'scheduled' });
    const none = laterYearTouch({
      ...base,
      laterYears: { humanContact: 'letter' },
      contact: { email: null, address: null },
    });
    expect(none).toMatchObject({ status: 'skipped', reason: 'no_address' });
  });

  test('do not contact skips the call too', () => {
    expect(laterYearTouch({ ...base, contact: { ...base.contact, doNotContact: true } })).toMatchObject({
      channel: 'call',
      status: 'skipped',
      reason: 'do_not_contact',
    });
  });

  test('a contact whose time passed while the task did not run goes out at the next opening, never in the past', () => {
    const now = at('2028-11-04T11:00', SYD); // Saturday after the anniversary
    const call = laterYearTouch({ ...base, now });
    expect(wall(call.dueAt, SYD)).toBe('2028-11-06 09:00 Mon');
    const letter = laterYearTouch({ ...base, now, laterYears: { humanContact: 'letter' } });
    expect(wall(letter.dueAt, SYD)).toBe('2028-11-06 09:00 Mon');
  });

  test('the steps carry valid templates and talking points, timed from the sale', () => {
    const call = laterYearStep(3, { humanContact: 'call' });
    const letter = laterYearStep(3, { humanContact: 'letter' });
    expect(call.offset).toEqual({ years: 3 });
    expect(() => validateTemplate({ subject: 'x', body: 'x', talkingPoints: call.talkingPoints })).not.toThrow();
    expect(() => validateTemplate(letter.template!)).not.toThrow();
  });
});
