/**
 * The batched sale intake's reads and writes: a batch of sales by new customers is looked up in one statement and
 * written in one statement, whatever its size. The SQL text is fixed and every value goes in as an array or a JSON
 * document, so building a statement costs the same for one sale as for a hundred (Kysely's per-row query building
 * was a sixth of the API's CPU time per sale, see BENCHMARKS.md).
 */
import { sql, type Selectable } from 'kysely';
import type { Database } from '../database';
import type { Staff as StaffRow } from '../types';
import type { StaffRole } from '../../domain/types';
import { SEGMENTS_VERSION, type SaleWrite } from './sale-intake.repository';
import { toStaff, type StaffMember } from './staff.repository';

/** BatchLookupInput is what a batch asks about its sales, customers and salespeople. */
export interface BatchLookupInput {
  saleKeys: { source: string; externalId: string }[];
  customerExternalKeys: { source: string; externalId: string }[];
  /** Lower-cased, as customers are matched by email case-insensitively. */
  customerEmails: string[];
  customerPhones: string[];
  /** Digests of the emails and phones, by which a customer who corrected them away is still found (contact-corrections.ts). */
  correctedEmails: string[];
  correctedPhones: string[];
  /** Lower-cased salesperson emails. */
  salespersonEmails: string[];
  roles: StaffRole[];
}

/** BatchLookup is what the database holds about a batch, read in one statement. */
export interface BatchLookup {
  /** The segments table's version, as findSaleKeyAndSegmentsVersion reads it. */
  segmentsVersion: string;
  /** batchKey(source, externalId) of the sales already stored. */
  existingSales: Set<string>;
  /** batchKey(source, externalId) of the customer external ids a live customer already has. */
  matchedExternalKeys: Set<string>;
  /** Lower-cased emails and phones a live customer already has. */
  matchedEmails: Set<string>;
  matchedPhones: Set<string>;
  /** The digests of correctedEmails and correctedPhones a live customer holds. */
  matchedCorrections: Set<string>;
  /** Known staff by lower-cased email. */
  salespeople: Map<string, StaffMember>;
  /** The longest-serving active staff member of each asked role, as findStaffForSale picks them. */
  byRole: Map<StaffRole, StaffMember | null>;
}

/** batchKey names a (source, externalId) pair unambiguously. */
export function batchKey(source: string, externalId: string): string {
  return JSON.stringify([source, externalId]);
}

type StaffJson = Selectable<StaffRow>;

/**
 * lookUpBatch reads, in one statement, everything a batch of new-customer sales must know before it is planned:
 * which sale keys are taken, which customer keys match a live (not erased) customer, the known salespeople, the
 * holders of the call roles and the segments' version. Run it after the batch's advisory locks are held: a
 * statement's snapshot is taken when it starts, so it then sees every customer a lock holder has committed.
 */
export async function lookUpBatch(db: Database, q: BatchLookupInput): Promise<BatchLookup> {
  // The matches return the asked value (not the column), so the caller compares exactly what it sent.
  const { rows } = await sql<{
    segmentsVersion: string | null;
    existingSales: [string, string][];
    externalKeys: [string, string][];
    emails: string[];
    phones: string[];
    corrections: string[];
    salespeople: { lookup: string; staff: StaffJson }[];
    roleHolders: StaffJson[];
  }>`
    select
      ${SEGMENTS_VERSION} as segments_version,
      (select coalesce(json_agg(json_build_array(s.source, s.external_id)), '[]')
         from unnest(${q.saleKeys.map((k) => k.source)}::text[], ${q.saleKeys.map((k) => k.externalId)}::text[]) as k(source, external_id)
         join sales s on s.source = k.source and s.external_id = k.external_id) as existing_sales,
      (select coalesce(json_agg(json_build_array(k.source, k.external_id)), '[]')
         from unnest(${q.customerExternalKeys.map((k) => k.source)}::text[], ${q.customerExternalKeys.map((k) => k.externalId)}::text[]) as k(source, external_id)
         where exists (select 1 from customers c where c.source = k.source and c.external_id = k.external_id and c.erased_at is null)) as external_keys,
      (select coalesce(json_agg(k), '[]') from unnest(${q.customerEmails}::text[]) as k
         where exists (select 1 from customers c where lower(c.email) = k and c.erased_at is null)) as emails,
      (select coalesce(json_agg(k), '[]') from unnest(${q.customerPhones}::text[]) as k
         where exists (select 1 from customers c where c.phone = k and c.erased_at is null)) as phones,
      (select coalesce(json_agg(k), '[]') from (
         select k from unnest(${q.correctedEmails}::text[]) as k
           where exists (select 1 from customers c where c.contact_corrections ? 'email' and c.contact_corrections ->> 'email' = k and c.erased_at is null)
         union all
         select k from unnest(${q.correctedPhones}::text[]) as k
           where exists (select 1 from customers c where c.contact_corrections ? 'phone' and c.contact_corrections ->> 'phone' = k and c.erased_at is null)
       ) found) as corrections,
      (select coalesce(json_agg(json_build_object('lookup', k, 'staff', to_json(st))), '[]')
         from unnest(${q.salespersonEmails}::text[]) as k join staff st on lower(st.email) = k) as salespeople,
      (select coalesce(json_agg(r), '[]') from (
         select distinct on (role) * from staff where active and role = any(${q.roles}::text[]) order by role, created_at, id) r) as role_holders`.execute(db);
  const row = rows[0];
  // The camel-case plugin has already renamed the nested staff rows' keys, so they map like any staff row.
  const byRole = new Map<StaffRole, StaffMember | null>(q.roles.map((r) => [r, null]));
  for (const holder of row.roleHolders) byRole.set(holder.role as StaffRole, toStaff(holder));
  return {
    segmentsVersion: row.segmentsVersion ?? '',
    existingSales: new Set(row.existingSales.map(([s, e]) => batchKey(s, e))),
    matchedExternalKeys: new Set(row.externalKeys.map(([s, e]) => batchKey(s, e))),
    matchedEmails: new Set(row.emails),
    matchedPhones: new Set(row.phones),
    matchedCorrections: new Set(row.corrections),
    salespeople: new Map(row.salespeople.map((p) => [p.lookup, toStaff(p.staff)])),
    byRole,
  };
}

