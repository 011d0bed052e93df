/**
 * Erasure through the customer's page: after a real email, a call with notes, a staff note, a referral and a
 * stored answer quoting them, the customer confirms erasure; no text or JSON column of any table holds their
 * personal data any more, every future contact is cancelled, and the anonymous counts are unchanged.
 */
import { sql } from 'kysely';
import { audit, claimIdempotencyKey, completeIdempotencyKey } from '../../../src/db/repositories/access.repository';
import { type TestApp } from '../../helpers/app';
import { type TestSmtpServer } from '../../helpers/smtp';
import { type TestWorker } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';
import { dataLink, form, sell, snapshot, touchesOf } from './helpers';
import { closeTestStack, startTestStack } from '../../helpers/stack';

const NOW = new Date('2026-11-02T10:00:00Z');
const HOUR = 3600_000;
const DAY = 24 * HOUR;

let t: TestApp;
let smtp: TestSmtpServer;
let worker: TestWorker;

beforeAll(async () => {
  ({ t, smtp, worker } = await startTestStack('erasure', NOW));
});
afterAll(async () => {
  await closeTestStack({ t, smtp, worker });
});

/** findEverywhere looks for each needle in every text, varchar, char, json, jsonb and text[] column of every table. */
async function findEverywhere(needles: string[]): Promise<string[]> {
  const db = t.database.db;
  const columns = await sql<{ table: string; column: string }>`
    select c.table_name as table, c.column_name as column
    from information_schema.columns c
    join information_schema.tables tb on tb.table_schema = c.table_schema and tb.table_name = c.table_name and tb.table_type = 'BASE TABLE'
    where c.table_schema = 'public'
      and (c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb') or (c.data_type = 'ARRAY' and c.udt_name in ('_text', '_varchar')))
    order by 1, 2`.execute(db);
  expect(columns.rows.length).toBeGreaterThan(40); // the scan really covers the schema
  const hits: string[] = [];
  for (const { table, column } of columns.rows) {
    for (const needle of needles) {
      const pattern = `%${needle.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
      const found = await sql<{
        n: number;
      }>`select count(*)::int as n from ${sql.table(table)} where ${sql.ref(column)}::text ilike ${pattern}`.execute(
        db,
      );
      if (found.rows[0].n > 0) hits.push(`${table}.${column} holds "${needle}" (${found.rows[0].n} rows)`);
    }
  }
  return hits;
}

async function tableCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ['customers', 'sales', 'sale_items', 'plan_runs', 'touches', 'tasks', 'notes']) {
    counts[table] = (
      await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(t.database.db)
    ).rows[0].n;
  }
  return counts;
}

it('leaves no trace of the personal data in any table, cancels everything to come and keeps the counts', async () => {
  const person = {
    externalId: 'ZQ-CUST-1',
    firstName: 'Zephyrine',
    lastName: 'Quillfeather',
    email: 'zq.erase@example.org',
    phone: '+61 3 9999 4321',
    address: { lines: ['17 Quokka Lane'], city: 'Wagga Wagga', region: 'NSW', postalCode: '2650', country: 'AU' },
  };
  // Sold 7 days and an hour ago: the thank-you email and the 7-day call are due now.
  const z = await sell(t, person, { soldAt: new Date(NOW.getTime() - 7 * DAY - HOUR).toISOString() });
  const bystander = await sell(t, { firstName: 'Bob', email: 'bob@example.com', phone: '+1 555 0199' });
  const code = (await snapshot(t, z.customerId)).customer.referralCode;

  // A real email and a real call task, then an outcome with notes that quote the customer.
  await worker.runMaintenance('dispatch');
  await waitFor(
    () => smtp.messages.some((m) => m.envelope.to.includes(person.email)) || null,
    'the email to the customer',
  );
  const call = z.touches.find((x) => x.step === 2)!;
  await waitFor(
    async () => (await touchesOf(t, z.customerId)).find((x) => x.id === call.id)?.status === 'sent' || null,
    'the call task opened',
  );
  await waitFor(
    async () => (await touchesOf(t, z.customerId)).find((x) => x.step === 1)?.status === 'sent' || null,
    'the email recorded',
  );
  const [task] = (await snapshot(t, z.customerId)).tasks;
  const outcome = await t.app.inject({
    method: 'POST',
    url: `/v1/tasks/${task.id}/outcome`,
    headers: t.auth(t.adminKey),
    payload: { outcome: 'voicemail', notes: `Left a message for Zephyrine Quillfeather on ${person.phone}` },
  });
  expect(outcome.statusCode).toBe(200);
  const note = await t.app.inject({
    method: 'POST',
    url: `/v1/customers/${z.customerId}/notes`,
    headers: { ...t.auth(t.adminKey), 'idempotency-key': 'note-zq-1' },
    payload: { body: 'Zephyrine asked about 17 Quokka Lane delivery' },
  });
  expect(note.statusCode).toBe(201);
  // A friend referred by the customer, and quotes of the customer elsewhere: an audit detail and a stored answer.
  const friend = await sell(
    t,
    { firstName: 'Fran', email: 'fran@example.com', phone: '+1 555 0198' },
    { referralCode: code.toLowerCase() },
  );
  const key = await t.database.db.selectFrom('apiKeys').select('id').limit(1).executeTakeFirstOrThrow();
  await audit(t.database.db, {
    actor: 'staff',
    action: 'customer.phoned',
    entity: 'customer',
    entityId: z.customerId,
    detail: { said: `Zephyrine (${person.email}) will call back` },
    at: NOW,
  });
  const idem = { apiKeyId: key.id, route: 'POST /v1/example', key: 'quoted' };
  await claimIdempotencyKey(t.database.db, idem, 'x');
  await completeIdempotencyKey(t.database.db, idem, 201, {
    customer: { email: person.email, name: 'Zephyrine Quillfeather' },
  });

  const needles = [
    'Zephyrine',
    'Quillfeather',
    person.email,
    person.phone,
    '61399994321',
    '17 Quokka Lane',
    person.externalId,
    code,
  ];
  const spread = await findEverywhere(needles);
  expect(spread.length).toBeGreaterThan(5); // the data really was spread around
  const countsBefore = await tableCounts();
  const report = () =>
    t.app
      .inject({ method: 'GET', url: '/v1/reports/summary?from=2026-10-01&to=2026-12-01', headers: t.auth(t.adminKey) })
      .then((r) => r.json());
  const reportBefore = await report();
  const bystanderBefore = await snapshot(t, bystander.customerId);

  // The page emails a single-use link; its GET (what a mail scanner fetches) only shows the button, changing nothing.
  const link = await dataLink(t, smtp, z, 'erase');
  const before = await snapshot(t, z.customerId);
  const confirm = await t.app.inject({ method: 'GET', url: `/d/${link}` });
  expect(confirm.statusCode).toBe(200);
  expect(confirm.body).toContain('Yes, erase my data');
  expect(await snapshot(t, z.customerId)).toEqual({ ...before, audit: expect.any(String) });

  const erased = await form(t, `/d/${link}`, { confirm: 'yes' });
  expect(erased.statusCode).toBe(200);
  expect(erased.body).toContain('Your data is erased');

  expect(await findEverywhere(needles)).toEqual([]);
  expect(await tableCounts()).toEqual(countsBefore);

  // Nothing more will happen to this customer: no planned touch, no open task.
  const touches = await touchesOf(t, z.customerId);
  expect(touches.filter((x) => x.status === 'scheduled' || x.status === 'queued')).toEqual([]);
  expect(touches.filter((x) => x.statusReason === 'erased').length).toBeGreaterThan(0);
  expect((await snapshot(t, z.customerId)).tasks.filter((x) => x.status === 'open')).toEqual([]);

  // The anonymous record stays: the referral credit, the sales, the counts of contacts.
  const profile = (
    await t.app.inject({ method: 'GET', url: `/v1/customers/${z.customerId}`, headers: t.auth(t.adminKey) })
  ).json();
  expect(profile.customer).toMatchObject({
    firstName: null,
    lastName: null,
    email: null,
    phone: null,
    address: null,
    externalId: null,
  });
  expect(profile.customer.erasedAt).not.toBeNull();
  expect(profile.referrals).toEqual([{ customerId: friend.customerId, saleId: friend.saleId, at: expect.any(String) }]);
  const reportAfter = await report();
  expect(reportAfter.contacts.total.planned).toBe(reportBefore.contacts.total.planned);
  expect(reportAfter.repeatPurchase).toEqual(reportBefore.repeatPurchase);
  expect(reportAfter.referralsByCohort).toEqual(reportBefore.referralsByCohort);
  expect(reportAfter.optOuts.erasures).toBe(reportBefore.optOuts.erasures + 1);

  // Other customers are untouched; the page and the links still answer, with nothing left to show.
  expect(await snapshot(t, bystander.customerId)).toEqual({ ...bystanderBefore, audit: expect.any(String) });
  // An erased customer's links, every one of them, answer 404: nothing is left to show, nobody to speak for.
  expect((await t.app.inject({ method: 'GET', url: `/p/${z.token}` })).statusCode).toBe(404);
  expect((await form(t, `/u/${z.unsubscribe}`, 'List-Unsubscribe=One-Click')).statusCode).toBe(404);
  expect((await form(t, `/d/${link}`, { confirm: 'yes' })).statusCode).toBe(404);
  expect((await form(t, `/p/${z.token}/request`, { what: 'export' })).statusCode).toBe(404);
  expect(await findEverywhere(needles)).toEqual([]);
});
