/**
 * The results dashboard reads monthly rollups: after a refresh they agree with the live report over the same month,
 * they stay as they were until the next refresh, and the refresh brings a changed contact in. The workload counts
 * planned calls per person per week.
 */
import { createTestApp, type TestApp } from '../../helpers/app';
import { refreshRollups } from '../../../src/services/dashboard.service';
import { form, sell, touchesOf } from '../customer-control/helpers';

let t: TestApp;
const ids: Record<string, string> = {};
// The till's own customer number: a repeat sale names the same customer (issue 12: (source, externalId) decides).
const emailOnly = (name: string) => ({
  externalId: `DASHBOARD-${name}`,
  firstName: name,
  email: `${name.toLowerCase()}@example.com`,
  phone: undefined,
  address: undefined,
  preferredChannel: undefined,
});

async function setTouch(customerId: string, step: number, status: string, completedAt: string | null) {
  const touch = (await touchesOf(t, customerId)).find((x) => x.step === step)!;
  await t.database.db
    .updateTable('touches')
    .set({ status, completedAt: completedAt ? new Date(completedAt) : null })
    .where('id', '=', touch.id)
    .execute();
  return touch;
}

const get = async (url: string) => {
  const res = await t.app.inject({ method: 'GET', url, headers: t.auth(t.adminKey) });
  expect(res.statusCode).toBe(200);
  return res.json();
};

beforeAll(async () => {
  t = await createTestApp('dashboard', new Date('2026-11-02T11:00:00Z'));
  const c1 = await sell(t, emailOnly('Cleo'), { soldAt: '2026-11-02T10:00:00Z' });
  const c2 = await sell(t, emailOnly('Cato'), { soldAt: '2026-11-02T10:00:00Z' });
  const c3 = await sell(t, emailOnly('Cyd'), {
    soldAt: '2026-11-02T10:00:00Z',
    salesperson: { email: 'kim@shop.example', name: 'Kim Ko' },
  });
  Object.assign(ids, { c1: c1.customerId, c2: c2.customerId, c3: c3.customerId });
  await setTouch(ids.c1, 1, 'sent', '2026-11-04T11:00:00Z');
  await setTouch(ids.c2, 1, 'sent', '2026-11-07T10:00:00Z');
  const call = await setTouch(ids.c1, 2, 'done', '2026-11-09T15:00:00Z');
  await t.database.db
    .insertInto('tasks')
    .values({
      customerId: ids.c1,
      touchId: call.id,
      kind: 'call',
      dueAt: new Date('2026-11-09T09:00:00Z'),
      status: 'done',
      outcome: 'reached',
      completedAt: new Date('2026-11-09T15:00:00Z'),
    })
    .execute();
  t.clock.set(new Date('2026-11-11T12:00:00Z'));
  expect((await form(t, `/u/${c3.unsubscribe}`, 'List-Unsubscribe=One-Click')).statusCode).toBe(200);
  await sell(t, emailOnly('Cato'), { soldAt: '2026-11-10T10:00:00Z' });
  t.clock.set(new Date('2026-11-12T12:00:00Z'));
});

afterAll(() => t.close());

async function staffId(email: string): Promise<string> {
  const row = await t.database.db.selectFrom('staff').select('id').where('email', '=', email).executeTakeFirstOrThrow();
  return row.id;
}

