/** Customers: contact points, preferences and program. */
import { randomBytes } from 'node:crypto';
import { sql, type Expression, type Selectable, type SqlBool } from 'kysely';
import type { Database } from '../database';
import type { Customers } from '../types';
import type { Address } from '../../domain/types';
import type { ContactCorrections } from '../../domain/contact-corrections';

/** Customer is a person who bought, with how they may be contacted. */
export interface Customer {
  id: string;
  source: string;
  externalId: string | null;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  emailStatus: 'ok' | 'bounced';
  /** E.164 when it parsed, else as given (and then never used for matching). */
  phone: string | null;
  /** The phone as it was given, for display. */
  phoneDisplay: string | null;
  timezone: string | null;
  preferredChannel: 'email' | 'letter' | null;
  address: Address | null;
  emailOptOut: boolean;
  newsletterOptOut: boolean;
  doNotContact: boolean;
  needsCleanup: boolean;
  paused: boolean;
  referralCode: string;
  referredBy: string | null;
  segmentId: string | null;
  program: 'first_year' | 'later_years' | 'none';
  erasedAt: Date | null;
  createdAt: Date;
  /** The fields the customer corrected themselves, each with a fingerprint of the value it replaced. */
  contactCorrections: ContactCorrections;
  /** Every link given to the customer carries this; bumped on erasure and on a new email address (a trigger). */
  linkVersion: number;
}

/** ContactFields are what a sale or the customer can set about a customer. */
export interface ContactFields {
  firstName?: string | null;
  lastName?: string | null;
  email?: string | null;
  phone?: string | null;
  phoneDisplay?: string | null;
  timezone?: string | null;
  preferredChannel?: 'email' | 'letter' | null;
  address?: Address | null;
}

/** toCustomer maps a row to the domain type. */
export function toCustomer(row: Selectable<Customers>): Customer {
  return {
    id: row.id,
    source: row.source,
    externalId: row.externalId,
    firstName: row.firstName,
    lastName: row.lastName,
    email: row.email,
    emailStatus: row.emailStatus as Customer['emailStatus'],
    phone: row.phone,
    phoneDisplay: row.phoneDisplay ?? row.phone,
    timezone: row.timezone,
    preferredChannel: row.preferredChannel as Customer['preferredChannel'],
    address: row.address as unknown as Address | null,
    emailOptOut: row.emailOptOut,
    newsletterOptOut: row.newsletterOptOut,
    doNotContact: row.doNotContact,
    needsCleanup: row.needsCleanup,
    paused: row.paused,
    referralCode: row.referralCode,
    referredBy: row.referredBy,
    segmentId: row.segmentId,
    program: row.program as Customer['program'],
    erasedAt: row.erasedAt,
    createdAt: row.createdAt,
    contactCorrections: (row.contactCorrections ?? {}) as ContactCorrections,
    linkVersion: row.linkVersion ?? 1,
  };
}

const REFERRAL_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** newReferralCode returns a short code without look-alike characters, e.g. "R7K2-MQ4P". */
export function newReferralCode(): string {
  const bytes = randomBytes(8);
  const chars = Array.from(bytes, (b) => REFERRAL_ALPHABET[b % REFERRAL_ALPHABET.length]);
  return `${chars.slice(0, 4).join('')}-${chars.slice(4).join('')}`;
}

function contactValues(c: ContactFields) {
  const values: Record<string, unknown> = {};
  for (const key of [
    'firstName',
    'lastName',
    'email',
    'phone',
    'phoneDisplay',
    'timezone',
    'preferredChannel',
  ] as const) {
    if (c[key] !== undefined) values[key] = c[key];
  }
  if (c.address !== undefined) values.address = c.address === null ? null : JSON.stringify(c.address);
  return values;
}

/**
 * findCustomerCandidates returns the live customers a sale could belong to, oldest first, locked so concurrent sales
 * of one customer serialise: those with the sale's (source, externalId), email (case-folded), E.164 phone, or the
 * digest of an email or phone they have since corrected (contact-corrections.ts), which a till may still send. The
 * identity rules (domain/identity.ts, matchCustomer) then pick one. A phone that did not parse has no key: it never
 * finds anyone.
 */
