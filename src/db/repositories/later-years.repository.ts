/** Plan runs reaching an anniversary, and the later-year runs that follow them. */
import { sql } from 'kysely';
import type { Database } from '../database';
import type { Address, PlanStep } from '../../domain/types';

/** RunAtAnniversary is an active first-year or later-year run with what deciding its next year needs. */
export interface RunAtAnniversary {
  runId: string;
  kind: 'first_year' | 'later_year';
  year: number;
  customerId: string;
  saleId: string;
  segmentId: string;
  startedAt: Date;
  /** When the sale that started the plan was made: every anniversary is counted from it. */
  anchor: Date;
  salespersonId: string | null;
  workingDays: number[] | null;
  workStart: string | null;
  program: 'first_year' | 'later_years' | 'none';
  timezone: string | null;
  doNotContact: boolean;
  erasedAt: Date | null;
  needsCleanup: boolean;
  email: string | null;
  emailStatus: 'ok' | 'bounced';
  emailOptOut: boolean;
  address: Address | null;
  preferredChannel: 'email' | 'letter' | null;
}

/** RunCursor is a keyset position in (started_at, id) order. */
export interface RunCursor {
  startedAt: Date;
  id: string;
}

// A run with its customer, sale and salesperson: the columns of RunAtAnniversary and the joins they come from.
const RUN_WITH_CUSTOMER = sql`
    select r.id as "runId", r.kind, r.year, r.customer_id as "customerId", r.sale_id as "saleId",
           r.segment_id as "segmentId", r.started_at as "startedAt", s.sold_at as "anchor",
           s.salesperson_id as "salespersonId", st.working_days as "workingDays", st.work_start as "workStart",
           c.program, c.timezone, c.do_not_contact as "doNotContact", c.erased_at as "erasedAt",
           c.needs_cleanup as "needsCleanup", c.email, c.email_status as "emailStatus",
           c.email_opt_out as "emailOptOut", c.address, c.preferred_channel as "preferredChannel"
    from plan_runs r
    join customers c on c.id = r.customer_id
    join sales s on s.id = r.sale_id
    left join staff st on st.id = s.salesperson_id`;

/**
 * lockRunsStartedBefore locks up to `limit` active runs of `kind` started at or before `cutoff` and after `after`, in
 * (started_at, id) order, skipping runs another worker holds; the caller decides which reached their anniversary.
 */
export async function lockRunsStartedBefore(
  db: Database,
  kind: 'first_year' | 'later_year',
  cutoff: Date,
  after: RunCursor | null,
  limit: number,
): Promise<RunAtAnniversary[]> {
  const afterAt = after?.startedAt ?? new Date(0);
  const afterId = after?.id ?? '00000000-0000-0000-0000-000000000000';
  const { rows } = await sql<RunAtAnniversary>`
    ${RUN_WITH_CUSTOMER}
    where r.kind = ${kind} and r.status = 'active' and r.started_at <= ${cutoff}
      and (r.started_at, r.id) > (${afterAt}, ${afterId}::uuid)
    order by r.started_at, r.id
    limit ${limit}
    for update of r skip locked`.execute(db);
  return rows;
}

/**
 * lockLaterYearsWithoutRun locks up to `limit` customers in the later-years program who have no active run (an
 * imported history puts them there with their first year already complete), returning each one's latest first-year
 * run as the anchor of their years, in (started_at, id) order after `after`.
 */
export async function lockLaterYearsWithoutRun(
  db: Database,
  after: RunCursor | null,
  limit: number,
): Promise<RunAtAnniversary[]> {
  const afterAt = after?.startedAt ?? new Date(0);
  const afterId = after?.id ?? '00000000-0000-0000-0000-000000000000';
  const { rows } = await sql<RunAtAnniversary>`
    ${RUN_WITH_CUSTOMER}
    where c.program = 'later_years' and c.erased_at is null and r.kind = 'first_year'
      and r.started_at = (select max(f.started_at) from plan_runs f where f.customer_id = c.id and f.kind = 'first_year')
      and not exists (select 1 from plan_runs a where a.customer_id = c.id and a.status = 'active')
      and (r.started_at, r.id) > (${afterAt}, ${afterId}::uuid)
    order by r.started_at, r.id
    limit ${limit}
    for update of c skip locked`.execute(db);
  return rows;
}

/** completeRun marks a run completed; its touches still go out (the anniversary contact may fall a day later). */
export async function completeRun(db: Database, runId: string): Promise<void> {
  await db
    .updateTable('planRuns')
    .set({ status: 'completed' })
    .where('id', '=', runId)
    .where('status', '=', 'active')
    .execute();
}

/** setProgram moves a customer into a program (later_years, or none once they opted out of everything). */
export async function setProgram(
  db: Database,
  customerId: string,
  program: 'later_years' | 'none',
  at: Date,
): Promise<void> {
  await db.updateTable('customers').set({ program, updatedAt: at }).where('id', '=', customerId).execute();
}

/** flagForCleanup marks a customer whose contact could not be made for want of an address. */
export async function flagForCleanup(db: Database, customerId: string, at: Date): Promise<void> {
  await db.updateTable('customers').set({ needsCleanup: true, updatedAt: at }).where('id', '=', customerId).execute();
}

/**
 * insertLaterYearRun starts customer year `year` and returns its id, or null when that run already exists (the
 * unique (customer_id, kind, year, started_at) key makes starting a year twice impossible).
 */
export async function insertLaterYearRun(
  db: Database,
  r: { customerId: string; saleId: string; segmentId: string; year: number; plan: PlanStep[]; startedAt: Date },
): Promise<string | null> {
  const row = await db
    .insertInto('planRuns')
    .values({ ...r, kind: 'later_year', plan: JSON.stringify(r.plan) })
    .onConflict((oc) => oc.columns(['customerId', 'kind', 'year', 'startedAt']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id ?? null;
}
