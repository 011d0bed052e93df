/** Referrals: which sale credited which referrer, and the thank-you runs a referral starts. */
import { sql } from 'kysely';
import type { Database } from '../database';
import type { PlanStep } from '../../domain/types';

/** ReferralCredit is one sale credited to a referrer: who bought, which sale, and when. */
export interface ReferralCredit {
  customerId: string;
  saleId: string;
  at: Date;
}

/** setSaleReferrer records the customer a sale is credited to. */
export async function setSaleReferrer(db: Database, saleId: string, referrerId: string): Promise<void> {
  await db.updateTable('sales').set({ referrerId }).where('id', '=', saleId).execute();
}

/** listReferralsOf returns the sales credited to a referrer, oldest first. */
export async function listReferralsOf(db: Database, referrerId: string): Promise<ReferralCredit[]> {
  return db
    .selectFrom('sales')
    .select(['customerId', 'id as saleId', 'soldAt as at'])
    .where('referrerId', '=', referrerId)
    .orderBy('soldAt')
    .orderBy('id')
    .execute();
}

/**
 * insertReferralRun starts the thank-you run of one referral, holding the step it came from; `year` numbers a
 * customer's referral runs so two referrals at one instant do not collide on the run key.
 */
export async function insertReferralRun(
  db: Database,
  r: { customerId: string; segmentId: string; step: PlanStep; startedAt: Date },
): Promise<string> {
  const { n } = await db
    .selectFrom('planRuns')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('customerId', '=', r.customerId)
    .where('kind', '=', 'referral')
    .executeTakeFirstOrThrow();
  const { id } = await db
    .insertInto('planRuns')
    .values({
      customerId: r.customerId,
      saleId: null,
      segmentId: r.segmentId,
      kind: 'referral',
      year: n + 1,
      plan: JSON.stringify([r.step]),
      startedAt: r.startedAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return id;
}

/** latestSalespersonOf returns the salesperson of a customer's most recent sale, or null. */
export async function latestSalespersonOf(db: Database, customerId: string): Promise<string | null> {
  const row = await db
    .selectFrom('sales')
    .select('salespersonId')
    .where('customerId', '=', customerId)
    .orderBy('soldAt', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.salespersonId ?? null;
}
