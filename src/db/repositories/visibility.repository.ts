/** The queries behind who may see which customers and tasks (the rule itself is in services/visibility.service.ts). */
import { sql } from 'kysely';
import type { Database } from '../database';

/** teamOf returns a staff member's id and everyone who reports to them, directly or through others (6 levels). */
export async function teamOf(db: Database, staffId: string): Promise<string[]> {
  const rows = await sql<{ id: string }>`
    with recursive team (id, depth) as (
      select ${staffId}::uuid, 0
      union
      select s.id, t.depth + 1 from staff s join team t on s.manager_id = t.id where t.depth < 6
    )
    select distinct id from team`.execute(db);
  return rows.rows.map((r) => r.id);
}

/** looksAfter tells whether any of `staffIds` made a sale to the customer or holds (or held) one of their tasks. */
export async function looksAfter(db: Database, staffIds: string[], customerId: string): Promise<boolean> {
  const row = await sql<{ ok: boolean }>`
    select exists (select 1 from sales where customer_id = ${customerId}::uuid and salesperson_id = any(${staffIds}::uuid[]))
        or exists (select 1 from tasks where customer_id = ${customerId}::uuid and assignee_id = any(${staffIds}::uuid[]))
      as ok`.execute(db);
  return row.rows[0]?.ok === true;
}

/** customersLookedAfter keeps, of `customerIds`, those that any of `staffIds` looks after. */
export async function customersLookedAfter(
  db: Database,
  staffIds: string[],
  customerIds: string[],
): Promise<Set<string>> {
  if (customerIds.length === 0) return new Set();
  const rows = await sql<{ id: string }>`
    select c.id from unnest(${customerIds}::uuid[]) as c(id)
    where exists (select 1 from sales s where s.customer_id = c.id and s.salesperson_id = any(${staffIds}::uuid[]))
       or exists (select 1 from tasks k where k.customer_id = c.id and k.assignee_id = any(${staffIds}::uuid[]))`.execute(
    db,
  );
  return new Set(rows.rows.map((r) => r.id));
}
