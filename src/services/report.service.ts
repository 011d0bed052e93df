/**
 * The results summary: did the plan's contacts happen, on time, and did they earn repeat sales and referrals?
 * The period defaults to the last 30 days; dates without a time start at midnight in the business zone.
 */
import { DateTime } from 'luxon';
import * as reports from '../db/repositories/report.repository';
import { ValidationError } from './errors';
import { DATE_RANGE_REASON, yearInRange } from '../domain/input-limits';
import type { ServiceContext } from './context';

/** emptyContactCounts is a zero of every contact count, for sums (the report's totals, the dashboard's months). */
export function emptyContactCounts(): reports.ContactCounts {
  return { planned: 0, onTime: 0, late: 0, missed: 0, skipped: 0, cancelled: 0, failed: 0, pending: 0 };
}

/** addContactCounts adds `c` into `into`, count by count. */
export function addContactCounts(into: reports.ContactCounts, c: reports.ContactCounts): void {
  for (const k of Object.keys(into) as (keyof reports.ContactCounts)[]) into[k] += c[k];
}

/** ON_TIME_HOURS is how long after its due time a contact still counts as made on time. */
export const ON_TIME_HOURS = 24;

/** DEFAULT_PERIOD_DAYS is the period when `from` is not given. */
export const DEFAULT_PERIOD_DAYS = 30;

/** SummaryQuery is what the caller asks for; every part is optional. */
export interface SummaryQuery {
  from?: string;
  to?: string;
  segment?: string;
  salesperson?: string;
}

/** Summary is the results report. */
export interface Summary {
  period: { from: Date; to: Date };
  filters: { segment: string | null; salesperson: string | null };
  onTimeWithinHours: number;
  contacts: { total: reports.ContactCounts; byChannel: reports.ContactCountsByChannel };
  calls: reports.CallCounts;
  optOuts: reports.OptOutCounts;
  repeatPurchase: reports.RepeatPurchase & { rate: number | null };
  referralsByCohort: (reports.ReferralCohort & { referralsPerCustomer: number })[];
}

function parseInstant(value: string, field: string, zone: string): Date {
  const parsed = /^\d{4}-\d{2}-\d{2}$/.test(value)
    ? DateTime.fromISO(value, { zone })
    : DateTime.fromISO(value, { setZone: true });
  if (!parsed.isValid || !/^\d{4}-\d{2}-\d{2}/.test(value))
    throw new ValidationError(field, 'must be a date (YYYY-MM-DD) or an ISO 8601 date-time');
  if (!yearInRange(parsed.toUTC().year)) throw new ValidationError(field, DATE_RANGE_REASON);
  return parsed.toJSDate();
}

const round = (n: number) => Math.round(n * 10_000) / 10_000;

/** summarize builds the results report for a period and optional segment and salesperson. */
export async function summarize(ctx: ServiceContext, q: SummaryQuery): Promise<Summary> {
  const zone = ctx.settings.defaultTimezone;
  const to = q.to ? parseInstant(q.to, 'to', zone) : ctx.clock.now();
  const from = q.from
    ? parseInstant(q.from, 'from', zone)
    : DateTime.fromJSDate(to, { zone }).minus({ days: DEFAULT_PERIOD_DAYS }).toJSDate();
  if (from >= to) throw new ValidationError('from', 'must be before to');
  const scope: reports.ReportScope = {
    from,
    to,
    segmentId: q.segment ?? null,
    salespersonId: q.salesperson ?? null,
    onTimeHours: ON_TIME_HOURS,
    zone,
  };
  const [byChannel, calls, optOuts, repeat, cohorts] = await Promise.all([
    reports.countContacts(ctx.db, scope),
    reports.countCalls(ctx.db, scope),
    reports.countOptOuts(ctx.db, scope),
    reports.countRepeatPurchases(ctx.db, scope),
    reports.countReferralsByCohort(ctx.db, scope),
  ]);
  const total = emptyContactCounts();
  for (const counts of Object.values(byChannel)) addContactCounts(total, counts);
  return {
    period: { from, to },
    filters: { segment: scope.segmentId, salesperson: scope.salespersonId },
    onTimeWithinHours: ON_TIME_HOURS,
    contacts: { total, byChannel },
    calls,
    optOuts,
    repeatPurchase: { ...repeat, rate: repeat.customers ? round(repeat.repeatCustomers / repeat.customers) : null },
    referralsByCohort: cohorts.map((c) => ({
      ...c,
      referralsPerCustomer: c.customers ? round(c.referrals / c.customers) : 0,
    })),
  };
}
