/** The customers flagged for data clean-up, with the evidence of why (the reasons themselves are in the service). */
import { sql } from 'kysely';
import type { Database } from '../database';
import { toCustomer, type Customer } from './customer.repository';

/** FlaggedCustomer is a flagged customer and when a call last found their number wrong (null: never). */
export interface FlaggedCustomer {
  customer: Customer;
  wrongNumberAt: Date | null;
}

/**
 * listFlagged returns a page of the customers flagged for clean-up, most recently changed first, and how many there
 * are in all; with `staffIds`, only those whose sales those people made or whose tasks they hold (or held).
 */
export async function listFlagged(
  db: Database,
  staffIds: string[] | null,
  limit: number,
  offset: number,
): Promise<{ rows: FlaggedCustomer[]; total: number }> {
  let q = db.selectFrom('customers as c').where('c.needsCleanup', '=', true).where('c.erasedAt', 'is', null);
  if (staffIds)
    q = q.where(
      sql<boolean>`(exists (select 1 from sales s where s.customer_id = c.id and s.salesperson_id = any(${staffIds}::uuid[]))
        or exists (select 1 from tasks k where k.customer_id = c.id and k.assignee_id = any(${staffIds}::uuid[])))`,
    );
  const [rows, count] = await Promise.all([
    q
      .selectAll('c')
      .select(
        sql<Date | null>`(select max(k.completed_at) from tasks k where k.customer_id = c.id and k.outcome = 'wrong_number')`.as(
          'wrongNumberAt',
        ),
      )
      .orderBy('c.updatedAt', 'desc')
      .orderBy('c.id')
      .limit(limit)
      .offset(offset)
      .execute(),
    q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return {
    rows: rows.map(({ wrongNumberAt, ...row }) => ({ customer: toCustomer(row), wrongNumberAt })),
    total: Number(count.n),
  };
}

/** lastWrongNumberAt returns when a call last found the customer's number wrong, or null. */
export async function lastWrongNumberAt(db: Database, customerId: string): Promise<Date | null> {
  const row = await db
    .selectFrom('tasks')
    .select((eb) => eb.fn.max('completedAt').as('at'))
    .where('customerId', '=', customerId)
    .where('outcome', '=', 'wrong_number')
    .executeTakeFirst();
  return (row?.at as Date | null | undefined) ?? null;
}

/** setCleanupFlag sets or clears the customer's clean-up flag; false when the customer is unknown or erased. */
export async function setCleanupFlag(db: Database, customerId: string, flagged: boolean, at: Date): Promise<boolean> {
  const rows = await db
    .updateTable('customers')
    .set({ needsCleanup: flagged, updatedAt: at })
    .where('id', '=', customerId)
    .where('erasedAt', 'is', null)
    .returning('id')
    .execute();
  return rows.length > 0;
}
