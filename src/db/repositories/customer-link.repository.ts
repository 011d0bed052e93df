/** Customer link codes (the short code printed on a letter) and single-use data links (export, erasure). */
import type { Database } from '../database';

/** insertLinkCode stores a short code; false when the code is taken (the caller draws another). */
export async function insertLinkCode(
  db: Database,
  c: { code: string; customerId: string; linkVersion: number; expiresAt: Date; createdAt: Date },
): Promise<boolean> {
  const row = await db
    .insertInto('customerLinkCodes')
    .values({ ...c, purpose: 'preferences' })
    .onConflict((oc) => oc.column('code').doNothing())
    .returning('code')
    .executeTakeFirst();
  return row !== undefined;
}

/** findLinkCode returns an unexpired code's customer and version, or null. */
export async function findLinkCode(
  db: Database,
  code: string,
  now: Date,
): Promise<{ customerId: string; linkVersion: number; expiresAt: Date } | null> {
  const row = await db
    .selectFrom('customerLinkCodes')
    .select(['customerId', 'linkVersion', 'expiresAt'])
    .where('code', '=', code)
    .where('expiresAt', '>', now)
    .executeTakeFirst();
  return row ?? null;
}

/** DataGrant is a single-use link to a customer's export or erasure. */
export interface DataGrant {
  customerId: string;
  purpose: 'export' | 'erase';
  linkVersion: number;
  expiresAt: Date;
}

/** insertGrant stores a single-use link by the digest of its token. */
export async function insertGrant(db: Database, g: DataGrant & { tokenHash: string; createdAt: Date }): Promise<void> {
  await db.insertInto('customerLinkGrants').values(g).execute();
}

/** findGrant returns an unused, unexpired grant, or null. */
export async function findGrant(db: Database, tokenHash: string, now: Date): Promise<DataGrant | null> {
  const row = await db
    .selectFrom('customerLinkGrants')
    .select(['customerId', 'purpose', 'linkVersion', 'expiresAt'])
    .where('tokenHash', '=', tokenHash)
    .where('usedAt', 'is', null)
    .where('expiresAt', '>', now)
    .executeTakeFirst();
  return row ? { ...row, purpose: row.purpose as DataGrant['purpose'] } : null;
}

/** useGrant marks a grant used, once: the first caller gets it, any later one null. */
export async function useGrant(db: Database, tokenHash: string, now: Date): Promise<DataGrant | null> {
  const row = await db
    .updateTable('customerLinkGrants')
    .set({ usedAt: now })
    .where('tokenHash', '=', tokenHash)
    .where('usedAt', 'is', null)
    .where('expiresAt', '>', now)
    .returning(['customerId', 'purpose', 'linkVersion', 'expiresAt'])
    .executeTakeFirst();
  return row ? { ...row, purpose: row.purpose as DataGrant['purpose'] } : null;
}

/** deleteLinksOfCustomer removes a customer's short codes and data links (on erasure). */
export async function deleteLinksOfCustomer(db: Database, customerId: string): Promise<void> {
  await db.deleteFrom('customerLinkCodes').where('customerId', '=', customerId).execute();
  await db.deleteFrom('customerLinkGrants').where('customerId', '=', customerId).where('usedAt', 'is', null).execute();
}
