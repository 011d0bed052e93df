/**
 * The sale intake's reads and writes in as few round trips as possible: POST /v1/sales is the hottest path of the
 * service, and on a small machine each statement costs more in round trip and parse than in work (see BENCHMARKS.md).
 * Ids are chosen here rather than by Postgres defaults so that one statement can write a sale with everything it
 * starts, its stored answer included.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import type { Database } from '../database';
import type { Staff as StaffRow } from '../types';
import type { StaffRole } from '../../domain/types';
import type { AuditEntry } from './access.repository';
import { newReferralCode, type ContactFields, type Customer } from './customer.repository';
import type { PlanRun, NewTouch } from './plan.repository';
import type { NewSale, StoredSaleKey } from './sale.repository';
import { plannedEventsSql } from './touch-lifecycle.repository';
import { toStaff, type StaffMember } from './staff.repository';

/** SaleKeyLookup is a stored sale with this key (or null) and the current version of the segments table. */
export interface SaleKeyLookup {
  existing: StoredSaleKey | null;
  /** Changes whenever a segment is created, edited or removed, so a cached segment list can be checked for free. */
  segmentsVersion: string;
}

/**
 * SEGMENTS_VERSION is an expression naming the segments table's state: xmin changes with every insert or update of a
 * row, so the list of (id, xmin) pairs changes whenever a segment is created, edited or removed.
 */
export const SEGMENTS_VERSION = sql<string>`(select string_agg(id::text || ':' || xmin::text, ',' order by id) from segments)`;

/** findSaleKeyAndSegmentsVersion looks up a sale by (source, externalId) and reads the segments' version in one trip. */
export async function findSaleKeyAndSegmentsVersion(
  db: Database,
  source: string,
  externalId: string,
): Promise<SaleKeyLookup> {
  const { rows } = await sql<{
    id: string | null;
    requestHash: string | null;
    response: unknown;
    segmentsVersion: string | null;
  }>`
    select s.id, s.request_hash, s.response, v.segments_version
    from (select ${SEGMENTS_VERSION} as segments_version) v
    left join sales s on s.source = ${source} and s.external_id = ${externalId}`.execute(db);
  const row = rows[0];
  return {
    existing: row?.id ? { id: row.id, requestHash: row.requestHash as string, response: row.response } : null,
    segmentsVersion: row?.segmentsVersion ?? '',
  };
}

/** StaffForSale is the sale's salesperson (found or created) and the first active staff member of each asked role. */
export interface StaffForSale {
  salesperson: StaffMember | null;
  byRole: Map<StaffRole, StaffMember | null>;
}

/**
 * findStaffForSale finds or creates the salesperson (matched by email, case-insensitively) and finds the
 * longest-serving active staff member of each role in `roles`, in one statement.
 */
export async function findStaffForSale(
  db: Database,
  salesperson: { email: string; name: string } | null,
  roles: StaffRole[],
): Promise<StaffForSale> {
  const parts = [];
  if (salesperson) {
    // The insert does nothing for a known email; the second branch then finds the row (the statement's snapshot
    // does not see a row the insert just made, so exactly one branch answers).
    parts.push(sql`(select 'salesperson' as slot, * from ins)`);
    parts.push(sql`(select 'salesperson' as slot, * from staff where lower(email) = lower(${salesperson.email}))`);
  }
  for (const role of roles) {
    parts.push(
      sql`(select ${role} as slot, * from staff where role = ${role} and active order by created_at, id limit 1)`,
    );
  }
  const result: StaffForSale = { salesperson: null, byRole: new Map(roles.map((r) => [r, null])) };
  if (parts.length === 0) return result;
  const insert = salesperson
    ? sql`with ins as (
        insert into staff (email, name, role, pending) values (${salesperson.email}, ${salesperson.name}, 'salesperson', true)
        on conflict (lower(email)) do nothing returning *) `
    : sql``;
  const { rows } = await sql<
    Selectable<StaffRow> & { slot: string }
  >`${insert}${sql.join(parts, sql` union all `)}`.execute(db);
  for (const { slot, ...row } of rows) {
    if (slot === 'salesperson') result.salesperson ??= toStaff(row);
    else result.byRole.set(slot as StaffRole, toStaff(row));
  }
  if (salesperson && !result.salesperson) {
    // Another transaction created this salesperson after our snapshot: it is committed now, so read it again.
    const { rows: again } = await sql<
      Selectable<StaffRow>
    >`select * from staff where lower(email) = lower(${salesperson.email})`.execute(db);
    if (!again[0]) throw new Error('salesperson vanished after conflict');
    result.salesperson = toStaff(again[0]);
  }
  return result;
}

