/**
 * The results dashboard: the mission's measures by month, segment and salesperson, read from monthly rollups so it
 * answers in milliseconds at millions of sales, and the call workload of the next eight weeks, read live.
 *
 * How the rollups stay current: the worker's `report-rollup` maintenance task (every 5 minutes) recomputes the months
 * where contacts still change status (three months back to next month); once a day, or when none was ever computed,
 * it recomputes every month. The answer says when its oldest month was computed (`computedAt`).
 */
import { DateTime } from 'luxon';
import * as rollup from '../db/repositories/report-rollup.repository';
import * as staffRepo from '../db/repositories/staff.repository';
import type { ContactCounts } from '../db/repositories/report.repository';
import { addContactCounts as add, emptyContactCounts as emptyCounts, ON_TIME_HOURS } from './report.service';
import { ValidationError } from './errors';
import type { ServiceContext } from './context';

/** RECENT_MONTHS_BACK is how many months before this one the frequent refresh recomputes. */
export const RECENT_MONTHS_BACK = 3;

/** FULL_REFRESH_EVERY_MS is how often every month is recomputed (a contact made very late changes an old month). */
export const FULL_REFRESH_EVERY_MS = 24 * 3600_000;

/** WORKLOAD_WEEKS is how far ahead the workload looks. */
export const WORKLOAD_WEEKS = 8;

const monthStart = (d: DateTime) => d.startOf('month').toISODate() as string;

/** refreshRollups recomputes the recent months, or every month when `full` or when a full refresh is due. */
export async function refreshRollups(
  ctx: ServiceContext,
  opts: { full?: boolean } = {},
): Promise<{ fromMonth: string; toMonth: string } | null> {
  const now = ctx.clock.now();
  const zone = ctx.settings.defaultTimezone;
  const oldest = await rollup.oldestComputedAt(ctx.db);
  const full = opts.full || !oldest || now.getTime() - oldest.getTime() > FULL_REFRESH_EVERY_MS;
  const here = DateTime.fromJSDate(now, { zone });
  let range: { fromMonth: string; toMonth: string } | null = {
    fromMonth: monthStart(here.minus({ months: RECENT_MONTHS_BACK })),
    toMonth: monthStart(here.plus({ months: 2 })),
  };
  if (full) {
    const data = await rollup.dataMonths(ctx.db, zone);
    if (data)
      range = {
        fromMonth: data.fromMonth < range.fromMonth ? data.fromMonth : range.fromMonth,
        toMonth: data.toMonth > range.toMonth ? data.toMonth : range.toMonth,
      };
  }
  await rollup.refreshMonths(ctx.db, { ...range, zone, onTimeHours: ON_TIME_HOURS, at: now });
  ctx.log.info({ ...range, full }, 'results rollup refreshed');
  return range;
}

/** DashboardQuery is what a manager asks for: months as YYYY-MM (inclusive), segment and salesperson ids. */
export interface DashboardQuery {
  from?: string;
  to?: string;
  segment?: string;
  salesperson?: string;
}

/** MonthFigures are one month's measures. */
export interface MonthFigures {
  month: string;
  contacts: ContactCounts;
  byChannel: Record<string, ContactCounts>;
  calls: { completed: number; reached: number; shareReached: number | null };
  optOuts: { email: number; newsletter: number; all: number };
  sales: number;
  repeatSales: number;
  referrals: number;
}

/** Dashboard is the results of a range of months with their total, and the workload ahead. */
export interface Dashboard {
  fromMonth: string;
  toMonth: string;
  filters: { segment: string | null; salesperson: string | null };
  onTimeWithinHours: number;
  months: MonthFigures[];
  total: Omit<MonthFigures, 'month'>;
  /** When the least recently computed month of the range was computed; null if none was (no refresh yet). */
  computedAt: Date | null;
  workload: { weeks: string[]; people: { id: string | null; name: string; calls: number[] }[] };
}

function emptyFigures(): Omit<MonthFigures, 'month'> {
  return {
    contacts: emptyCounts(),
    byChannel: {},
    calls: { completed: 0, reached: 0, shareReached: null },
    optOuts: { email: 0, newsletter: 0, all: 0 },
    sales: 0,
    repeatSales: 0,
    referrals: 0,
  };
}

function parseMonth(value: string, field: string, zone: string): DateTime {
  const d = /^\d{4}-(0[1-9]|1[0-2])$/.test(value) ? DateTime.fromISO(`${value}-01`, { zone }) : null;
  if (!d?.isValid) throw new ValidationError(field, 'must be a month, YYYY-MM');
  return d;
}