export async function findCustomerCandidates(
  db: Database,
  m: {
    source: string;
    externalId?: string | null;
    emailKey?: string | null;
    phoneKey?: string | null;
    correctedEmail?: string | null;
    correctedPhone?: string | null;
  },
): Promise<Customer[]> {
  const ways: Expression<SqlBool>[] = [];
  if (m.externalId) ways.push(sql<SqlBool>`(source = ${m.source} and external_id = ${m.externalId})`);
  if (m.emailKey) ways.push(sql<SqlBool>`lower(email) = ${m.emailKey}`);
  if (m.phoneKey) ways.push(sql<SqlBool>`phone = ${m.phoneKey}`);
  if (m.correctedEmail)
    ways.push(sql<SqlBool>`(contact_corrections ? 'email' and contact_corrections ->> 'email' = ${m.correctedEmail})`);
  if (m.correctedPhone)
    ways.push(sql<SqlBool>`(contact_corrections ? 'phone' and contact_corrections ->> 'phone' = ${m.correctedPhone})`);
  if (ways.length === 0) return [];
  // A shared office phone can be many people's: a bounded list is enough, as the oldest eligible one wins.
  const rows = await db
    .selectFrom('customers')
    .selectAll()
    .where('erasedAt', 'is', null)
    .where(sql<SqlBool>`(${sql.join(ways, sql` or `)})`)
    .orderBy('createdAt')
    .orderBy('id')
    .limit(50)
    .forUpdate()
    .execute();
  return rows.map(toCustomer);
}

/**
 * lockCustomerKeys serialises, until the transaction ends, every sale naming the same customer email or phone: a
 * row lock cannot, when the customer does not exist yet, and two tills must not create one person twice.
 */
export async function lockCustomerKeys(
  db: Database,
  m: { emailKey?: string | null; phoneKey?: string | null },
): Promise<void> {
  await lockKeys(db, customerLockKeys(m));
}

/** customerLockKeys are the advisory-lock keys of a customer's email and phone keys (single and batched sales). */
export function customerLockKeys(m: { emailKey?: string | null; phoneKey?: string | null }): string[] {
  return [m.emailKey && `email:${m.emailKey}`, m.phoneKey && `phone:${m.phoneKey}`].filter((k): k is string =>
    Boolean(k),
  );
}

/** lockKeys takes the transaction-scoped advisory locks of `keys` (see customerLockKeys), in one statement. */
export async function lockKeys(db: Database, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  // Taken in one fixed order (the ORDER BY runs before the volatile lock calls), so two transactions sharing keys,
  // a single sale and a batch alike, cannot deadlock on them.
  await sql`select pg_advisory_xact_lock(hashtextextended(k, 0)) from unnest(${[...new Set(keys)].sort()}::text[]) as k order by k`.execute(
    db,
  );
}

/** updateCustomer sets the given fields (contact details, flags, program) and returns the customer. */
export async function updateCustomer(
  db: Database,
  id: string,
  patch: ContactFields &
    Partial<
      Pick<
        Customer,
        | 'emailStatus'
        | 'emailOptOut'
        | 'newsletterOptOut'
        | 'doNotContact'
        | 'needsCleanup'
        | 'paused'
        | 'segmentId'
        | 'program'
        | 'referredBy'
        | 'externalId'
        | 'contactCorrections'
      >
    >,
): Promise<Customer> {
  const {
    firstName,
    lastName,
    email,
    phone,
    phoneDisplay,
    timezone,
    preferredChannel,
    address,
    contactCorrections,
    ...flags
  } = patch;
  const row = await db
    .updateTable('customers')
    .set({
      ...contactValues({ firstName, lastName, email, phone, phoneDisplay, timezone, preferredChannel, address }),
      ...(contactCorrections ? { contactCorrections: JSON.stringify(contactCorrections) } : {}),
      ...flags,
      updatedAt: new Date(),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toCustomer(row);
}

/** findCustomer returns one customer or null. */
export async function findCustomer(db: Database, id: string): Promise<Customer | null> {
  const row = await db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toCustomer(row) : null;
}

/** findCustomerByReferralCode returns the customer owning a referral code, or null. */
export async function findCustomerByReferralCode(db: Database, code: string): Promise<Customer | null> {
  const row = await db
    .selectFrom('customers')
    .selectAll()
    .where('referralCode', '=', code.toUpperCase())
    .executeTakeFirst();
  return row ? toCustomer(row) : null;
}

/** findCustomersByEmail returns the customers with this email, case-insensitively. */
export async function findCustomersByEmail(db: Database, email: string): Promise<Customer[]> {
  const rows = await db
    .selectFrom('customers')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .orderBy('createdAt')
    .limit(100)
    .execute();
  return rows.map(toCustomer);
}
