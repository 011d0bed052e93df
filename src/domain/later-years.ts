/**
 * The later-years program: from the first anniversary of the sale that started a customer's first-year plan, one
 * human contact (a call or a personal letter, per segment) around every later anniversary. Customer year N runs from
 * the (N-1)th anniversary to the Nth, and its contact falls around the Nth; year 1 is the first-year plan, whose own
 * last step is the first anniversary call. Pure: the anchor, the zone and `now` are arguments.
 */
import { DateTime } from 'luxon';
import { anniversary, fitSendWindow, nextBusinessDay } from './schedule';
import { chooseMailChannel } from './channel';
import { stepDueAt } from './plan';
import type { ContactPoints, LaterYears, PlanStep, PlannedTouch, SendWindow } from './types';

/** LATER_YEAR_STEP is the step number of a later year's one touch. */
export const LATER_YEAR_STEP = 1;

/** laterYearsStart is when a customer moves into the later-years program: the first anniversary of `anchor`. */
export function laterYearsStart(anchor: Date, zone: string): Date {
  return anniversary(anchor, zone, 1);
}

/** LaterYearSpan is one customer year: its number and the anniversaries that open and close it. */
export interface LaterYearSpan {
  year: number;
  /** The (year-1)th anniversary: the plan run's started_at. */
  startsAt: Date;
  /** The `year`th anniversary, around which the human contact falls. */
  endsAt: Date;
}

/** laterYearSpan returns the span of customer year `year` (2 or more) of a plan anchored at `anchor`. */
export function laterYearSpan(anchor: Date, zone: string, year: number): LaterYearSpan {
  if (!Number.isInteger(year) || year < 2)
    throw new RangeError(`later year must be an integer of at least 2, got ${year}`);
  return { year, startsAt: anniversary(anchor, zone, year - 1), endsAt: anniversary(anchor, zone, year) };
}

/**
 * laterYearAt returns the customer year that contains `now` (the one whose span has started and not ended), or
 * null while the first year still runs. Each anniversary is computed from the anchor, never from the previous one,
 * so a 29 February sale keeps 29 February in leap years and 28 February in the others.
 */
export function laterYearAt(anchor: Date, zone: string, now: Date): LaterYearSpan | null {
  if (now < laterYearsStart(anchor, zone)) return null;
  const local = DateTime.fromJSDate(anchor, { zone });
  // An estimate from the calendar, corrected by at most a step either way at the anniversary's edge.
  let year = Math.max(2, Math.floor(DateTime.fromJSDate(now, { zone }).diff(local, 'years').years) + 1);
  while (year > 2 && anniversary(anchor, zone, year - 1) > now) year--;
  while (anniversary(anchor, zone, year) <= now) year++;
  return laterYearSpan(anchor, zone, year);
}

/**
 * candidateCutoff is the latest anchor (plan start) that may already have reached an anniversary at `now`, in any
 * zone: a coarse bound for picking candidates in SQL, which laterYearAt then decides exactly.
 */
export function candidateCutoff(now: Date): Date {
  return DateTime.fromJSDate(now, { zone: 'utc' }).minus({ years: 1 }).plus({ days: 2 }).toJSDate();
}

/** laterYearStep is the plan step a later year's run is given: its template or talking points, timed from the sale. */
export function laterYearStep(year: number, laterYears: LaterYears): PlanStep {
  const base = {
    step: LATER_YEAR_STEP,
    offset: { years: year },
    purpose: `Year ${year}: a personal contact around the anniversary`,
  };
  if (laterYears.humanContact === 'call') {
    return {
      ...base,
      channel: 'call',
      assignee: 'salesperson',
      talkingPoints: [
        'Thank {{ customer.firstName }} for another year as our customer.',
        'Ask how the {{ sale.mainItem }} is serving them, and whether there is anything at all we can do.',
        'Never a sales pitch: listen, and note anything to fix.',
      ],
    };
  }
  return {
    ...base,
    channel: 'mail',
    sender: 'salesperson',
    preferLetter: true,
    template: {
      subject: 'Another year together, {{ customer.firstName }}',
      body:
        'Dear {{ customer.firstName }},\n\n' +
        'It is another year since you chose your {{ sale.mainItem }} on {{ sale.soldAt }}, and I wanted to write personally to thank you for staying with us.\n\n' +
        'If there is anything at all we can do for you, reply to this letter or call me directly.',
    },
  };
}

/** LaterYearTouchInput is what a later year's contact depends on. */
export interface LaterYearTouchInput {
  /** The sale that started the customer's last first-year plan. */
  anchor: Date;
  year: number;
  zone: string;
  now: Date;
  laterYears: LaterYears;
  sendWindow: SendWindow;
  callDays: number[];
  callStart?: string;
  contact: ContactPoints;
}

/**
 * laterYearTouch plans the human contact of customer year `year`: a call on a business day at or after the
 * anniversary, or a personal letter in the send window; a letter goes by email only when no postal address is known
 * (the customer still hears from a person), and is skipped with `no_address` when neither is. A contact whose time
 * has already passed (a late start) goes out now.
 */
export function laterYearTouch(input: LaterYearTouchInput): PlannedTouch {
  const step = laterYearStep(input.year, input.laterYears);
  const due = stepDueAt(step, {
    soldAt: input.anchor,
    zone: input.zone,
    sendWindow: input.sendWindow,
    callDays: input.callDays,
    callStart: input.callStart,
  });
  const dueAt = due >= input.now ? due : catchUp(step.channel === 'call', input);
  const base = { step: step.step, dueAt, senderRole: step.assignee ?? step.sender };
  if (input.contact.doNotContact)
    return {
      ...base,
      channel: step.channel === 'call' ? 'call' : 'letter',
      status: 'skipped',
      reason: 'do_not_contact',
    };
  if (step.channel === 'call') return { ...base, channel: 'call', status: 'scheduled' };
  const choice = chooseMailChannel({ ...input.contact, preferredChannel: 'letter' });
  if (choice.channel === null) return { ...base, channel: 'letter', status: 'skipped', reason: choice.reason };
  return { ...base, channel: choice.channel, status: 'scheduled' };
}

function catchUp(call: boolean, input: LaterYearTouchInput): Date {
  if (!call) return fitSendWindow(input.now, input.zone, input.sendWindow);
  const day = nextBusinessDay(input.now, input.zone, input.callDays, input.callStart);
  return day < input.now ? input.now : day;
}
