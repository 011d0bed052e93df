/**
 * The identity rules through POST /v1/sales, one test per rule; and staff created by a sale, pending until a manager
 * confirms them.
 */
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';
import { preferenceToken } from '../../helpers/links';
import { searchCustomers } from '../../../src/services/customer-story.service';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp('identity');
});
afterAll(async () => {
  await t.close();
});

let n = 0;
async function sell(customer: Record<string, unknown>, patch: Record<string, unknown> = {}) {
  const body = saleBody({ externalId: `ID-${++n}`, ...patch }, customer);
  for (const [k, v] of Object.entries(body.customer as Record<string, unknown>))
    if (v === undefined) delete (body.customer as Record<string, unknown>)[k];
  const res = await t.app.inject({ method: 'POST', url: '/v1/sales', headers: t.auth(t.posKey), payload: body });
  expect(res.statusCode).toBe(201);
  return res.json() as { customer: { id: string }; sale: { id: string }; touches: { status: string }[] };
}

function customer(id: string) {
  return t.database.db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

const noAddress = { address: undefined, preferredChannel: undefined, timezone: undefined };

it('(source, externalId) is authoritative: a shared phone never merges two people the till tells apart', async () => {
  const a = await sell({
    externalId: 'HOUSE-A',
    firstName: 'Ann',
    email: 'ann@house.example',
    phone: '+61 2 5550 8000',
  });
  const b = await sell({
    externalId: 'HOUSE-B',
    firstName: 'Ben',
    email: 'ben@house.example',
    phone: '(02) 5550 8000',
  });
  expect(b.customer.id).not.toBe(a.customer.id);
  expect(b.touches.every((x) => x.status === 'scheduled')).toBe(true);
  expect((await customer(a.customer.id)).email).toBe('ann@house.example');
});

it('phones are stored in E.164 in the customer country, the text kept for display; variants are one customer', async () => {
  const one = await sell({
    ...noAddress,
    externalId: undefined,
    email: undefined,
    firstName: 'Pia',
    phone: '+61 2 5550 8101',
    address: { lines: ['1 Pia St'], country: 'AU' },
  });
  const two = await sell({
    ...noAddress,
    externalId: undefined,
    email: undefined,
    firstName: 'Pia',
    phone: '(02) 5550 8101',
    address: { lines: ['1 Pia St'], country: 'AU' },
  });
  const three = await sell({
    ...noAddress,
    externalId: undefined,
    email: undefined,
    firstName: 'Pia',
    phone: '0255508101',
    address: { lines: ['1 Pia St'], country: 'AU' },
  });
  expect(new Set([one.customer.id, two.customer.id, three.customer.id]).size).toBe(1);
  const row = await customer(one.customer.id);
  expect([row.phone, row.phoneDisplay]).toEqual(['+61255508101', '0255508101']);
});

it('a phone the customer corrects on their page is read the same way: stored in E.164, then found by the till', async () => {
  const first = await sell({
    ...noAddress,
    externalId: undefined,
    email: undefined,
    firstName: 'Cor',
    phone: '+61 2 5550 8201',
    address: { lines: ['2 Cor St'], country: 'AU' },
  });
  const token = preferenceToken(first.customer.id, t.clock.now());
  const res = await t.app.inject({
    method: 'POST',
    url: `/p/${token}/contact`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ phone: '(02) 5550 8299' }).toString(),
  });
  expect(res.statusCode).toBe(303);
  const row = await customer(first.customer.id);
  expect([row.phone, row.phoneDisplay]).toEqual(['+61255508299', '(02) 5550 8299']);
  const again = await sell({
    ...noAddress,
    externalId: undefined,
    email: undefined,
    firstName: 'Cor',
    phone: '+61 2 5550 8299',
    address: { lines: ['2 Cor St'], country: 'AU' },
  });
  expect(again.customer.id).toBe(first.customer.id);
});

it('the console finds a customer by their phone typed in any of its forms', async () => {
  const sold = await sell({
    ...noAddress,
    externalId: 'FIND-1',
    email: undefined,
    firstName: 'Fay',
    phone: '(02) 5550 8301',
    address: { lines: ['3 Fay St'], country: 'AU' },
  });
  // A number without its country code is read in DEFAULT_COUNTRY, as a sale's is.
  const settings = t.ctx.settings as { defaultCountry?: string | null };
  const before = settings.defaultCountry;
  settings.defaultCountry = 'AU';
  try {
    for (const typed of ['+61 2 5550 8301', '(02) 5550 8301', '02 5550-8301']) {
      const hits = await searchCustomers(t.ctx, { role: 'admin', staffId: null }, typed);
      expect({ typed, found: hits.map((h) => h.id) }).toEqual({ typed, found: [sold.customer.id] });
    }
  } finally {
    settings.defaultCountry = before;
  }
});

