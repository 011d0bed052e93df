/**
 * The batched sale intake's look-up: a batch of sales by new customers is looked up in one statement, whatever its
 * size (writeSales in sale-intake.repository.ts then writes them in one). The SQL text is fixed and every value goes
 * in as an array, so building it costs the same for one sale as for a hundred.
 */
import { sql, type Selectable } from 'kysely';
import type { Database } from '../database';
import type { Staff as StaffRow } from '../types';
import type { StaffRole } from '../../domain/types';
import { SEGMENTS_VERSION } from './sale-intake.repository';
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
         select distinct on (role) * from staff where active and role = any(${q.roles}::text[]) order by role, created_at, id) r) as role_holders`.execute(
    db,
  );
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
