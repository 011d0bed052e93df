/**
 * Newsletter editions and their fan-out: each recipient becomes a touch (channel `newsletter`, no plan run) with a
 * unique (newsletter_id, customer_id) key; the cap of 3 per customer in any rolling year is checked here under a
 * lock on the customer rows and enforced by a trigger on touches (see the migration).
 */
import { sql, type Selectable } from 'kysely';
import type { Database } from '../database';
import type { Newsletters } from '../types';
import { notePlanned } from './touch-lifecycle.repository';

/** NewsletterStatus is the life cycle of an edition. */
export type NewsletterStatus = 'draft' | 'scheduled' | 'sending' | 'sent' | 'cancelled';

/** Newsletter is one edition. */
export interface Newsletter {
  id: string;
  subject: string;
  body: string;
  segmentId: string | null;
  sendAt: Date;
  /** An edition sent at a local time: each recipient gets it on `localDate` at `localTime` in their own zone. */
  localDate: string | null;
  localTime: string | null;
  status: NewsletterStatus;
  fanoutCursor: string | null;
  recipients: number;
  capped: number;
  fannedOutAt: Date | null;
  sentAt: Date | null;
  cancelledAt: Date | null;
  createdBy: string | null;
  createdAt: Date;
}

/** NEWSLETTER_CAP is how many newsletters a customer may get in any rolling year (the trigger holds the same 3). */
export const NEWSLETTER_CAP = 3;

function toNewsletter(row: Selectable<Newsletters>): Newsletter {
  return {
    id: row.id,
    subject: row.subject,
    body: row.body,
    segmentId: row.segmentId,
    sendAt: row.sendAt,
    localDate: row.localDate ?? null,
    localTime: row.localTime ?? null,
    status: row.status as NewsletterStatus,
    fanoutCursor: row.fanoutCursor,
    recipients: row.recipients,
    capped: row.capped,
    fannedOutAt: row.fannedOutAt,
    sentAt: row.sentAt,
    cancelledAt: row.cancelledAt,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
  };
}

/** NewsletterContent is what a manager writes of an edition: its text, audience and send time. */
interface NewsletterContent {
  subject: string;
  body: string;
  segmentId: string | null;
  sendAt: Date;
  local?: { date: string; time: string } | null;
}

/** contentColumns are the columns that hold an edition's content. */
function contentColumns(n: NewsletterContent) {
  return {
    subject: n.subject,
    body: n.body,
    segmentId: n.segmentId,
    sendAt: n.sendAt,
    localDate: n.local?.date ?? null,
    localTime: n.local?.time ?? null,
  };
}

