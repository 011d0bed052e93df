/**
 * The results report in SQL: contacts planned and how they ended, calls and their outcomes, opt-outs from the
 * audit trail, the repeat-purchase rate and referrals per cohort. Every figure is a count over rows that erasure
 * keeps, so erasing a customer never changes them.
 */
import { sql, type RawBuilder } from 'kysely';
import type { Database } from '../database';

/** ReportScope is the period (from inclusive, to exclusive) and the optional segment and salesperson filters. */
export interface ReportScope {
  from: Date;
  to: Date;
  segmentId: string | null;
  salespersonId: string | null;
  /** A contact made within this many hours after it fell due counts as on time. */
  onTimeHours: number;
  /** The zone whose calendar months make the cohorts. */
  zone: string;
}

/** ContactCounts are the touches due in the period by how they ended. */
export interface ContactCounts {
  planned: number;
  onTime: number;
  late: number;
  missed: number;
  skipped: number;
  cancelled: number;
  failed: number;
  pending: number;
}

/** ContactCountsByChannel are the counts per channel (email, letter, call, newsletter). */
export type ContactCountsByChannel = Record<string, ContactCounts>;

function segmentFilter(scope: ReportScope, segment: RawBuilder<unknown>): RawBuilder<unknown> {
  return scope.segmentId ? sql`and ${segment} = ${scope.segmentId}::uuid` : sql``;
}

function salespersonFilter(scope: ReportScope, salesperson: RawBuilder<unknown>): RawBuilder<unknown> {
  return scope.salespersonId ? sql`and ${salesperson} = ${scope.salespersonId}::uuid` : sql``;
}

/**
 * contactCountColumns are the ContactCounts of a group of touches `t` as SQL select columns (camelCase aliases): the
 * one definition of on time, late, missed and the rest, shared by the live report and the monthly rollup.
 */
export function contactCountColumns(onTimeHours: number): RawBuilder<unknown> {
  const made = sql`t.status in ('sent', 'done')`;
  const deadline = sql`t.due_at + make_interval(hours => ${onTimeHours}::int)`;
  return sql`count(*)::int as planned,
      count(*) filter (where ${made} and t.completed_at <= ${deadline})::int as "onTime",
      count(*) filter (where ${made} and t.completed_at > ${deadline})::int as late,
      count(*) filter (where t.status = 'missed')::int as missed,
      count(*) filter (where t.status = 'skipped')::int as skipped,
      count(*) filter (where t.status = 'cancelled')::int as cancelled,
      count(*) filter (where t.status = 'failed')::int as failed,
      count(*) filter (where t.status in ('scheduled', 'queued'))::int as pending`;
}

/** TOUCH_ATTRIBUTION joins a touch `t` to its customer `c`, run `pr` and the sale `s` that started the run. */
export const TOUCH_ATTRIBUTION = sql`join customers c on c.id = t.customer_id
    left join plan_runs pr on pr.id = t.plan_run_id
    left join sales s on s.id = pr.sale_id`;

/**
 * countContacts counts the touches due in the period per channel: made on time (sent or done within the
 * tolerance), late, missed, skipped, cancelled, failed, and still pending. A touch's segment is its run's (a
 * newsletter's is its customer's); its salesperson is the one of the sale that started its run.
 */
export async function countContacts(db: Database, scope: ReportScope): Promise<ContactCountsByChannel> {
  const rows = await sql<ContactCounts & { channel: string }>`
    select t.channel, ${contactCountColumns(scope.onTimeHours)}
    from touches t
    ${TOUCH_ATTRIBUTION}
    where t.due_at >= ${scope.from} and t.due_at < ${scope.to}
      ${segmentFilter(scope, sql`coalesce(pr.segment_id, c.segment_id)`)}
      ${salespersonFilter(scope, sql`s.salesperson_id`)}
    group by t.channel
    order by t.channel`.execute(db);
  return Object.fromEntries(rows.rows.map(({ channel, ...counts }) => [channel, counts]));
}

/** CallCounts are the call tasks completed in the period and their outcomes. */
export interface CallCounts {
  completed: number;
  outcomes: Record<string, number>;
}

