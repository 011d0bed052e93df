/**
 * The newsletter fan-out against real Postgres: who is a recipient, two fan-outs of one edition at once (no double),
 * two editions fanned out at once to customers with two newsletters already (the cap of 3 holds), the trigger that
 * enforces the cap whatever inserts the rows (including two racing transactions), and cancelling mid fan-out.
 */
import { sql } from 'kysely';
import { fixedClock } from '../../../src/clock';
import { insertSegment, listSegments } from '../../../src/db/repositories/segment.repository';
import {
  cancelNewsletter,
  fanOutNewsletter,
  getNewsletter,
  publishNewsletter,
} from '../../../src/services/newsletter.service';
import type { ServiceContext } from '../../../src/services/context';
import { testContext } from '../../helpers/app';
import { createTestDatabase, type TestDatabase } from '../../helpers/database';
import { waitFor } from '../../helpers/wait';

let database: TestDatabase;
let ctx: ServiceContext;
const clock = fixedClock(new Date('2030-01-10T00:00:00Z'));
const SMALL = { batchSize: 25, maxBatches: 1000 };

beforeAll(async () => {
  database = await createTestDatabase('nlcap');
  ctx = testContext(database, clock);
});

afterAll(async () => {
  await database?.drop();
});

async function newSegment(name: string): Promise<string> {
  const base = (await listSegments(database.db)).find((s) => s.isDefault)!;
  return (await insertSegment(database.db, { ...base, name, priority: 10 })).id;
}

/** addCustomers bulk-inserts `n` later-years customers of a segment, with `patch` columns, and returns their ids. */
async function addCustomers(
  segmentId: string,
  tag: string,
  n: number,
  patch: Record<string, unknown> = {},
): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`
    insert into customers (source, external_id, first_name, email, referral_code, segment_id, program)
    select 'test', ${tag} || '-' || g, 'C' || g, ${tag} || g || '@example.com', ${tag.toUpperCase()} || '-' || g, ${segmentId}::uuid, 'later_years'
    from generate_series(1, ${n}::int) g
    returning id`.execute(database.db);
  const ids = rows.map((r) => r.id);
  if (Object.keys(patch).length) await database.db.updateTable('customers').set(patch).where('id', 'in', ids).execute();
  return ids;
}

async function publish(segmentId: string | null, sendAt = clock.now()): Promise<string> {
  return (
    await publishNewsletter(
      ctx,
      { subject: 'News', body: 'Hello {{ customer.firstName }}', segmentId, sendAt: sendAt.toISOString() },
      'test',
    )
  ).id;
}

async function recipientsOf(newsletterId: string): Promise<string[]> {
  const rows = await database.db
    .selectFrom('touches')
    .select('customerId')
    .where('newsletterId', '=', newsletterId)
    .execute();
  return rows.map((r) => r.customerId);
}

async function countingNewsletters(customerId: string): Promise<number> {
  const { n } = await database.db
    .selectFrom('touches')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('customerId', '=', customerId)
    .where('channel', '=', 'newsletter')
    .where('status', 'in', ['scheduled', 'queued', 'sent'])
    .executeTakeFirstOrThrow();
  return n;
}

/** insertNewsletterTouch adds a newsletter touch with plain SQL, as any other code path might. */
async function insertNewsletterTouch(
  db: typeof database.db,
  newsletterId: string,
  customerId: string,
  dueAt: Date,
  status = 'sent',
) {
  await sql`insert into touches (customer_id, newsletter_id, step, channel, due_at, status)
            values (${customerId}::uuid, ${newsletterId}::uuid, 0, 'newsletter', ${dueAt}, ${status})`.execute(db);
}

