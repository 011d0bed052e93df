/** The customers flagged for data clean-up, with the evidence of why (the reasons themselves are in the service). */
import { sql } from 'kysely';
import type { Database } from '../database';
import { toCustomer, type Customer } from './customer.repository';

/** PossibleDuplicate is a sale matched to the customer by phone only that named someone else (what it gave). */
export interface PossibleDuplicate {
  at: Date;
  given: { firstName?: string; lastName?: string; email?: string };
}

/**
 * FlaggedCustomer is a flagged customer, when a call last found their number wrong (null: never) and the sales that
 * may have been someone else's, not yet resolved.
 */
export interface FlaggedCustomer {
  customer: Customer;
  wrongNumberAt: Date | null;
  duplicates: PossibleDuplicate[];
}

/** openDuplicates is the customer's (`c`) unresolved possible duplicates, oldest first, as a JSON array. */
const openDuplicates = sql<PossibleDuplicate[]>`coalesce((
  select json_agg(json_build_object('at', d.created_at, 'given', d.given) order by d.created_at)
  from possible_duplicates d where d.customer_id = c.id and d.resolved_at is null), '[]'::json)`;

function toDuplicates(rows: PossibleDuplicate[]): PossibleDuplicate[] {
  return rows.map((d) => ({ at: new Date(d.at), given: d.given }));
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
      .select(openDuplicates.as('duplicates'))
      .orderBy('c.updatedAt', 'desc')
      .orderBy('c.id')
      .limit(limit)
      .offset(offset)
      .execute(),
    q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return {
    rows: rows.map(({ wrongNumberAt, duplicates, ...row }) => ({
      customer: toCustomer(row),
      wrongNumberAt,
      duplicates: toDuplicates(duplicates),
    })),
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

/** listOpenDuplicates returns the customer's unresolved possible duplicates, oldest first. */
export async function listOpenDuplicates(db: Database, customerId: string): Promise<PossibleDuplicate[]> {
  const row = await db
    .selectFrom('customers as c')
    .select(openDuplicates.as('duplicates'))
    .where('c.id', '=', customerId)
    .executeTakeFirst();
  return toDuplicates(row?.duplicates ?? []);
}

/** resolveDuplicates marks the customer's possible duplicates resolved (looked at by a manager). */
export async function resolveDuplicates(db: Database, customerId: string, at: Date): Promise<void> {
  await db
    .updateTable('possibleDuplicates')
    .set({ resolvedAt: at })
    .where('customerId', '=', customerId)
    .where('resolvedAt', 'is', null)
    .execute();
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