test('after a refresh the dashboard agrees with the live report for the month', async () => {
  await refreshRollups(t.ctx);
  const d = await get('/v1/reports/dashboard?from=2026-11&to=2026-11');
  const live = await get('/v1/reports/summary?from=2026-11-01&to=2026-12-01');
  expect(d.months).toHaveLength(1);
  expect(d.total.contacts).toEqual(live.contacts.total);
  expect(d.total.byChannel).toEqual(live.contacts.byChannel);
  // Cleo's email and call on time, Cato's email three days late.
  expect(d.total.contacts.onTime).toBe(2);
  expect(d.total.contacts.late).toBe(1);
  expect(d.total.calls).toEqual({ completed: 1, reached: 1, shareReached: 1 });
  expect(d.total.optOuts).toEqual({
    email: live.optOuts.email,
    newsletter: live.optOuts.newsletter,
    all: live.optOuts.all,
  });
  expect(d.total.optOuts.email).toBe(1);
  expect(d.total.sales).toBe(4);
  expect(d.total.repeatSales).toBe(1);
  expect(d.computedAt).toBe('2026-11-12T12:00:00.000Z');

  // By salesperson: Kim's one customer opted out; the rest are Sam's.
  const kim = await staffId('kim@shop.example');
  const k = await get(`/v1/reports/dashboard?from=2026-11&to=2026-11&salesperson=${kim}`);
  const liveKim = await get(`/v1/reports/summary?from=2026-11-01&to=2026-12-01&salesperson=${kim}`);
  expect(k.total.contacts).toEqual(liveKim.contacts.total);
  expect(k.total.sales).toBe(1);
  expect(k.total.optOuts.email).toBe(1);
});

test('a contact that changes is in the dashboard after the next refresh, not before', async () => {
  await setTouch(ids.c3, 1, 'sent', '2026-11-04T12:00:00Z');
  const stale = await get('/v1/reports/dashboard?from=2026-11&to=2026-11');
  expect(stale.total.contacts.onTime).toBe(2);
  t.clock.set(new Date('2026-11-12T12:05:00Z'));
  await refreshRollups(t.ctx);
  const fresh = await get('/v1/reports/dashboard?from=2026-11&to=2026-11');
  expect(fresh.total.contacts.onTime).toBe(3);
  expect(fresh.computedAt).toBe('2026-11-12T12:05:00.000Z');
  const live = await get('/v1/reports/summary?from=2026-11-01&to=2026-12-01');
  expect(fresh.total.contacts).toEqual(live.contacts.total);
});

test('the workload lists planned calls per person per week for 8 weeks', async () => {
  const d = await get('/v1/reports/dashboard');
  expect(d.months).toHaveLength(12);
  expect(d.workload.weeks).toHaveLength(8);
  expect(d.workload.weeks[0]).toBe('2026-11-09');
  const byName = Object.fromEntries(d.workload.people.map((p: { name: string; calls: number[] }) => [p.name, p.calls]));
  // Cato's and Cyd's 7-day calls, due Monday 9 November and still to make, count in this week; none other is due
  // within 8 weeks (the anniversary calls are a year out).
  expect(byName['Sam Shaw']).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
  expect(byName['Kim Ko']).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
});

test('the workload counts open call tasks by due week, and no other task', async () => {
  const kim = await staffId('kim@shop.example');
  const task = (kind: string, status: string, dueAt: string) => ({
    customerId: ids.c3,
    assigneeId: kim,
    kind,
    status,
    dueAt: new Date(dueAt),
  });
  await t.database.db
    .insertInto('tasks')
    .values([
      task('call', 'open', '2026-11-25T10:00:00Z'), // week 3
      task('call', 'open', '2026-10-20T10:00:00Z'), // overdue: this week
      task('call', 'done', '2026-11-25T10:00:00Z'),
      task('complaint', 'open', '2026-11-25T10:00:00Z'),
      task('call', 'open', '2027-01-05T10:00:00Z'), // beyond the 8 weeks
    ])
    .execute();
  const d = await get('/v1/reports/dashboard');
  const byName = Object.fromEntries(d.workload.people.map((p: { name: string; calls: number[] }) => [p.name, p.calls]));
  expect(byName['Kim Ko']).toEqual([2, 0, 1, 0, 0, 0, 0, 0]);
  expect(byName['Sam Shaw']).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
});

test('a malformed month is a 400 naming the field', async () => {
  const res = await t.app.inject({
    method: 'GET',
    url: '/v1/reports/dashboard?from=2026-13',
    headers: t.auth(t.adminKey),
  });
  expect(res.statusCode).toBe(400);
  expect(res.json().error.details.field).toBe('from');
});