describe('fan-out', () => {
  it('reaches exactly the later-years customers of the segment who may get it, once each, from two workers at once', async () => {
    const segment = await newSegment('fanout');
    const eligible = await addCustomers(segment, 'ok', 300);
    const ineligible = [
      ...(await addCustomers(segment, 'nlout', 3, { newsletterOptOut: true })),
      ...(await addCustomers(segment, 'mailout', 3, { emailOptOut: true })),
      ...(await addCustomers(segment, 'dnc', 3, { doNotContact: true })),
      ...(await addCustomers(segment, 'bounced', 3, { emailStatus: 'bounced' })),
      ...(await addCustomers(segment, 'noemail', 3, { email: null })),
      ...(await addCustomers(segment, 'paused', 3, { paused: true })),
      ...(await addCustomers(segment, 'firstyr', 3, { program: 'first_year' })),
      ...(await addCustomers(segment, 'gone', 3, { erasedAt: clock.now() })),
      ...(await addCustomers(await newSegment('other'), 'other', 3)),
    ];
    const id = await publish(segment);

    const [a, b] = await Promise.all([fanOutNewsletter(ctx, id, SMALL), fanOutNewsletter(ctx, id, SMALL)]);

    const recipients = await recipientsOf(id);
    expect(recipients).toHaveLength(300);
    expect(new Set(recipients)).toEqual(new Set(eligible));
    expect(recipients.some((r) => ineligible.includes(r))).toBe(false);
    expect(a.added + b.added).toBe(300);
    expect(a.complete || b.complete).toBe(true);
    const n = await getNewsletter(ctx, id);
    expect(n).toMatchObject({ status: 'sending', counts: { recipients: 300, capped: 0, scheduled: 300 } });
    expect(n.fannedOutAt).not.toBeNull();

    // Running it again adds nothing: the stored cursor is at the end, and touches are unique per customer.
    expect((await fanOutNewsletter(ctx, id, SMALL)).added).toBe(0);
    expect(await recipientsOf(id)).toHaveLength(300);
  });

  it('holds the cap when two editions fan out at once to customers who already have two newsletters this year', async () => {
    const segment = await newSegment('capped');
    const customers = await addCustomers(segment, 'cap', 200);
    for (const monthsAgo of [3, 8]) {
      const old = await publish(segment, clock.now());
      const dueAt = new Date(clock.now().getTime() - monthsAgo * 30 * 86_400_000);
      await sql`insert into touches (customer_id, newsletter_id, step, channel, due_at, status)
                select c, ${old}::uuid, 0, 'newsletter', ${dueAt}, 'sent' from unnest(${customers}::uuid[]) c`.execute(
        database.db,
      );
      await database.db.updateTable('newsletters').set({ status: 'sent' }).where('id', '=', old).execute();
    }
    const x = await publish(segment);
    const y = await publish(segment);

    const [rx, ry] = await Promise.all([
      fanOutNewsletter(ctx, x, { batchSize: 17, maxBatches: 1000 }),
      fanOutNewsletter(ctx, y, { batchSize: 23, maxBatches: 1000 }),
    ]);

    expect(rx.added + ry.added).toBe(200);
    expect(rx.capped + ry.capped).toBe(200);
    for (const c of customers) expect(await countingNewsletters(c)).toBe(3);
    const [nx, ny] = [await getNewsletter(ctx, x), await getNewsletter(ctx, y)];
    expect(nx.counts.recipients + ny.counts.recipients).toBe(200);
    expect(nx.counts.capped + ny.counts.capped).toBe(200);
  });

  it('stops at a cancel between batches and cancels the touches already made', async () => {
    const segment = await newSegment('cancelled');
    await addCustomers(segment, 'cx', 120);
    const id = await publish(segment);
    const first = await fanOutNewsletter(ctx, id, { batchSize: 25, maxBatches: 1 });
    expect(first.added).toBe(25);
    const n = await cancelNewsletter(ctx, id, 'test');
    expect(n).toMatchObject({ status: 'cancelled', counts: { recipients: 25, cancelled: 25, scheduled: 0 } });
    expect((await fanOutNewsletter(ctx, id, SMALL)).added).toBe(0);
    expect(await recipientsOf(id)).toHaveLength(25);
  });
});

describe('the cap trigger', () => {
  let segment: string;
  let editions: string[];

  beforeAll(async () => {
    segment = await newSegment('trigger');
    editions = [];
    for (let i = 0; i < 6; i++) editions.push(await publish(segment));
  });

  it('refuses a fourth newsletter within a year, however it is inserted, and lets cancelled ones not count', async () => {
    const [c] = await addCustomers(segment, 'trg', 1);
    const now = clock.now().getTime();
    const month = 30 * 86_400_000;
    await insertNewsletterTouch(database.db, editions[0]!, c!, new Date(now - 11 * month));
    await insertNewsletterTouch(database.db, editions[1]!, c!, new Date(now - 6 * month));
    await insertNewsletterTouch(database.db, editions[2]!, c!, new Date(now - 1 * month), 'cancelled');
    await insertNewsletterTouch(database.db, editions[3]!, c!, new Date(now));
    // Three counting within a year of now: a fourth is refused by Postgres itself.
    await expect(
      insertNewsletterTouch(database.db, editions[4]!, c!, new Date(now + month), 'scheduled'),
    ).rejects.toMatchObject({
      code: '23514',
      constraint: 'touches_newsletter_cap',
    });
    // Nor can a cancelled one be brought back.
    await expect(
      database.db
        .updateTable('touches')
        .set({ status: 'scheduled' })
        .where('newsletterId', '=', editions[2]!)
        .where('customerId', '=', c!)
        .execute(),
    ).rejects.toMatchObject({ code: '23514' });
    // More than a year after the oldest two it is allowed again (only the one of `now` is within the year).
    await insertNewsletterTouch(database.db, editions[4]!, c!, new Date(now + 7 * month), 'scheduled');
    expect(await countingNewsletters(c!)).toBe(4);
  });

  it('serialises two transactions racing to add the third and fourth newsletter of one customer: one fails', async () => {
    const [c] = await addCustomers(segment, 'race', 1);
    const now = clock.now();
    await insertNewsletterTouch(database.db, editions[0]!, c!, new Date(now.getTime() - 86_400_000));
    await insertNewsletterTouch(database.db, editions[1]!, c!, new Date(now.getTime() - 2 * 86_400_000));

    let release!: () => void;
    let inserted!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const firstInserted = new Promise<void>((resolve) => (inserted = resolve));
    const first = database.db.transaction().execute(async (trx) => {
      await insertNewsletterTouch(trx, editions[2]!, c!, now, 'scheduled');
      inserted();
      await gate; // holds the customer's row lock, taken by the trigger, until released
    });
    let second: Promise<void> | undefined;
    try {
      await firstInserted;
      second = database.db
        .transaction()
        .execute((trx) => insertNewsletterTouch(trx, editions[3]!, c!, now, 'scheduled'));
      second.catch(() => undefined); // asserted below
      // The second waits on the lock the first holds: only then does the first commit.
      await waitFor(
        async () => {
          const { rows } = await sql<{
            n: number;
          }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(
            database.db,
          );
          return rows[0]!.n > 0;
        },
        'the second transaction waiting on the customer lock',
        10_000,
      );
    } finally {
      release();
    }
    await first;
    await expect(second).rejects.toMatchObject({ code: '23514' });
    expect(await countingNewsletters(c!)).toBe(3);
  });
});
