/**
 * Plan computation: from a sale, its customer's contact points and the segment's steps to the list of touches with
 * their due times and initial status. Pure: `now` is an argument.
 */
import { DateTime } from 'luxon';
import { addOffset, fitSendWindow, nextBusinessDay } from './schedule';
import { chooseMailChannel } from './channel';
import type { ContactPoints, PlanStep, PlannedTouch, SendWindow } from './types';

/** DEFAULT_GRACE_DAYS is how late a backfilled step may still go out; older ones are recorded as missed. */
export const DEFAULT_GRACE_DAYS = 14;

/** PlanInput is everything a plan depends on. */
export interface PlanInput {
  soldAt: Date;
  now: Date;
  /** The customer's IANA zone (else the business default). */
  zone: string;
  steps: PlanStep[];
  sendWindow: SendWindow;
  /** ISO weekdays the caller works; calls fall on these. */
  callDays: number[];
  callStart?: string;
  /** The calendar of the person making a given call step, when it is not the default caller's. */
  callerCalendars?: Map<number, CallerCalendar>;
  contact: ContactPoints;
  graceDays?: number;
}

/** CallerCalendar is when a caller works: ISO weekdays and the start of their day. */
export interface CallerCalendar {
  days: number[];
  start?: string;
}

type CalendarInput = Pick<PlanInput, 'callDays' | 'callStart' | 'callerCalendars'>;

function callerOf(step: number, input: CalendarInput): CallerCalendar {
  return input.callerCalendars?.get(step) ?? { days: input.callDays, start: input.callStart };
}

/** stepDueAt is when a step falls due when all goes to plan: in the send window for mail, on the caller's business day for calls. */
export function stepDueAt(
  step: PlanStep,
  input: Pick<PlanInput, 'soldAt' | 'zone' | 'sendWindow'> & CalendarInput,
): Date {
  const nominal = addOffset(input.soldAt, input.zone, step.offset);
  if (step.channel !== 'call') return fitSendWindow(nominal, input.zone, input.sendWindow);
  const caller = callerOf(step.step, input);
  return nextBusinessDay(nominal, input.zone, caller.days, caller.start);
}

/**
 * computePlan returns one touch per step. Steps due more than the grace period before `now` are `missed`; steps due
 * within it are brought forward to now (then into the send window or the next business day). A letter-or-email step
 * takes the channel today's details give; with no usable address it is still planned (as an email), and delivery
 * decides again.
 */
export function computePlan(input: PlanInput): PlannedTouch[] {
  // The grace period counts calendar days in the customer's zone, so a DST change does not shift it by an hour.
  const cutoff = graceCutoff(input.now, input.zone, input.graceDays ?? DEFAULT_GRACE_DAYS);
  // A step with a trigger (a referral thank-you) is timed from its own event, never from the sale.
  return input.steps
    .filter((step) => !step.trigger)
    .sort((a, b) => a.step - b.step)
    .map((step): PlannedTouch => {
      const due = stepDueAt(step, input);
      const base = { step: step.step, senderRole: step.sender ?? step.assignee };
      const channel = step.channel === 'call' ? 'call' : chooseMailChannel(input.contact);
      const resolved = typeof channel === 'string' ? channel : channel.channel;
      if (input.contact.doNotContact) {
        return { ...base, channel: resolved ?? 'email', dueAt: due, status: 'skipped', reason: 'do_not_contact' };
      }
      // No usable address today: the step is planned all the same, and the channel is decided again when it goes out
      // (skipped `no_address` then if none has come), so an address that arrives meanwhile is used.
      const planned = resolved ?? 'email';
      if (due < cutoff) {
        return { ...base, channel: planned, dueAt: due, status: 'missed', reason: 'past_grace_period' };
      }
      const dueAt = due < input.now ? catchUp(planned, step.step, input) : due;
      return { ...base, channel: planned, dueAt, status: 'scheduled' };
    });
}

const cutoffs = new Map<string, Date>();

/**
 * graceCutoff is `days` calendar days before `now` in `zone`. Memoised: a re-plan or an import asks it for the same
 * moment and zone for every customer.
 */
function graceCutoff(now: Date, zone: string, days: number): Date {
  const key = `${now.getTime()}|${zone}|${days}`;
  let cutoff = cutoffs.get(key);
  if (!cutoff) {
    cutoff = DateTime.fromJSDate(now, { zone }).minus({ days }).toJSDate();
    if (cutoffs.size >= 1000) cutoffs.clear();
    cutoffs.set(key, cutoff);
  }
  return cutoff;
}

function catchUp(channel: string, step: number, input: PlanInput): Date {
  if (channel !== 'call') return fitSendWindow(input.now, input.zone, input.sendWindow);
  const caller = callerOf(step, input);
  const day = nextBusinessDay(input.now, input.zone, caller.days, caller.start);
  return day < input.now ? input.now : day;
}