/** NewCustomerRecord is a customer to create with the sale, as the domain sees it once stored. */
export type NewCustomerRecord = Customer;

/**
 * newCustomerRecord gives a new customer its id and referral code, with the defaults of the customers table, so it
 * can be planned for before it is written.
 */
export function newCustomerRecord(
  c: ContactFields & {
    source: string;
    externalId?: string | null;
    segmentId: string;
    referredBy?: string | null;
    needsCleanup?: boolean;
    program?: Customer['program'];
  },
  now: Date,
): NewCustomerRecord {
  return {
    id: randomUUID(),
    source: c.source,
    externalId: c.externalId ?? null,
    firstName: c.firstName ?? null,
    lastName: c.lastName ?? null,
    email: c.email ?? null,
    emailStatus: 'ok',
    phone: c.phone ?? null,
    phoneDisplay: c.phoneDisplay ?? c.phone ?? null,
    timezone: c.timezone ?? null,
    preferredChannel: c.preferredChannel ?? null,
    address: c.address ?? null,
    emailOptOut: false,
    newsletterOptOut: false,
    doNotContact: false,
    needsCleanup: c.needsCleanup ?? false,
    paused: false,
    referralCode: newReferralCode(),
    referredBy: c.referredBy ?? null,
    segmentId: c.segmentId,
    program: c.program ?? 'first_year',
    erasedAt: null,
    createdAt: now,
    contactCorrections: {},
    linkVersion: 1,
  };
}

/** newId returns a fresh UUID for a row written by writeSales. */
export function newId(): string {
  return randomUUID();
}

/** SaleWrite is everything one sale stores: maybe a new customer, the sale with its answer, maybe a plan run. */
export interface SaleWrite {
  customer?: NewCustomerRecord;
  sale: NewSale & { id: string; response: unknown };
  run?: Pick<PlanRun, 'id' | 'customerId' | 'saleId' | 'segmentId' | 'kind' | 'year' | 'plan' | 'startedAt'> & {
    /** `completed` for a sale whose first year is already over (the customer is in the later years). */
    status?: 'active' | 'completed';
  };
  touches?: (NewTouch & { id: string })[];
  /** What a phone-only match's sale said differently about the person, kept for clean-up (identity rules). */
  possibleDuplicate?: Record<string, unknown> | null;
  audit: AuditEntry;
  at: Date;
}

/**
 * writeSales stores sales in one statement, one sale or a batch alike: for each, its new customer if it has one, the
 * sale with its stored answer and items, the plan run with its touches and their first events if it starts one, and
 * the audit entry. Each table's rows go in as one JSON document, so the SQL text is fixed and building it costs the
 * same for one sale as for a hundred (Kysely's per-row query building was a sixth of the API's CPU time per sale, see
 * BENCHMARKS.md). Foreign keys are checked at the end of the statement; any unique violation (a sale or customer
 * another process stored meanwhile) aborts all of it.
 */
