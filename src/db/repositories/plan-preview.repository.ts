/** Read-side query of the plan editor: the customers a manager may preview a segment's steps for. */
import { sql } from 'kysely';
import type { Database } from '../database';

/** PreviewCustomer is a customer offered for a preview: who, and where a letter or email could go. */
export interface PreviewCustomer {
  id: string;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  hasAddress: boolean;
}

/**
 * latestCustomersOfSegment returns the customers of the latest sales placed in a segment, most recent first, at
 * most `limit`, limited to those `staffIds` look after (null: everyone). Erased customers are never listed.
 */
export async function latestCustomersOfSegment(
  db: Database,
  segmentId: string,
  staffIds: string[] | null,
  limit: number,
): Promise<PreviewCustomer[]> {
  const scope =
    staffIds === null
      ? sql`true`
      : sql`(exists (select 1 from sales x where x.customer_id = c.id and x.salesperson_id = any(${staffIds}::uuid[]))
          or exists (select 1 from tasks k where k.customer_id = c.id and k.assignee_id = any(${staffIds}::uuid[])))`;
  // The latest sales of the segment, then their customers once each: a top-N of sales, not an aggregate of them all.
  const rows = await sql<PreviewCustomer>`
    select c.id, c.first_name as "firstName", c.last_name as "lastName", c.email,
           (c.address is not null and c.address <> 'null'::jsonb) as "hasAddress"
    from sales s join customers c on c.id = s.customer_id
    where s.segment_id = ${segmentId} and c.erased_at is null and ${scope}
    order by s.sold_at desc, s.id
    limit ${limit * 4}`.execute(db);
  const seen = new Set<string>();
  return rows.rows.filter((r) => !seen.has(r.id) && seen.add(r.id)).slice(0, limit);
}
