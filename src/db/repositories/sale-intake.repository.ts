/**
 * The sale intake's reads and writes in as few round trips as possible: POST /v1/sales is the hottest path of the
 * service, and on a small machine each statement costs more in round trip and parse than in work (see BENCHMARKS.md).
 * Ids are chosen here rather than by Postgres defaults so that one statement can write a sale with everything it
 * starts, its stored answer included.
 */
import { randomUUID } from 'node:crypto';
import { sql, type QueryCreator, type Selectable } from 'kysely';
import type { Database } from '../database';
import type { DB, Staff as StaffRow } from '../types';
import type { StaffRole } from '../../domain/types';
import type { AuditEntry } from './access.repository';
import { newReferralCode, type ContactFields, type Customer } from './customer.repository';
import type { PlanRun, NewTouch, Touch } from './plan.repository';
import type { NewSale, StoredSaleKey } from './sale.repository';
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
export async function findSaleKeyAndSegmentsVersion(db: Database, source: string, externalId: string): Promise<SaleKeyLookup> {
  const { rows } = await sql<{ id: string | null; requestHash: string | null; response: unknown; segmentsVersion: string | null }>`
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
    parts.push(sql`(select ${role} as slot, * from staff where role = ${role} and active order by created_at, id limit 1)`);
  }
  const result: StaffForSale = { salesperson: null, byRole: new Map(roles.map((r) => [r, null])) };
  if (parts.length === 0) return result;
  const insert = salesperson
    ? sql`with ins as (
        insert into staff (email, name, role) values (${salesperson.email}, ${salesperson.name}, 'salesperson')
        on conflict (lower(email)) do nothing returning *) `
    : sql``;
  const { rows } = await sql<Selectable<StaffRow> & { slot: string }>`${insert}${sql.join(parts, sql` union all `)}`.execute(db);
  for (const { slot, ...row } of rows) {
    if (slot === 'salesperson') result.salesperson ??= toStaff(row);
    else result.byRole.set(slot as StaffRole, toStaff(row));
  }
  if (salesperson && !result.salesperson) {
    // Another transaction created this salesperson after our snapshot: it is committed now, so read it again.
    const { rows: again } = await sql<Selectable<StaffRow>>`select * from staff where lower(email) = lower(${salesperson.email})`.execute(db);
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
  c: ContactFields & { source: string; externalId?: string | null; segmentId: string; referredBy?: string | null },
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
    timezone: c.timezone ?? null,
    preferredChannel: c.preferredChannel ?? null,
    address: c.address ?? null,
    emailOptOut: false,
    newsletterOptOut: false,
    doNotContact: false,
    needsCleanup: false,
    paused: false,
    referralCode: newReferralCode(),
    referredBy: c.referredBy ?? null,
    segmentId: c.segmentId,
    program: 'first_year',
    erasedAt: null,
    createdAt: now,
    contactCorrections: {},
  };
}

/** newId returns a fresh UUID for a row written by writeSale. */
export function newId(): string {
  return randomUUID();
}

/** SaleWrite is everything one sale stores: maybe a new customer, the sale with its answer, maybe a plan run. */
export interface SaleWrite {
  customer?: NewCustomerRecord;
  sale: NewSale & { id: string; response: unknown };
  run?: Pick<PlanRun, 'id' | 'customerId' | 'saleId' | 'segmentId' | 'kind' | 'year' | 'plan' | 'startedAt'>;
  touches?: (NewTouch & { id: string })[];
  audit: AuditEntry;
  at: Date;
}

/**
 * writeSale stores a sale in one statement: the new customer, the sale with its stored answer and items, the plan
 * run with its touches and their first events, and the audit entry. Foreign keys are checked at the end of the
 * statement, so the order of the parts does not matter; a unique violation (a racing duplicate) aborts them all.
 */
export async function writeSale(db: Database, w: SaleWrite): Promise<Touch[]> {
  // The names of the common table expressions are never referred to; each is only a write.
  let q = db as unknown as QueryCreator<DB>;
  const c = w.customer;
  if (c) {
    q = q.with('new_customer', (qc) =>
      qc.insertInto('customers').values({
        id: c.id,
        source: c.source,
        externalId: c.externalId,
        firstName: c.firstName,
        lastName: c.lastName,
        email: c.email,
        phone: c.phone,
        timezone: c.timezone,
        preferredChannel: c.preferredChannel,
        address: c.address === null ? null : JSON.stringify(c.address),
        needsCleanup: c.needsCleanup,
        segmentId: c.segmentId,
        referredBy: c.referredBy,
        referralCode: c.referralCode,
        program: c.program,
      }).returning('id'),
    ) as unknown as QueryCreator<DB>;
  }
  const s = w.sale;
  q = q.with('new_sale', (qc) =>
    qc.insertInto('sales').values({
      id: s.id,
      source: s.source,
      externalId: s.externalId,
      customerId: s.customerId,
      salespersonId: s.salespersonId,
      segmentId: s.segmentId,
      soldAt: s.soldAt,
      totalAmount: s.totalAmount,
      currency: s.currency,
      referralCode: s.referralCode,
      requestHash: s.requestHash,
      response: JSON.stringify(s.response),
    }).returning('id'),
  ) as unknown as QueryCreator<DB>;
  q = q.with('new_items', (qc) =>
    qc.insertInto('saleItems').values(
      s.items.map((i) => ({ saleId: s.id, sku: i.sku ?? null, name: i.name, category: i.category ?? null, quantity: i.quantity, unitPrice: i.unitPrice })),
    ).returning('id'),
  ) as unknown as QueryCreator<DB>;
  const touches = (w.touches ?? []).map((t) => ({
    id: t.id,
    planRunId: w.run?.id ?? null,
    customerId: w.run?.customerId ?? s.customerId,
    step: t.step,
    channel: t.channel,
    senderRole: t.senderRole ?? null,
    assigneeId: t.assigneeId ?? null,
    dueAt: t.dueAt,
    status: t.status,
    statusReason: t.reason ?? null,
    completedAt: t.status === 'scheduled' ? null : w.at,
  }));
  const run = w.run;
  if (run) {
    q = q.with('new_run', (qc) => qc.insertInto('planRuns').values({ ...run, plan: JSON.stringify(run.plan) }).returning('id')) as unknown as QueryCreator<DB>;
  }
  if (touches.length > 0) {
    q = q.with('new_touches', (qc) => qc.insertInto('touches').values(touches).returning('id')) as unknown as QueryCreator<DB>;
    q = q.with('new_events', (qc) =>
      qc.insertInto('touchEvents').values(touches.map((t) => ({ touchId: t.id, at: w.at, status: t.status, reason: t.statusReason, actor: null }))).returning('id'),
    ) as unknown as QueryCreator<DB>;
  }
  const a = w.audit;
  await q
    .insertInto('auditLog')
    .values({ actor: a.actor, action: a.action, entity: a.entity, entityId: a.entityId ?? null, detail: JSON.stringify(a.detail ?? {}), at: a.at })
    .execute();
  return touches
    .map((t) => ({ ...t, attempts: 0, messageId: null }) as Touch)
    .sort((x, y) => x.step - y.step);
}