it('a phone that does not parse is kept as given and never used for matching', async () => {
  const one = await sell({
    ...noAddress,
    externalId: undefined,
    email: undefined,
    firstName: 'Una',
    phone: '555-0199',
  });
  const two = await sell({
    ...noAddress,
    externalId: undefined,
    email: undefined,
    firstName: 'Una',
    phone: '555-0199',
  });
  expect(two.customer.id).not.toBe(one.customer.id);
  expect((await customer(one.customer.id)).phone).toBe('555-0199');
});

it('emails are compared case-folded, and the same person through two sources is one customer by email', async () => {
  const till = await sell({ externalId: 'TILL-9', firstName: 'Sue', email: 'sue@example.com', phone: undefined });
  const web = await sell(
    { externalId: 'WEB-9', firstName: 'Sue', email: 'SUE@Example.com', phone: undefined },
    { source: 'web-shop' },
  );
  expect(web.customer.id).toBe(till.customer.id);
});

it('a phone-only match never overwrites the email or name: it is recorded as a possible duplicate', async () => {
  const first = await sell({
    ...noAddress,
    externalId: undefined,
    firstName: 'Wanda',
    email: 'wanda@example.com',
    phone: '+61 2 5550 8202',
  });
  const second = await sell({
    ...noAddress,
    externalId: undefined,
    firstName: 'Walter',
    lastName: 'Wu',
    email: 'walter@example.com',
    phone: '+61255508202',
  });
  expect(second.customer.id).toBe(first.customer.id);
  const row = await customer(first.customer.id);
  expect([row.firstName, row.email, row.needsCleanup]).toEqual(['Wanda', 'wanda@example.com', true]);
  const dups = await t.database.db
    .selectFrom('possibleDuplicates')
    .selectAll()
    .where('customerId', '=', row.id)
    .execute();
  expect(dups.map((d) => [d.saleId, d.matchedBy, d.given])).toEqual([
    [second.sale.id, 'phone', { firstName: 'Walter', lastName: 'Wu', email: 'walter@example.com' }],
  ]);
});

it('a sale posted after its first year is over places the customer in the later years at once, as an import does', async () => {
  const late = await sell(
    { externalId: 'LATE-1', email: 'late@example.com', phone: undefined },
    { soldAt: '2025-06-01T10:00:00Z' },
  );
  expect((await customer(late.customer.id)).program).toBe('later_years');
  const run = await t.database.db
    .selectFrom('planRuns')
    .select(['status'])
    .where('saleId', '=', late.sale.id)
    .executeTakeFirstOrThrow();
  expect(run.status).toBe('completed');
  expect(late.touches.every((x) => x.status === 'missed')).toBe(true);
});

describe('a salesperson a sale creates', () => {
  it('is pending until a manager confirms them', async () => {
    await sell(
      { externalId: 'SP-1', email: 'sp1@example.com', phone: undefined },
      { salesperson: { email: 'new.rep@shop.example', name: 'New Rep' } },
    );
    const list = (await t.app.inject({ method: 'GET', url: '/v1/staff', headers: t.auth(t.adminKey) })).json();
    const rep = list.staff.find((p: { email: string }) => p.email === 'new.rep@shop.example');
    expect(rep.pending).toBe(true);
    const pos = await t.app.inject({
      method: 'POST',
      url: `/v1/staff/${rep.id}/confirm`,
      headers: t.auth(t.posKey),
      payload: {},
    });
    expect(pos.statusCode).toBe(403);
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/staff/${rep.id}/confirm`,
      headers: t.auth(t.adminKey),
      payload: {},
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().pending).toBe(false);
    const missing = await t.app.inject({
      method: 'POST',
      url: '/v1/staff/00000000-0000-4000-8000-000000000000/confirm',
      headers: t.auth(t.adminKey),
      payload: {},
    });
    expect(missing.statusCode).toBe(404);
  });
});
