/** The business's identity: one row, each column null where the environment's default applies. */
import type { Database } from '../database';

/** StoredIdentity is what a manager saved; null fields fall back to the environment. */
export interface StoredIdentity {
  name: string | null;
  address: unknown;
  phone: string | null;
  website: string | null;
  emailFrom: string | null;
  logo: Buffer | null;
  logoType: string | null;
  signature: unknown;
  updatedAt: Date;
  updatedBy: string | null;
}

/** findStoredIdentity returns the stored identity, or null when nothing was ever saved. */
export async function findStoredIdentity(db: Database): Promise<StoredIdentity | null> {
  const row = await db.selectFrom('businessIdentity').selectAll().executeTakeFirst();
  if (!row) return null;
  const { id: _id, ...rest } = row;
  return rest;
}

/** saveStoredIdentity replaces the stored identity as a whole; `logo` undefined keeps the stored logo. */
export async function saveStoredIdentity(
  db: Database,
  s: Omit<StoredIdentity, 'logo' | 'logoType'> & { logo?: { data: Buffer; type: string } | null },
): Promise<void> {
  const values = {
    name: s.name,
    address: s.address === null ? null : JSON.stringify(s.address),
    phone: s.phone,
    website: s.website,
    emailFrom: s.emailFrom,
    signature: s.signature === null ? null : JSON.stringify(s.signature),
    updatedAt: s.updatedAt,
    updatedBy: s.updatedBy,
    ...(s.logo === undefined ? {} : { logo: s.logo?.data ?? null, logoType: s.logo?.type ?? null }),
  };
  await db
    .insertInto('businessIdentity')
    .values({ id: true, ...values })
    .onConflict((oc) => oc.column('id').doUpdateSet(values))
    .execute();
}