/** countCalls counts call tasks completed in the period, by outcome. */
export async function countCalls(db: Database, scope: ReportScope): Promise<CallCounts> {
  const rows = await sql<{ outcome: string | null; n: number }>`
    select k.outcome, count(*)::int as n
    from tasks k
    join customers c on c.id = k.customer_id
    left join touches t on t.id = k.touch_id
    left join plan_runs pr on pr.id = t.plan_run_id
    left join sales s on s.id = pr.sale_id
    where k.kind = 'call' and k.status = 'done'
      and k.completed_at >= ${scope.from} and k.completed_at < ${scope.to}
      ${segmentFilter(scope, sql`coalesce(pr.segment_id, c.segment_id)`)}
      ${salespersonFilter(scope, sql`s.salesperson_id`)}
    group by k.outcome`.execute(db);
  const outcomes: Record<string, number> = { reached: 0, voicemail: 0, no_answer: 0, wrong_number: 0, complaint: 0 };
  let completed = 0;
  for (const r of rows.rows) {
    completed += r.n;
    if (r.outcome) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + r.n;
  }
  return { completed, outcomes };
}

/** OptOutCounts are the opt-outs recorded in the audit trail in the period, by what was opted out of. */
export interface OptOutCounts {
  email: number;
  newsletter: number;
  all: number;
  erasures: number;
}

/**
 * countOptOuts counts `customer.opt_out.<what>` and `customer.erased` audit entries in the period; the customer's
 * segment and sales decide the filters.
 */
export async function countOptOuts(db: Database, scope: ReportScope): Promise<OptOutCounts> {
  const rows = await sql<{ action: string; n: number }>`
    select a.action, count(*)::int as n
    from audit_log a
    where a.entity = 'customer' and (a.action like 'customer.opt\\_out.%' or a.action = 'customer.erased')
      and a.at >= ${scope.from} and a.at < ${scope.to}
      ${scope.segmentId ? sql`and exists (select 1 from customers c where c.id::text = a.entity_id and c.segment_id = ${scope.segmentId}::uuid)` : sql``}
      ${scope.salespersonId ? sql`and exists (select 1 from sales s where s.customer_id::text = a.entity_id and s.salesperson_id = ${scope.salespersonId}::uuid)` : sql``}
    group by a.action`.execute(db);
  const n = (action: string) => rows.rows.find((r) => r.action === action)?.n ?? 0;
  return {
    email: n('customer.opt_out.email'),
    newsletter: n('customer.opt_out.newsletter'),
    all: n('customer.opt_out.all'),
    erasures: n('customer.erased'),
  };
}

/** RepeatPurchase is how many customers bought in the period, and how many of them bought at least twice. */
export interface RepeatPurchase {
  customers: number;
  repeatCustomers: number;
}

/** countRepeatPurchases counts customers with at least one and at least two sales in the period. */
export async function countRepeatPurchases(db: Database, scope: ReportScope): Promise<RepeatPurchase> {
  const row = await sql<RepeatPurchase>`
    with per as (
      select s.customer_id, count(*) as n from sales s
      where s.sold_at >= ${scope.from} and s.sold_at < ${scope.to}
        ${segmentFilter(scope, sql`s.segment_id`)}
        ${salespersonFilter(scope, sql`s.salesperson_id`)}
      group by s.customer_id
    )
    select count(*)::int as customers, count(*) filter (where n >= 2)::int as "repeatCustomers" from per`.execute(db);
  return row.rows[0];
}

/** ReferralCohort is the customers whose first sale fell in one month, and the referrals credited to them. */
export interface ReferralCohort {
  cohort: string;
  customers: number;
  referrers: number;
  referrals: number;
}

/**
 * countReferralsByCohort groups the customers whose first sale falls in the period by its calendar month (in the
 * scope's zone) and counts the referred sales credited to them up to the end of the period. The filters apply to
 * the first sale.
 */
export async function countReferralsByCohort(db: Database, scope: ReportScope): Promise<ReferralCohort[]> {
  const rows = await sql<ReferralCohort>`
    with firsts as (
      select distinct on (s.customer_id) s.customer_id, s.sold_at, s.segment_id, s.salesperson_id
      from sales s
      where s.customer_id in (select customer_id from sales where sold_at >= ${scope.from} and sold_at < ${scope.to})
      order by s.customer_id, s.sold_at, s.id
    ),
    cohort as (
      select f.customer_id, to_char(f.sold_at at time zone ${scope.zone}, 'YYYY-MM') as cohort,
        (select count(*) from sales r where r.referrer_id = f.customer_id and r.sold_at < ${scope.to}) as referrals
      from firsts f
      where f.sold_at >= ${scope.from} and f.sold_at < ${scope.to}
        ${segmentFilter(scope, sql`f.segment_id`)}
        ${salespersonFilter(scope, sql`f.salesperson_id`)}
    )
    select cohort, count(*)::int as customers, count(*) filter (where referrals > 0)::int as referrers,
      coalesce(sum(referrals), 0)::int as referrals
    from cohort group by cohort order by cohort`.execute(db);
  return rows.rows;
}
