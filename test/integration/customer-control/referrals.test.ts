/**
 * Referrals through real HTTP: a sale posted with a customer's referral code credits them on their timeline, and a
 * plan step with `trigger: 'referral'` becomes a thank-you touch due its offset after the referred sale, delivered
 * by the real worker with the step's own template.
 */
import { type TestApp } from '../../helpers/app';
import { type TestSmtpServer } from '../../helpers/smtp';
import { type TestWorker } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';
import { sell, snapshot, touchesOf } from './helpers';
import { closeTestStack, startTestStack } from '../../helpers/stack';

const NOW = new Date('2026-11-02T10:00:00Z'); // Monday

let t: TestApp;
let smtp: TestSmtpServer;
let worker: TestWorker;

const bikePlan = [
  {
    step: 1,
    offset: { days: 2 },
    channel: 'mail',
    purpose: 'Thank you',
    template: { subject: 'Thanks, {{ customer.firstName }}', body: 'Dear {{ customer.firstName }},\n\nThank you.' },
  },
  { step: 2, offset: { days: 7 }, channel: 'call', purpose: 'All well?', talkingPoints: ['How is the bike?'] },
  {
    step: 9,
    offset: { days: 1 },
    channel: 'mail',
    trigger: 'referral',
    purpose: 'Thank you for the referral',
    template: {
      subject: 'Thank you for recommending us, {{ customer.firstName }}',
      body: 'Dear {{ customer.firstName }},\n\nA friend of yours came to us on your recommendation. Thank you!',
    },
  },
];

beforeAll(async () => {
  ({ t, smtp, worker } = await startTestStack('referrals', NOW));
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/segments',
    headers: t.auth(t.adminKey),
    payload: { name: 'bikes', priority: 10, match: { categories: ['bikes'] }, plan: bikePlan },
  });
  expect(res.statusCode).toBe(201);
});
afterAll(async () => {
  await closeTestStack({ t, smtp, worker });
});

const bike = { items: [{ sku: 'BK-1', name: 'Road bike', category: 'bikes', quantity: 1, unitPrice: '1299.00' }] };
const profileOf = async (id: string) =>
  (await t.app.inject({ method: 'GET', url: `/v1/customers/${id}`, headers: t.auth(t.adminKey) })).json();

it('rejects an unknown trigger in a plan step, naming the field', async () => {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/segments',
    headers: t.auth(t.adminKey),
    payload: { name: 'bad', plan: [{ ...bikePlan[2], trigger: 'birthday' }] },
  });
  expect(res.statusCode).toBe(400);
  expect(res.json().error.details.field).toBe('plan.0.trigger');
});

it('credits the referrer on their timeline and gives them the thank-you touch, delivered with its template', async () => {
  const rita = await sell(t, { firstName: 'Rita', email: 'rita@example.com', phone: '+1 555 0301' }, bike);
  // The thank-you step is not part of the plan a sale starts.
  expect(rita.touches.map((x) => x.step)).toEqual([1, 2]);
  const code = (await snapshot(t, rita.customerId)).customer.referralCode;

  // A friend buys with the code, typed in lower case, at 10:00 on Monday: the thank-you falls due a day later.
  const friend = await sell(
    t,
    { firstName: 'Finn', email: 'finn@example.com', phone: '+1 555 0302' },
    { soldAt: NOW.toISOString(), referralCode: code.toLowerCase() },
  );
  const profile = await profileOf(rita.customerId);
  expect(profile.referrals).toEqual([{ customerId: friend.customerId, saleId: friend.saleId, at: NOW.toISOString() }]);
  const thanks = profile.touches.filter((x: { step: number }) => x.step === 9);
  expect(thanks).toHaveLength(1);
  expect(thanks[0]).toMatchObject({ channel: 'email', status: 'scheduled', dueAt: '2026-11-03T10:00:00.000Z' });
  expect((await profileOf(friend.customerId)).customer.referredBy).toBe(rita.customerId);

  // On Tuesday the scheduler hands it to the email worker, which renders the step's own template.
  t.clock.set(new Date('2026-11-03T10:00:00Z'));
  await worker.runMaintenance('dispatch');
  const [message] = await waitFor(() => {
    const m = smtp.messages.filter(
      (x) => x.envelope.to.includes('rita@example.com') && x.subject?.startsWith('Thank you for recommending'),
    );
    return m.length ? m : null;
  }, 'the thank-you email');
  expect(message.subject).toBe('Thank you for recommending us, Rita');
  expect(message.text).toContain('A friend of yours came to us on your recommendation');
  await waitFor(
    async () => (await touchesOf(t, rita.customerId)).find((x) => x.step === 9)?.status === 'sent' || null,
    'the thank-you recorded sent',
  );
  t.clock.set(NOW);
});

it("credits nobody for an unknown code, the buyer's own code, or a replayed sale", async () => {
  const sam = await sell(t, { firstName: 'Sami', email: 'sami@example.com', phone: '+1 555 0303' }, bike);
  const code = (await snapshot(t, sam.customerId)).customer.referralCode;

  const unknown = await sell(
    t,
    { firstName: 'Uma', email: 'uma@example.com', phone: '+1 555 0304' },
    { soldAt: NOW.toISOString(), referralCode: 'ZZZZ-ZZZZ' },
  );
  expect((await profileOf(unknown.customerId)).customer.referredBy).toBeNull();

  // Sami buys again with their own code: no credit, no thank-you.
  const own = await t.app.inject({
    method: 'POST',
    url: '/v1/sales',
    headers: t.auth(t.posKey),
    payload: { ...(await saleOf(sam.saleId)), externalId: 'OWN-CODE-1', soldAt: NOW.toISOString(), referralCode: code },
  });
  expect(own.statusCode).toBe(201);
  let profile = await profileOf(sam.customerId);
  expect(profile.referrals).toEqual([]);
  expect(profile.touches.filter((x: { step: number }) => x.step === 9)).toEqual([]);

  // A friend's sale posted twice credits once.
  const body = {
    ...(await saleOf(sam.saleId)),
    externalId: 'FRIEND-OF-SAMI',
    soldAt: NOW.toISOString(),
    referralCode: code,
    customer: { externalId: 'C-FOS', firstName: 'Gus', email: 'gus@example.com', timezone: 'UTC' },
  };
  const first = await t.app.inject({ method: 'POST', url: '/v1/sales', headers: t.auth(t.posKey), payload: body });
  const second = await t.app.inject({ method: 'POST', url: '/v1/sales', headers: t.auth(t.posKey), payload: body });
  expect([first.statusCode, second.statusCode]).toEqual([201, 200]);
  profile = await profileOf(sam.customerId);
  expect(profile.referrals).toHaveLength(1);
  expect(profile.touches.filter((x: { step: number }) => x.step === 9)).toHaveLength(1);
});

/** saleOf rebuilds a posted sale's body from the timeline, for posting variations of it. */
async function saleOf(saleId: string) {
  const sale = await t.database.db.selectFrom('sales').selectAll().where('id', '=', saleId).executeTakeFirstOrThrow();
  const customer = await t.database.db
    .selectFrom('customers')
    .selectAll()
    .where('id', '=', sale.customerId)
    .executeTakeFirstOrThrow();
  return {
    externalId: sale.externalId,
    source: sale.source,
    soldAt: sale.soldAt.toISOString(),
    total: { amount: sale.totalAmount, currency: sale.currency },
    items: bike.items,
    customer: {
      externalId: customer.externalId,
      firstName: customer.firstName,
      email: customer.email,
      timezone: 'UTC',
    },
  };
}