/**
 * writeSaleBatch stores the sales of a batch in one statement: for each, the new customer, the sale with its stored
 * answer and items, the plan run with its touches and their first events, and the audit entry, exactly as
 * writeSale stores one. Each table's rows go in as one JSON document. Foreign keys are checked at the end of the
 * statement; any unique violation (a sale or customer another process stored meanwhile) aborts the whole batch.
 */
export async function writeSaleBatch(db: Database, writes: SaleWrite[]): Promise<void> {
  const customers = [];
  const sales = [];
  const items = [];
  const runs = [];
  const touches = [];
  const audits = [];
  // A plan (a segment's steps with their letters and talking points) is sent once per batch, not once per run:
  // runs of one segment share it, and it is most of a run's size.
  const plans: unknown[] = [];
  const planIndexes = new Map<unknown, number>();
  for (const w of writes) {
    const c = w.customer;
    if (!c) throw new Error('writeSaleBatch stores sales by new customers only');
    customers.push({
      id: c.id,
      source: c.source,
      external_id: c.externalId,
      first_name: c.firstName,
      last_name: c.lastName,
      email: c.email,
      phone: c.phone,
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
      items.push({ sale_id: s.id, sku: i.sku ?? null, name: i.name, category: i.category ?? null, quantity: i.quantity, unit_price: i.unitPrice });
    }
    const run = w.run;
    if (run) {
      let planIndex = planIndexes.get(run.plan);
      if (planIndex === undefined) planIndexes.set(run.plan, (planIndex = plans.push(run.plan) - 1));
      runs.push({ id: run.id, customer_id: run.customerId, sale_id: run.saleId, segment_id: run.segmentId, kind: run.kind, year: run.year, plan_index: planIndex, started_at: run.startedAt });
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
    const a = w.audit;
    audits.push({ actor: a.actor, action: a.action, entity: a.entity, entity_id: a.entityId ?? null, detail: a.detail ?? {}, at: a.at });
  }
  // The names of the common table expressions are never referred to; each is only a write.
  await sql`
    with new_customers as (
      insert into customers (id, source, external_id, first_name, last_name, email, phone, timezone, preferred_channel, address,
                             needs_cleanup, segment_id, referred_by, referral_code, program)
      select * from json_to_recordset(${JSON.stringify(customers)}::json) as r(id uuid, source text, external_id text, first_name text,
        last_name text, email text, phone text, timezone text, preferred_channel text, address jsonb, needs_cleanup boolean,
        segment_id uuid, referred_by uuid, referral_code text, program text)
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
      insert into plan_runs (id, customer_id, sale_id, segment_id, kind, year, plan, started_at)
      select r.id, r.customer_id, r.sale_id, r.segment_id, r.kind, r.year, ${JSON.stringify(plans)}::jsonb -> r.plan_index, r.started_at
      from json_to_recordset(${JSON.stringify(runs)}::json) as r(id uuid, customer_id uuid, sale_id uuid, segment_id uuid,
        kind text, year integer, plan_index integer, started_at timestamptz)
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
      insert into touch_events (touch_id, at, status, reason)
      select id, at, status, status_reason from touch_rows
      returning 1)
    insert into audit_log (actor, action, entity, entity_id, detail, at)
    select * from json_to_recordset(${JSON.stringify(audits)}::json) as r(actor text, action text, entity text, entity_id text,
      detail jsonb, at timestamptz)`.execute(db);
}
