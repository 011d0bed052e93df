/**
 * GET /v1/reports/summary over a small dataset whose every figure is known: five customers, two salespeople, a
 * repeat purchase, a referral, an unsubscribe, and contacts made on time, late, missed, skipped and cancelled.
 */
import { createTestApp, type TestApp } from '../../helpers/app';
import { form, sell, snapshot, touchesOf } from './helpers';

let t: TestApp;
const ids: Record<string, string> = {};
const staff: Record<string, string> = {};

const kim = { salesperson: { email: 'kim@shop.example', name: 'Kim Ko' } };
// The till's own customer number: a repeat sale names the same customer (issue 12: (source, externalId) decides).
const emailOnly = (name: string) => ({
  externalId: `REPORTS-${name}`,
  firstName: name,
  email: `${name.toLowerCase()}@example.com`,
  phone: undefined,
  address: undefined,
  preferredChannel: undefined,
});

/** at posts a sale with the clock an hour after it was made. */
async function at(soldAt: string, customer: Record<string, unknown>, patch: Record<string, unknown> = {}) {
  t.clock.set(new Date(new Date(soldAt).getTime() + 3600_000));
  return sell(t, customer, { soldAt, ...patch });
}

async function setTouch(customerId: string, step: number, status: string, completedAt: string | null) {
  const touch = (await touchesOf(t, customerId)).find((x) => x.step === step)!;
  await t.database.db
    .updateTable('touches')
    .set({ status, completedAt: completedAt ? new Date(completedAt) : null })
    .where('id', '=', touch.id)
    .execute();
  return touch;
}

async function callTask(customerId: string, touchId: string, outcome: string, completedAt: string) {
  await t.database.db
    .insertInto('tasks')
    .values({
      customerId,
      touchId,
      kind: 'call',
      dueAt: new Date(completedAt),
      status: 'done',
      outcome,
      completedAt: new Date(completedAt),
    })
    .execute();
}

beforeAll(async () => {
  t = await createTestApp('reports', new Date('2026-11-02T11:00:00Z'));
  // Sam's customers. C1 buys on Monday 2 November: email due Wed 4th 10:00, call Mon 9th 09:00.
  const c1 = await at('2026-11-02T10:00:00Z', emailOnly('Cleo'));
  const c2 = await at('2026-11-02T10:00:00Z', emailOnly('Cato'));
  // Kim's customers: C3 can only be phoned (its email step is skipped when due), C5 first bought in June.
  const c3 = await at('2026-11-03T10:00:00Z', { ...emailOnly('Cyd'), email: undefined, phone: '+1 555 0403' }, kim);
  const c5 = await at('2026-06-01T10:00:00Z', emailOnly('Cosi'), kim);
  await at('2026-11-05T10:00:00Z', emailOnly('Cosi'), kim);
  // C4 was referred by C1.
  const code = (await snapshot(t, c1.customerId)).customer.referralCode;
  const c4 = await at('2026-11-10T10:00:00Z', emailOnly('Cole'), { ...kim, referralCode: code });
  // C2 buys again.
  await at('2026-11-20T10:00:00Z', emailOnly('Cato'));
  Object.assign(ids, { c1: c1.customerId, c2: c2.customerId, c3: c3.customerId, c4: c4.customerId, c5: c5.customerId });

  // How the contacts went: C1 on time (email and call), C2 email two days late and call missed.
  await setTouch(ids.c1, 1, 'sent', '2026-11-04T11:00:00Z');
  const c1call = await setTouch(ids.c1, 2, 'done', '2026-11-09T15:00:00Z');
  await callTask(ids.c1, c1call.id, 'reached', '2026-11-09T15:00:00Z');
  await setTouch(ids.c2, 1, 'sent', '2026-11-06T10:00:00Z');
  const c2call = await setTouch(ids.c2, 2, 'missed', null);
  await callTask(ids.c2, c2call.id, 'no_answer', '2026-11-09T16:00:00Z');
  // C3's email fell due with neither an email nor a postal address known: delivery skipped it.
  await setTouch(ids.c3, 1, 'skipped', '2026-11-05T10:00:00Z');
  // C4 unsubscribes on the 11th, before its first email.
  t.clock.set(new Date('2026-11-11T12:00:00Z'));
  const c4token = c4.unsubscribe;
  expect((await form(t, `/u/${c4token}`, 'List-Unsubscribe=One-Click')).statusCode).toBe(200);

  for (const row of await t.database.db.selectFrom('staff').select(['id', 'email']).execute())
    staff[row.email] = row.id;
  t.clock.set(new Date('2026-11-25T12:00:00Z'));
});
afterAll(async () => {
  await t?.close();
});

