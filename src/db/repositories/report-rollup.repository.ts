/**
 * Monthly rollups of the results: recomputed from touches, tasks, sales and the audit trail for whole months at a
 * time, and read by the dashboard with its filters. Months are calendar months in the business zone.
 */
import { sql } from 'kysely';
import type { Database } from '../database';
import { contactCountColumns, TOUCH_ATTRIBUTION, type ContactCounts } from './report.repository';

/** RollupScope is the months to recompute: [from, to) as first days of months, and how the figures are defined. */
export interface RollupScope {
  fromMonth: string;
  toMonth: string;
  zone: string;
  onTimeHours: number;
  at: Date;
}

// Two refreshes at once would each delete and insert the same months: the second waits for the first.
const ROLLUP_LOCK = 0x52_4f_4c_4c; // "ROLL"

/**
 * refreshMonths replaces the rollup rows of the months [fromMonth, toMonth) in one transaction, so a reader sees a
 * month either wholly before or wholly after, and records when each month was computed.
 */
export async function refreshMonths(db: Database, s: RollupScope): Promise<void> {
  const from = sql`(${s.fromMonth}::date::timestamp at time zone ${s.zone})`;
  const to = sql`(${s.toMonth}::date::timestamp at time zone ${s.zone})`;
  const month = (col: string) => sql`date_trunc('month', ${sql.ref(col)} at time zone ${s.zone})::date`;
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${ROLLUP_LOCK})`.execute(trx);
    await sql`delete from report_contacts_monthly where month >= ${s.fromMonth}::date and month < ${s.toMonth}::date`.execute(
      trx,
    );
    await sql`delete from report_activity_monthly where month >= ${s.fromMonth}::date and month < ${s.toMonth}::date`.execute(
      trx,
    );
    await sql`
      insert into report_contacts_monthly
        (month, segment_id, salesperson_id, channel, planned, on_time, late, missed, skipped, cancelled, failed, pending)
      select month, segment_id, salesperson_id, channel, planned, "onTime", late, missed, skipped, cancelled, failed, pending
      from (
        select ${month('t.due_at')} as month, coalesce(pr.segment_id, c.segment_id) as segment_id,
          s.salesperson_id, t.channel, ${contactCountColumns(s.onTimeHours)}
        from touches t
        ${TOUCH_ATTRIBUTION}
        where t.due_at >= ${from} and t.due_at < ${to}
        group by 1, 2, 3, 4
      ) g`.execute(trx);
    await sql`
      insert into report_activity_monthly
        (month, segment_id, salesperson_id, calls_completed, calls_reached, sales, repeat_sales, referrals,
         opt_outs_email, opt_outs_newsletter, opt_outs_all)
      select month, segment_id, salesperson_id, sum(cc)::int, sum(cr)::int, sum(sa)::int, sum(rs)::int, sum(rf)::int,
        sum(oe)::int, sum(onl)::int, sum(oa)::int
      from (
        select ${month('k.completed_at')} as month, coalesce(pr.segment_id, c.segment_id) as segment_id,
          s.salesperson_id, count(*) as cc, count(*) filter (where k.outcome = 'reached') as cr,
          0 as sa, 0 as rs, 0 as rf, 0 as oe, 0 as onl, 0 as oa
        from tasks k
        join customers c on c.id = k.customer_id
        left join touches t on t.id = k.touch_id
        left join plan_runs pr on pr.id = t.plan_run_id
        left join sales s on s.id = pr.sale_id
        where k.kind = 'call' and k.status = 'done' and k.completed_at >= ${from} and k.completed_at < ${to}
        group by 1, 2, 3
        union all
        select ${month('s.sold_at')}, s.segment_id, s.salesperson_id, 0, 0, count(*),
          count(*) filter (where exists (
            select 1 from sales p where p.customer_id = s.customer_id and (p.sold_at, p.id) < (s.sold_at, s.id))),
          count(*) filter (where s.referrer_id is not null), 0, 0, 0
        from sales s
        where s.sold_at >= ${from} and s.sold_at < ${to}
        group by 1, 2, 3
        union all
        select ${month('a.at')}, c.segment_id, last.salesperson_id, 0, 0, 0, 0, 0,
          count(*) filter (where a.action = 'customer.opt_out.email'),
          count(*) filter (where a.action = 'customer.opt_out.newsletter'),
          count(*) filter (where a.action = 'customer.opt_out.all')
        from audit_log a
        left join customers c on c.id::text = a.entity_id
        left join lateral (
          select salesperson_id from sales where customer_id = c.id order by sold_at desc, id desc limit 1
        ) last on true
        where a.entity = 'customer' and a.action like 'customer.opt\\_out.%' and a.at >= ${from} and a.at < ${to}
        group by 1, 2, 3
      ) u
      group by 1, 2, 3`.execute(trx);
    await sql`
      insert into report_rollup_months (month, computed_at)
      select m::date, ${s.at} from generate_series(${s.fromMonth}::date, ${s.toMonth}::date - 1, interval '1 month') m
      on conflict (month) do update set computed_at = excluded.computed_at`.execute(trx);
  });
}

/** dataMonths returns the first and last month (exclusive) holding any touch or sale, or null in an empty database. */
export async function dataMonths(db: Database, zone: string): Promise<{ fromMonth: string; toMonth: string } | null> {
  const { rows } = await sql<{ first: Date | null; last: Date | null }>`
    select least((select min(due_at) from touches), (select min(sold_at) from sales),
                 (select min(at) from audit_log where entity = 'customer')) as first,
           greatest((select max(due_at) from touches), (select max(sold_at) from sales), now()) as last`.execute(db);
  const r = rows[0];
  if (!r?.first || !r.last) return null;
  const { rows: m } = await sql<{ fromMonth: string; toMonth: string }>`
    select to_char(date_trunc('month', ${r.first}::timestamptz at time zone ${zone}), 'YYYY-MM-DD') as "fromMonth",
           to_char(date_trunc('month', ${r.last}::timestamptz at time zone ${zone}) + interval '1 month', 'YYYY-MM-DD') as "toMonth"`.execute(
    db,
  );
  return m[0];
}

/** oldestComputedAt is when the least recently computed month was computed, or null when none was. */
export async function oldestComputedAt(db: Database): Promise<Date | null> {
  const { rows } = await sql<{ at: Date | null }>`select min(computed_at) as at from report_rollup_months`.execute(db);
  return rows[0]?.at ?? null;
}

/** DashboardFilter is the months [fromMonth, toMonth) and the optional segment and salesperson. */
export interface DashboardFilter {
  fromMonth: string;
  toMonth: string;
  segmentId: string | null;
  salespersonId: string | null;
}

/** MonthContacts are one month's contact counts of one channel. */
export type MonthContacts = ContactCounts & { month: string; channel: string };

/** MonthActivity is one month's calls, sales, referrals and opt-outs. */
export interface MonthActivity {
  month: string;
  callsCompleted: number;
  callsReached: number;
  sales: number;
  repeatSales: number;
  referrals: number;
  optOutsEmail: number;
  optOutsNewsletter: number;
  optOutsAll: number;
}

function filters(f: DashboardFilter) {
  return sql`month >= ${f.fromMonth}::date and month < ${f.toMonth}::date
    ${f.segmentId ? sql`and segment_id = ${f.segmentId}::uuid` : sql``}
    ${f.salespersonId ? sql`and salesperson_id = ${f.salespersonId}::uuid` : sql``}`;
}

/** readContacts sums the contact rollup per month and channel. */
export async function readContacts(db: Database, f: DashboardFilter): Promise<MonthContacts[]> {
  const { rows } = await sql<MonthContacts>`
    select to_char(month, 'YYYY-MM') as month, channel, sum(planned)::int as planned, sum(on_time)::int as "onTime",
      sum(late)::int as late, sum(missed)::int as missed, sum(skipped)::int as skipped,
      sum(cancelled)::int as cancelled, sum(failed)::int as failed, sum(pending)::int as pending
    from report_contacts_monthly where ${filters(f)}
    group by month, channel order by month, channel`.execute(db);
  return rows;
}

/** readActivity sums the activity rollup per month. */
export async function readActivity(db: Database, f: DashboardFilter): Promise<MonthActivity[]> {
  const { rows } = await sql<MonthActivity>`
    select to_char(month, 'YYYY-MM') as month, sum(calls_completed)::int as "callsCompleted",
      sum(calls_reached)::int as "callsReached", sum(sales)::int as sales, sum(repeat_sales)::int as "repeatSales",
      sum(referrals)::int as referrals, sum(opt_outs_email)::int as "optOutsEmail",
      sum(opt_outs_newsletter)::int as "optOutsNewsletter", sum(opt_outs_all)::int as "optOutsAll"
    from report_activity_monthly where ${filters(f)}
    group by month order by month`.execute(db);
  return rows;
}

/** monthsComputedAt returns when each month of [fromMonth, toMonth) was last computed (absent: never). */
export async function monthsComputedAt(db: Database, fromMonth: string, toMonth: string): Promise<Map<string, Date>> {
  const { rows } = await sql<{ month: string; at: Date }>`
    select to_char(month, 'YYYY-MM') as month, computed_at as at from report_rollup_months
    where month >= ${fromMonth}::date and month < ${toMonth}::date`.execute(db);
  return new Map(rows.map((r) => [r.month, r.at]));
}

/** WorkloadRow is the calls one person has planned in one week (ISO week starting Monday, business zone). */
export interface WorkloadRow {
  assigneeId: string | null;
  week: string;
  calls: number;
}

/**
 * readWorkload counts the call contacts still to make per assignee and week, due before `to`: scheduled call touches
 * and open call tasks by their due time (a call's touch is no longer scheduled once its task exists). Overdue ones
 * come in the weeks they fell due; the caller counts them in the current week. Each half is an index-only scan of its
 * partial index (touches_call_workload_idx, tasks_call_workload_idx), and the week is formatted once per group.
 */
export async function readWorkload(db: Database, to: Date, zone: string): Promise<WorkloadRow[]> {
  const week = (col: string) => sql`date_trunc('week', ${sql.ref(col)} at time zone ${zone})`;
  const { rows } = await sql<WorkloadRow>`
    select assignee_id as "assigneeId", to_char(week, 'YYYY-MM-DD') as week, sum(n)::int as calls from (
      select t.assignee_id, ${week('t.due_at')} as week, count(*) as n from touches t
       where t.channel = 'call' and t.status = 'scheduled' and t.due_at < ${to}
       group by 1, 2
      union all
      select k.assignee_id, ${week('k.due_at')}, count(*) from tasks k
       where k.kind = 'call' and k.status = 'open' and k.due_at < ${to}
       group by 1, 2
    ) u group by 1, u.week order by u.week, 1`.execute(db);
  return rows;
}