const share = (part: number, whole: number) => (whole ? Math.round((part / whole) * 10_000) / 10_000 : null);

/** getDashboard reads the results of the months asked for (default: the last 12) and the workload ahead. */
export async function getDashboard(ctx: ServiceContext, q: DashboardQuery): Promise<Dashboard> {
  const zone = ctx.settings.defaultTimezone;
  const now = ctx.clock.now();
  const here = DateTime.fromJSDate(now, { zone }).startOf('month');
  const to = q.to ? parseMonth(q.to, 'to', zone) : here;
  const from = q.from ? parseMonth(q.from, 'from', zone) : to.minus({ months: 11 });
  if (from > to) throw new ValidationError('from', 'must not be after to');
  if (to.diff(from, 'months').months > 240) throw new ValidationError('from', 'the range is at most 20 years');
  const filter: rollup.DashboardFilter = {
    fromMonth: monthStart(from),
    toMonth: monthStart(to.plus({ months: 1 })),
    segmentId: q.segment ?? null,
    salespersonId: q.salesperson ?? null,
  };
  const weekStart = DateTime.fromJSDate(now, { zone }).startOf('week');
  const weeks = Array.from({ length: WORKLOAD_WEEKS }, (_, i) => weekStart.plus({ weeks: i }).toISODate() as string);
  const [contacts, activity, computed, load, staff] = await Promise.all([
    rollup.readContacts(ctx.db, filter),
    rollup.readActivity(ctx.db, filter),
    rollup.monthsComputedAt(ctx.db, filter.fromMonth, filter.toMonth),
    rollup.readWorkload(ctx.db, weekStart.plus({ weeks: WORKLOAD_WEEKS }).toJSDate(), zone),
    staffRepo.listStaff(ctx.db),
  ]);
  const months: MonthFigures[] = [];
  const byMonth = new Map<string, MonthFigures>();
  for (let m = from; m <= to; m = m.plus({ months: 1 })) {
    const f = { month: m.toFormat('yyyy-MM'), ...emptyFigures() };
    months.push(f);
    byMonth.set(f.month, f);
  }
  const total = emptyFigures();
  for (const c of contacts) {
    const f = byMonth.get(c.month);
    if (!f) continue;
    const { month: _m, channel, ...counts } = c;
    void _m;
    add(f.contacts, counts);
    add((f.byChannel[channel] ??= emptyCounts()), counts);
    add(total.contacts, counts);
    add((total.byChannel[channel] ??= emptyCounts()), counts);
  }
  for (const a of activity) {
    const f = byMonth.get(a.month);
    if (!f) continue;
    for (const into of [f, total]) {
      into.calls.completed += a.callsCompleted;
      into.calls.reached += a.callsReached;
      into.optOuts.email += a.optOutsEmail;
      into.optOuts.newsletter += a.optOutsNewsletter;
      into.optOuts.all += a.optOutsAll;
      into.sales += a.sales;
      into.repeatSales += a.repeatSales;
      into.referrals += a.referrals;
    }
  }
  for (const f of [...months, total]) f.calls.shareReached = share(f.calls.reached, f.calls.completed);
  // A refresh covers every month from the first with any data, so a month it never computed holds nothing to count.
  let computedAt: Date | null = null;
  for (const at of computed.values()) if (!computedAt || at < computedAt) computedAt = at;
  const names = new Map(staff.map((s) => [s.id, s.name]));
  const people = new Map<string | null, number[]>();
  for (const row of load) {
    // An overdue call counts in this week: it is still to do.
    const idx = row.week < weeks[0] ? 0 : weeks.indexOf(row.week);
    if (idx < 0) continue;
    const calls = people.get(row.assigneeId) ?? new Array<number>(WORKLOAD_WEEKS).fill(0);
    calls[idx] += row.calls;
    people.set(row.assigneeId, calls);
  }
  return {
    fromMonth: from.toFormat('yyyy-MM'),
    toMonth: to.toFormat('yyyy-MM'),
    filters: { segment: filter.segmentId, salesperson: filter.salespersonId },
    onTimeWithinHours: ON_TIME_HOURS,
    months,
    total,
    computedAt,
    workload: {
      weeks,
      people: [...people]
        .map(([id, calls]) => ({ id, name: id ? (names.get(id) ?? 'unknown') : 'nobody yet', calls }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    },
  };
}