export async function writeSales(db: Database, writes: SaleWrite[]): Promise<void> {
  const customers = [];
  const sales = [];
  const items = [];
  const runs = [];
  const touches = [];
  const audits = [];
  const duplicates = [];
  // A plan (a segment's steps with their letters and talking points) is sent once per batch, not once per run:
  // runs of one segment share it, and it is most of a run's size.
  const plans: unknown[] = [];
  const planIndexes = new Map<unknown, number>();
  for (const w of writes) {
    const c = w.customer;
    if (c)
      customers.push({
        id: c.id,
        source: c.source,
        external_id: c.externalId,
        first_name: c.firstName,
        last_name: c.lastName,
        email: c.email,
        phone: c.phone,
        phone_display: c.phoneDisplay,
        timezone: c.timezone,
        preferred_channel: c.preferredChannel,
        address: c.address,
        needs_cleanup: c.needsCleanup,
        segment_id: c.segmentId,
        referred_by: c.referredBy,
        referral_code: c.referralCode,
        program: c.program,
      });
    const s = w.sale;
    sales.push({
      id: s.id,
      source: s.source,
      external_id: s.externalId,
      customer_id: s.customerId,
      salesperson_id: s.salespersonId,
      segment_id: s.segmentId,
      sold_at: s.soldAt,
      total_amount: s.totalAmount,
      currency: s.currency,
      referral_code: s.referralCode,
      request_hash: s.requestHash,
      response: s.response,
    });
    for (const i of s.items) {
      items.push({
        sale_id: s.id,
        sku: i.sku ?? null,
        name: i.name,
        category: i.category ?? null,
        quantity: i.quantity,
        unit_price: i.unitPrice,
      });
    }
    const run = w.run;
    if (run) {
      let planIndex = planIndexes.get(run.plan);
      if (planIndex === undefined) planIndexes.set(run.plan, (planIndex = plans.push(run.plan) - 1));
      runs.push({
        id: run.id,
        customer_id: run.customerId,
        sale_id: run.saleId,
        segment_id: run.segmentId,
        kind: run.kind,
        year: run.year,
        status: run.status ?? 'active',
        plan_index: planIndex,
        started_at: run.startedAt,
      });
    }
    for (const t of w.touches ?? []) {
      const reason = t.reason ?? null;
      touches.push({
        id: t.id,
        plan_run_id: run?.id ?? null,
        customer_id: run?.customerId ?? s.customerId,
        step: t.step,
        channel: t.channel,
        sender_role: t.senderRole ?? null,
        assignee_id: t.assigneeId ?? null,
        due_at: t.dueAt,
        status: t.status,
        status_reason: reason,
        completed_at: t.status === 'scheduled' ? null : w.at,
        // Not a column of touches: the time of the touch's first event, which is made from the same row.
        at: w.at,
      });
    }
    if (w.possibleDuplicate)
      duplicates.push({ customer_id: s.customerId, sale_id: s.id, given: w.possibleDuplicate, created_at: w.at });
    const a = w.audit;
    audits.push({
      actor: a.actor,
      action: a.action,
      entity: a.entity,
      entity_id: a.entityId ?? null,
      detail: a.detail ?? {},
      at: a.at,
    });
  }
  // The names of the common table expressions are never referred to; each is only a write.
  await sql`
    with new_customers as (
      insert into customers (id, source, external_id, first_name, last_name, email, phone, phone_display, timezone, preferred_channel,
                             address, needs_cleanup, segment_id, referred_by, referral_code, program)
      select * from json_to_recordset(${JSON.stringify(customers)}::json) as r(id uuid, source text, external_id text, first_name text,
        last_name text, email text, phone text, phone_display text, timezone text, preferred_channel text, address jsonb,
        needs_cleanup boolean, segment_id uuid, referred_by uuid, referral_code text, program text)
      returning 1),
    new_sales as (
      insert into sales (id, source, external_id, customer_id, salesperson_id, segment_id, sold_at, total_amount, currency,
                         referral_code, request_hash, response)
      select * from json_to_recordset(${JSON.stringify(sales)}::json) as r(id uuid, source text, external_id text, customer_id uuid,
        salesperson_id uuid, segment_id uuid, sold_at timestamptz, total_amount numeric, currency text, referral_code text,
        request_hash text, response jsonb)
      returning 1),
    new_items as (
      insert into sale_items (sale_id, sku, name, category, quantity, unit_price)
      select * from json_to_recordset(${JSON.stringify(items)}::json) as r(sale_id uuid, sku text, name text, category text,
        quantity integer, unit_price numeric)
      returning 1),
    new_runs as (
      insert into plan_runs (id, customer_id, sale_id, segment_id, kind, year, status, plan, started_at)
      select r.id, r.customer_id, r.sale_id, r.segment_id, r.kind, r.year, r.status, ${JSON.stringify(plans)}::jsonb -> r.plan_index,
             r.started_at
      from json_to_recordset(${JSON.stringify(runs)}::json) as r(id uuid, customer_id uuid, sale_id uuid, segment_id uuid,
        kind text, year integer, status text, plan_index integer, started_at timestamptz)
      returning 1),
    touch_rows as materialized (
      select * from json_to_recordset(${JSON.stringify(touches)}::json) as r(id uuid, plan_run_id uuid, customer_id uuid,
        step integer, channel text, sender_role text, assignee_id uuid, due_at timestamptz, status text, status_reason text,
        completed_at timestamptz, at timestamptz)),
    new_touches as (
      insert into touches (id, plan_run_id, customer_id, step, channel, sender_role, assignee_id, due_at, status, status_reason,
                           completed_at)
      select id, plan_run_id, customer_id, step, channel, sender_role, assignee_id, due_at, status, status_reason, completed_at
      from touch_rows
      returning 1),
    -- Each touch's first event is its status when planned: made from the touch's own row, not sent a second time.
    new_events as (
      ${plannedEventsSql('touch_rows')}
      returning 1),
    new_duplicates as (
      insert into possible_duplicates (customer_id, sale_id, matched_by, given, created_at)
      select customer_id, sale_id, 'phone', given, created_at
      from json_to_recordset(${JSON.stringify(duplicates)}::json) as r(customer_id uuid, sale_id uuid, given jsonb, created_at timestamptz)
      returning 1)
    insert into audit_log (actor, action, entity, entity_id, detail, at)
    select * from json_to_recordset(${JSON.stringify(audits)}::json) as r(actor text, action text, entity text, entity_id text,
      detail jsonb, at timestamptz)`.execute(db);
}