/** insertNewsletter stores a scheduled edition. */
export async function insertNewsletter(
  db: Database,
  n: NewsletterContent & {
    createdBy: string;
    at: Date;
    /** A draft is kept but never fanned out until it is scheduled; by default an edition is scheduled at once. */
    status?: 'draft' | 'scheduled';
  },
): Promise<Newsletter> {
  const row = await db
    .insertInto('newsletters')
    .values({
      ...contentColumns(n),
      status: n.status ?? 'scheduled',
      createdBy: n.createdBy,
      createdAt: n.at,
      updatedAt: n.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toNewsletter(row);
}

/** updateDraft rewrites a draft's content, audience and send time; false when it is not (or no longer) a draft. */
export async function updateDraft(db: Database, id: string, n: NewsletterContent & { at: Date }): Promise<boolean> {
  const r = await db
    .updateTable('newsletters')
    .set({ ...contentColumns(n), updatedAt: n.at })
    .where('id', '=', id)
    .where('status', '=', 'draft')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** findNewsletter returns one edition, or null. */
export async function findNewsletter(db: Database, id: string): Promise<Newsletter | null> {
  const row = await db.selectFrom('newsletters').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toNewsletter(row) : null;
}

/** lockNewsletter returns an edition locked for the rest of the transaction, so fan-out batches and a cancel serialise. */
export async function lockNewsletter(db: Database, id: string): Promise<Newsletter | null> {
  const row = await db.selectFrom('newsletters').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  return row ? toNewsletter(row) : null;
}

/** listNewsletters returns editions, latest send time first. */
export async function listNewsletters(
  db: Database,
  f: { status?: NewsletterStatus; limit: number },
): Promise<Newsletter[]> {
  let q = db.selectFrom('newsletters').selectAll().orderBy('sendAt', 'desc').orderBy('id').limit(f.limit);
  if (f.status) q = q.where('status', '=', f.status);
  return (await q.execute()).map(toNewsletter);
}

/** countTouchesByStatus returns, per edition, how many of its touches are in each status. */
export async function countTouchesByStatus(db: Database, ids: string[]): Promise<Map<string, Record<string, number>>> {
  const result = new Map<string, Record<string, number>>(ids.map((id) => [id, {}]));
  if (ids.length === 0) return result;
  const rows = await db
    .selectFrom('touches')
    .select(['newsletterId', 'status', sql<number>`count(*)::int`.as('n')])
    .where('newsletterId', 'in', ids)
    .groupBy(['newsletterId', 'status'])
    .execute();
  for (const r of rows) result.get(r.newsletterId!)![r.status] = r.n;
  return result;
}

/** listDueNewsletterIds returns the editions whose send time has come and whose fan-out or delivery is not over. */
export async function listDueNewsletterIds(db: Database, now: Date): Promise<string[]> {
  const rows = await db
    .selectFrom('newsletters')
    .select('id')
    .where('status', 'in', ['scheduled', 'sending'])
    .where('sendAt', '<=', now)
    .orderBy('sendAt')
    .limit(100)
    .execute();
  return rows.map((r) => r.id);
}

/** updateNewsletter sets fields of an edition. */
export async function updateNewsletter(
  db: Database,
  id: string,
  patch: Partial<Pick<Newsletter, 'status' | 'sendAt' | 'fanoutCursor' | 'fannedOutAt' | 'sentAt' | 'cancelledAt'>> & {
    addRecipients?: number;
    addCapped?: number;
  },
  at: Date,
): Promise<void> {
  const { addRecipients = 0, addCapped = 0, ...fields } = patch;
  await db
    .updateTable('newsletters')
    .set((eb) => ({
      ...fields,
      recipients: eb('recipients', '+', addRecipients),
      capped: eb('capped', '+', addCapped),
      updatedAt: at,
    }))
    .where('id', '=', id)
    .execute();
}

/**
 * recipientsOf selects the customers who may receive an edition: in the later-years program (of its segment, when it
 * has one), not opted out of newsletters, email or all contact, not paused or erased, with an email address that has
 * not bounced. The one rule for the fan-out and for the count shown before an edition is scheduled.
 */
function recipientsOf(db: Database, segmentId: string | null) {
  let q = db
    .selectFrom('customers')
    .where('program', '=', 'later_years')
    .where('newsletterOptOut', '=', false)
    .where('emailOptOut', '=', false)
    .where('doNotContact', '=', false)
    .where('paused', '=', false)
    .where('erasedAt', 'is', null)
    .where('email', 'is not', null)
    .where('email', '<>', '')
    .where('emailStatus', '=', 'ok');
  if (segmentId) q = q.where('segmentId', '=', segmentId);
  return q;
}

/**
 * newslettersAround counts the newsletters that count towards a customer's cap (scheduled, queued or sent) within a
 * year either side of `sendAt`; `customerId` is the SQL column holding the customer's id.
 */
function newslettersAround(customerId: string, sendAt: Date) {
  return sql<number>`(
      select count(*) from touches t
      where t.customer_id = ${sql.ref(customerId)} and t.channel = 'newsletter' and t.status in ('scheduled', 'queued', 'sent')
        and t.due_at > ${sendAt}::timestamptz - interval '1 year'
        and t.due_at < ${sendAt}::timestamptz + interval '1 year'
    )`;
}

/**
 * lockRecipientPage locks the next `limit` customers after `after` (by id) who may receive the edition (recipientsOf).
 * Locking in id order means two fan-outs never deadlock.
 */
export async function lockRecipientPage(
  db: Database,
  n: Pick<Newsletter, 'segmentId'>,
  after: string | null,
  limit: number,
): Promise<string[]> {
  let q = recipientsOf(db, n.segmentId).select('id').orderBy('id').limit(limit).forUpdate();
  if (after) q = q.where('id', '>', after);
  return (await q.execute()).map((r) => r.id);
}

/**
 * countRecipients counts, as of now, who an edition sent at `sendAt` would reach: the customers who may receive it
 * (recipientsOf), and of them those held back because they already have NEWSLETTER_CAP newsletters within a year
 * either side (the fan-out's test). `recipients` is those it would go to.
 */
export async function countRecipients(
  db: Database,
  n: Pick<Newsletter, 'segmentId' | 'sendAt'>,
): Promise<{ eligible: number; capped: number; recipients: number }> {
  const row = await recipientsOf(db, n.segmentId)
    .select([
      sql<number>`count(*)::int`.as('eligible'),
      sql<number>`(count(*) filter (where ${newslettersAround('customers.id', n.sendAt)} >= ${NEWSLETTER_CAP}))::int`.as(
        'capped',
      ),
    ])
    .executeTakeFirstOrThrow();
  return { eligible: row.eligible, capped: row.capped, recipients: row.eligible - row.capped };
}

/** listRecipientSample returns up to `limit` customers an edition may go to, by name: whom a preview can be shown as. */
export async function listRecipientSample(
  db: Database,
  segmentId: string | null,
  limit: number,
): Promise<{ id: string; firstName: string | null; lastName: string | null; email: string | null }[]> {
  return recipientsOf(db, segmentId)
    .select(['id', 'firstName', 'lastName', 'email'])
    .orderBy('lastName')
    .orderBy('firstName')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/**
 * insertNewsletterTouches adds the edition's touch, due at its send time, for each of `customerIds` (already locked
 * by this transaction) that has fewer than NEWSLETTER_CAP counting newsletters within a year either side; an
 * existing touch of this edition is left alone. Returns the ids of the touches added.
 */
export async function insertNewsletterTouches(
  db: Database,
  n: Pick<Newsletter, 'id' | 'sendAt'> & Partial<Pick<Newsletter, 'localDate' | 'localTime'>>,
  customerIds: string[],
  at: Date,
  defaultZone = 'UTC',
): Promise<string[]> {
  if (customerIds.length === 0) return [];
  // At a local time, each customer's touch falls due at that wall-clock time in their zone (else the business's);
  // Postgres turns a local time that a DST change skips into the instant just after it.
  const dueAt =
    n.localDate && n.localTime
      ? sql`((${`${n.localDate} ${n.localTime}`}::timestamp) at time zone coalesce((select z.timezone from customers z where z.id = c.id), ${defaultZone}))`
      : sql`${n.sendAt}::timestamptz`;
  // A statement of its own, after the lock: READ COMMITTED gives it a snapshot that sees what a transaction we
  // waited for has committed.
  const { rows } = await sql<{ id: string }>`
    insert into touches (customer_id, newsletter_id, step, channel, due_at, status, created_at, updated_at)
    select c.id, ${n.id}::uuid, 0, 'newsletter', ${dueAt}, 'scheduled', ${at}::timestamptz, ${at}::timestamptz
    from unnest(${customerIds}::uuid[]) as c(id)
    where ${newslettersAround('c.id', n.sendAt)} < ${NEWSLETTER_CAP}
    on conflict (newsletter_id, customer_id) where newsletter_id is not null do nothing
    returning id`.execute(db);
  await notePlanned(
    db,
    rows.map((r) => ({ id: r.id, status: 'scheduled', reason: null })),
    at,
    'newsletter',
  );
  return rows.map((r) => r.id);
}

/** countOpenTouches counts an edition's touches not yet delivered (scheduled or queued). */
export async function countOpenTouches(db: Database, id: string): Promise<number> {
  const { n } = await db
    .selectFrom('touches')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('newsletterId', '=', id)
    .where('status', 'in', ['scheduled', 'queued'])
    .executeTakeFirstOrThrow();
  return n;
}

/** findLatestSaleId returns the id of a customer's most recent sale, or null (templates may name the purchase). */
export async function findLatestSaleId(db: Database, customerId: string): Promise<string | null> {
  const row = await db
    .selectFrom('sales')
    .select('id')
    .where('customerId', '=', customerId)
    .orderBy('soldAt', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.id ?? null;
}