async function summary(query: string, key = t.adminKey) {
  return t.app.inject({ method: 'GET', url: `/v1/reports/summary?${query}`, headers: t.auth(key) });
}

it('counts contacts, calls, opt-outs, repeat purchases and referrals for the period', async () => {
  const res = await summary('from=2026-11-01&to=2026-12-01');
  expect(res.statusCode).toBe(200);
  expect(res.json()).toEqual({
    period: { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' },
    filters: { segment: null, salesperson: null },
    onTimeWithinHours: 24,
    contacts: {
      total: { planned: 8, onTime: 2, late: 1, missed: 1, skipped: 1, cancelled: 1, failed: 0, pending: 2 },
      byChannel: {
        call: { planned: 4, onTime: 1, late: 0, missed: 1, skipped: 0, cancelled: 0, failed: 0, pending: 2 },
        email: { planned: 4, onTime: 1, late: 1, missed: 0, skipped: 1, cancelled: 1, failed: 0, pending: 0 },
      },
    },
    calls: { completed: 2, outcomes: { reached: 1, voicemail: 0, no_answer: 1, wrong_number: 0, complaint: 0 } },
    optOuts: { email: 1, newsletter: 0, all: 0, erasures: 0 },
    repeatPurchase: { customers: 5, repeatCustomers: 1, rate: 0.2 },
    referralsByCohort: [{ cohort: '2026-11', customers: 4, referrers: 1, referrals: 1, referralsPerCustomer: 0.25 }],
  });
});

it('filters by salesperson and by segment', async () => {
  const sam = (await summary(`from=2026-11-01&to=2026-12-01&salesperson=${staff['sam@shop.example']}`)).json();
  expect(sam.contacts.total).toEqual({
    planned: 4,
    onTime: 2,
    late: 1,
    missed: 1,
    skipped: 0,
    cancelled: 0,
    failed: 0,
    pending: 0,
  });
  expect(sam.calls.completed).toBe(2);
  expect(sam.optOuts.email).toBe(0);
  expect(sam.repeatPurchase).toEqual({ customers: 2, repeatCustomers: 1, rate: 0.5 });
  expect(sam.referralsByCohort).toEqual([
    { cohort: '2026-11', customers: 2, referrers: 1, referrals: 1, referralsPerCustomer: 0.5 },
  ]);

  const kimReport = (await summary(`from=2026-11-01&to=2026-12-01&salesperson=${staff['kim@shop.example']}`)).json();
  expect(kimReport.contacts.total).toEqual({
    planned: 4,
    onTime: 0,
    late: 0,
    missed: 0,
    skipped: 1,
    cancelled: 1,
    failed: 0,
    pending: 2,
  });
  expect(kimReport.optOuts.email).toBe(1);
  expect(kimReport.repeatPurchase).toEqual({ customers: 3, repeatCustomers: 0, rate: 0 });

  const segment = (
    await t.database.db.selectFrom('segments').select('id').where('isDefault', '=', true).executeTakeFirstOrThrow()
  ).id;
  const all = (await summary(`from=2026-11-01&to=2026-12-01&segment=${segment}`)).json();
  expect(all.contacts.total.planned).toBe(8);
  const none = (await summary('from=2026-11-01&to=2026-12-01&segment=00000000-0000-4000-8000-000000000000')).json();
  expect(none.contacts.total.planned).toBe(0);
  expect(none.repeatPurchase).toEqual({ customers: 0, repeatCustomers: 0, rate: null });
  expect(none.referralsByCohort).toEqual([]);
});

it('defaults to the last 30 days, and refuses bad periods and non-admin keys', async () => {
  const res = await summary('');
  expect(res.statusCode).toBe(200);
  expect(res.json().period).toEqual({ from: '2026-10-26T12:00:00.000Z', to: '2026-11-25T12:00:00.000Z' });

  const bad = await summary('from=yesterday');
  expect(bad.statusCode).toBe(400);
  expect(bad.json().error.details.field).toBe('from');
  const reversed = await summary('from=2026-12-01&to=2026-11-01');
  expect(reversed.statusCode).toBe(400);
  expect(reversed.json().error.message).toBe('from: must be before to');
  const notUuid = await summary('segment=default');
  expect(notUuid.statusCode).toBe(400);
  expect((await summary('', t.posKey)).statusCode).toBe(403);
});
