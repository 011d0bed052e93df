/** POST /v1/sales against the real Postgres: plans, replays, conflicts, routing, repeat sales and bad input. */
import { countRows } from '../../helpers/database';
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp('sales');
});
afterAll(async () => {
  await t.close();
});

async function post(body: unknown, key = t.posKey, headers: Record<string, string> = {}) {
  return t.app.inject({
    method: 'POST',
    url: '/v1/sales',
    headers: { ...t.auth(key), ...headers },
    payload: body as object,
  });
}

async function counts() {
  const db = t.database.db;
  return {
    sales: await countRows(db, 'sales'),
    touches: await countRows(db, 'touches'),
    customers: await countRows(db, 'customers'),
    staff: await countRows(db, 'staff'),
  };
}

describe('recording a sale', () => {
  it('returns the seven-step plan and stores it', async () => {
    const res = await post(
      saleBody({ externalId: 'PLAN-1' }, { externalId: 'C-PLAN-1', email: 'plan1@example.com', phone: '+1 555 0001' }),
    );
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.segment.name).toBe('default');
    expect(body.touches.map((x: { step: number }) => x.step)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(body.touches.map((x: { channel: string }) => x.channel)).toEqual([
      'email',
      'call',
      'email',
      'email',
      'email',
      'email',
      'call',
    ]);
    expect(body.touches.every((x: { status: string }) => x.status === 'scheduled')).toBe(true);
    // Sold Monday 01:03 in Sydney; two days later is Wednesday 01:03, before the window opens: Wednesday 09:00 AEDT.
    expect(body.touches[0].dueAt).toBe('2026-11-03T22:00:00.000Z');

    const profile = await t.app.inject({
      method: 'GET',
      url: `/v1/customers/${body.customer.id}`,
      headers: t.auth(t.adminKey),
    });
    expect(profile.statusCode).toBe(200);
    expect(profile.json().touches).toHaveLength(7);
    expect(profile.json().sales[0].externalId).toBe('PLAN-1');
    expect(profile.json().customer.preferences.preferredChannel).toBe('email');
  });

  it('replays the first answer with 200 and writes nothing', async () => {
    const body = saleBody(
      { externalId: 'REPLAY-1' },
      { externalId: 'C-REPLAY', email: 'replay@example.com', phone: '+1 555 0002' },
    );
    const first = await post(body);
    const before = await counts();
    const second = await post(body);
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual(first.json());
    expect(await counts()).toEqual(before);
  });

  it('answers 409 when the same id comes with a different body', async () => {
    await post(
      saleBody(
        { externalId: 'CONFLICT-1' },
        { externalId: 'C-CONFLICT', email: 'conflict@example.com', phone: '+1 555 0003' },
      ),
    );
    const before = await counts();
    const res = await post(
      saleBody(
        { externalId: 'CONFLICT-1', total: { amount: '5.00', currency: 'AUD' } },
        { externalId: 'C-CONFLICT', email: 'conflict@example.com', phone: '+1 555 0003' },
      ),
    );
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('conflict');
    expect(await counts()).toEqual(before);
  });

  it('gives concurrent posts of one sale one plan', async () => {
    const body = saleBody(
      { externalId: 'RACE-1' },
      { externalId: 'C-RACE', email: 'race@example.com', phone: '+1 555 0004' },
    );
    const results = await Promise.all(Array.from({ length: 5 }, () => post(body)));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 201]);
    const ids = new Set(results.map((r) => r.json().sale.id));
    expect(ids.size).toBe(1);
  });

  it('makes one customer and one plan when several tills post a new customer at once', async () => {
    const customer = { externalId: undefined, email: 'twotills@example.com', phone: '+1 555 0100' };
    // Each till has its own salesperson, so nothing else serialises the sales.
    const results = await Promise.all(
      ['a', 'b', 'c', 'd', 'e', 'f'].map((till) =>
        post(
          saleBody(
            { externalId: `TILL-${till}`, salesperson: { email: `rep-${till}@shop.example`, name: `Rep ${till}` } },
            customer,
          ),
        ),
      ),
    );
    expect(results.map((r) => r.statusCode)).toEqual([201, 201, 201, 201, 201, 201]);
    expect(new Set(results.map((r) => r.json().customer.id)).size).toBe(1);
    const runs = await t.database.db
      .selectFrom('planRuns')
      .select('id')
      .where('customerId', '=', results[0].json().customer.id)
      .execute();
    expect(runs).toHaveLength(1);
  });

  it('starts no second plan for a repeat sale during the first year', async () => {
    const customer = { externalId: 'C-REPEAT', email: 'repeat@example.com', phone: '+1 555 0005' };
    const first = (await post(saleBody({ externalId: 'REPEAT-1' }, customer))).json();
    const touchesBefore = await countRows(t.database.db, 'touches');
    const second = await post(saleBody({ externalId: 'REPEAT-2', soldAt: '2026-11-02T09:00:00Z' }, customer));
    expect(second.statusCode).toBe(201);
    expect(second.json().customer.id).toBe(first.customer.id);
    expect(second.json().touches.map((x: { id: string }) => x.id)).toEqual(
      first.touches.map((x: { id: string }) => x.id),
    );
    expect(await countRows(t.database.db, 'touches')).toBe(touchesBefore);
    const profile = (
      await t.app.inject({ method: 'GET', url: `/v1/customers/${first.customer.id}`, headers: t.auth(t.adminKey) })
    ).json();
    expect(profile.sales.map((s: { externalId: string }) => s.externalId)).toEqual(['REPEAT-1', 'REPEAT-2']);
  });

  it('matches a returning customer by email when the external id is new', async () => {
    const a = (
      await post(
        saleBody({ externalId: 'MATCH-1' }, { externalId: 'C-M1', email: 'Match@Example.com', phone: '+1 555 0006' }),
      )
    ).json();
    const b = (
      await post(
        saleBody({ externalId: 'MATCH-2' }, { externalId: undefined, email: 'match@example.com', phone: undefined }),
      )
    ).json();
    expect(b.customer.id).toBe(a.customer.id);
    const found = await t.app.inject({
      method: 'GET',
      url: '/v1/customers?email=match@example.com',
      headers: t.auth(t.adminKey),
    });
    expect(found.json().customers.map((c: { id: string }) => c.id)).toEqual([a.customer.id]);
  });

  it('creates an unknown salesperson from the sale', async () => {
    await post(
      saleBody(
        { externalId: 'SP-1', salesperson: { email: 'new.rep@shop.example', name: 'New Rep' } },
        { externalId: 'C-SP', email: 'sp@example.com', phone: '+1 555 0007' },
      ),
    );
    const staff = (await t.app.inject({ method: 'GET', url: '/v1/staff', headers: t.auth(t.adminKey) })).json().staff;
    const rep = staff.find((s: { email: string }) => s.email === 'new.rep@shop.example');
    // Pending until a manager (or an admin) confirms them: anyone could have typed that address into a till.
    expect(rep).toMatchObject({ role: 'salesperson', name: 'New Rep', pending: true });
    const auth = t.auth(t.adminKey);
    const confirmed = await t.app.inject({
      method: 'POST',
      url: `/v1/staff/${rep.id}/confirm`,
      headers: auth,
      payload: {},
    });
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.json()).toMatchObject({ id: rep.id, pending: false });
    const again = await t.app.inject({
      method: 'POST',
      url: `/v1/staff/${rep.id}/confirm`,
      headers: auth,
      payload: {},
    });
    expect(again.statusCode).toBe(409);
  });

  it('marks steps older than the grace period missed for a backdated sale', async () => {
    const res = await post(
      saleBody(
        { externalId: 'BACK-1', soldAt: '2026-08-01T10:00:00Z' },
        { externalId: 'C-BACK', email: 'back@example.com', phone: '+1 555 0008', timezone: 'UTC' },
      ),
    );
    const statuses = res.json().touches.map((x: { step: number; status: string }) => `${x.step}:${x.status}`);
    // now is 2026-11-02 10:00Z: steps 1-3 are long past, step 4 (1 Nov) is within 14 days, 5-7 are ahead.
    expect(statuses).toEqual([
      '1:missed',
      '2:missed',
      '3:missed',
      '4:scheduled',
      '5:scheduled',
      '6:scheduled',
      '7:scheduled',
    ]);
    expect(res.json().touches[3].dueAt).toBe('2026-11-02T10:00:00.000Z');
  });

  it('plans mail steps, warns and flags the customer when no address is known', async () => {
    const res = await post(
      saleBody(
        { externalId: 'NOADDR-1' },
        {
          externalId: 'C-NOADDR',
          email: undefined,
          address: undefined,
          preferredChannel: undefined,
          phone: '+1 555 0009',
        },
      ),
    );
    const touches = res.json().touches;
    // Planned all the same: whether a letter or an email goes (or none, `no_address`) is decided at each due time.
    expect(touches.every((x: { status: string }) => x.status === 'scheduled')).toBe(true);
    expect(res.json().warnings).toEqual([expect.stringContaining('no usable email or postal address')]);
    const profile = (
      await t.app.inject({ method: 'GET', url: `/v1/customers/${res.json().customer.id}`, headers: t.auth(t.adminKey) })
    ).json();
    expect(profile.customer.needsCleanup).toBe(true);
    expect(profile.touches[0].history[0]).toMatchObject({ status: 'scheduled' });
  });
});

describe('segment routing', () => {
  beforeAll(async () => {
    const mk = (payload: object) =>
      t.app.inject({ method: 'POST', url: '/v1/segments', headers: t.auth(t.adminKey), payload });
    expect((await mk({ name: 'outdoor', priority: 10, match: { categories: ['Garden'] } })).statusCode).toBe(201);
    expect((await mk({ name: 'big spenders', priority: 20, match: { minTotal: '5000.00' } })).statusCode).toBe(201);
  });

  it('routes by category, by total, by priority, else to the default', async () => {
    const item = (category: string, price: string) => [
      { sku: 'X', name: 'Thing', category, quantity: 1, unitPrice: price },
    ];
    const cases: [string, string, string, string][] = [
      ['SEG-1', 'garden', '100.00', 'outdoor'],
      ['SEG-2', 'furniture', '6000.00', 'big spenders'],
      ['SEG-3', 'garden', '9000.00', 'outdoor'],
      ['SEG-4', 'furniture', '4999.99', 'default'],
    ];
    for (const [id, category, amount, expected] of cases) {
      const res = await post(
        saleBody(
          { externalId: id, items: item(category, amount), total: { amount, currency: 'AUD' } },
          { externalId: `C-${id}`, email: `${id}@example.com`, phone: undefined },
        ),
      );
      expect([id, res.json().segment.name]).toEqual([id, expected]);
    }
  });

  it('keeps running plans unchanged when a plan is edited', async () => {
    const segs = (await t.app.inject({ method: 'GET', url: '/v1/segments', headers: t.auth(t.adminKey) })).json()
      .segments;
    const outdoor = segs.find((s: { name: string }) => s.name === 'outdoor');
    const before = (
      await post(
        saleBody(
          {
            externalId: 'EDIT-1',
            items: [{ name: 'Hose', category: 'garden', quantity: 1, unitPrice: '10.00' }],
            total: { amount: '10.00', currency: 'AUD' },
          },
          { externalId: 'C-EDIT-1', email: 'edit1@example.com', phone: undefined },
        ),
      )
    ).json();
    const plan = [
      {
        step: 1,
        offset: { days: 1 },
        channel: 'mail',
        sender: 'salesperson',
        purpose: 'Thanks',
        template: { subject: 'Hi {{ customer.firstName }}', body: 'Thanks.' },
      },
    ];
    const put = await t.app.inject({
      method: 'PUT',
      url: `/v1/segments/${outdoor.id}`,
      headers: t.auth(t.adminKey),
      payload: { name: 'outdoor', priority: 10, match: { categories: ['garden'] }, plan },
    });
    expect(put.statusCode).toBe(200);
    const after = (
      await post(
        saleBody(
          {
            externalId: 'EDIT-2',
            items: [{ name: 'Hose', category: 'garden', quantity: 1, unitPrice: '10.00' }],
            total: { amount: '10.00', currency: 'AUD' },
          },
          { externalId: 'C-EDIT-2', email: 'edit2@example.com', phone: undefined },
        ),
      )
    ).json();
    expect(after.touches).toHaveLength(1);
    const old = (
      await t.app.inject({
        method: 'GET',
        url: `/v1/customers/${before.customer.id}/touches`,
        headers: t.auth(t.adminKey),
      })
    ).json();
    expect(old.touches).toHaveLength(7);
  });
});

describe('bad input', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['missing externalId', { externalId: undefined }, 'externalId'],
    ['missing customer', { customer: undefined }, 'customer'],
    ['empty items', { items: [] }, 'items'],
    ['malformed soldAt', { soldAt: 'yesterday' }, 'soldAt'],
    ['negative amount', { total: { amount: '-5.00', currency: 'AUD' } }, 'total.amount'],
    ['non-numeric amount', { total: { amount: 'lots', currency: 'AUD' } }, 'total.amount'],
    ['bad currency', { total: { amount: '5.00', currency: 'dollars' } }, 'total.currency'],
    ['bad unit price', { items: [{ name: 'x', quantity: 1, unitPrice: '1,00' }] }, 'items.0.unitPrice'],
    ['zero quantity', { items: [{ name: 'x', quantity: 0, unitPrice: '1.00' }] }, 'items.0.quantity'],
    ['unknown field', { colour: 'red' }, 'colour'],
  ];
  const customerCases: [string, Record<string, unknown>, string][] = [
    ['bad email', { email: 'not-an-email' }, 'customer.email'],
    ['unknown time zone', { timezone: 'Mars/Olympus_Mons' }, 'customer.timezone'],
    ['missing first name', { firstName: undefined }, 'customer.firstName'],
    ['bad country', { address: { lines: ['1 Main St'], country: 'Australia' } }, 'customer.address.country'],
  ];

  it.each([
    ...cases.map(([n, p, f]) => [n, saleBody({ externalId: `BAD-${n}`, ...p }), f]),
    ...customerCases.map(([n, c, f]) => [n, saleBody({ externalId: `BAD-${n}` }, c), f]),
  ])('%s gets a 400 naming the field and writes nothing', async (_name, body, field) => {
    const before = await counts();
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation_failed');
    expect(res.json().error.details.field).toBe(field);
    expect(res.json().error.message).toContain(field as string);
    expect(await counts()).toEqual(before);
  });

  it('refuses a body that is not JSON', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/sales',
      headers: { ...t.auth(t.posKey), 'content-type': 'application/json' },
      payload: '{"externalId":',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.field).toBe('body');
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const before = await counts();
    const res = await post(
      saleBody({
        externalId: 'HUGE',
        items: [{ name: 'x'.repeat(200), quantity: 1, unitPrice: '1.00', sku: 'y'.repeat(100) }],
        padding: 'z'.repeat(1024 * 1024),
      }),
    );
    expect(res.statusCode).toBe(413);
    expect(res.json().error.details.field).toBe('body');
    expect(await counts()).toEqual(before);
  });

  it('refuses a missing or wrong key with 401 and a pos key on an admin route with 403', async () => {
    const missing = await t.app.inject({ method: 'POST', url: '/v1/sales', payload: saleBody() });
    expect(missing.statusCode).toBe(401);
    expect(missing.json().error.details.field).toBe('Authorization');
    const wrong = await post(saleBody(), 'rk_pos_wrong');
    expect(wrong.statusCode).toBe(401);
    const forbidden = await t.app.inject({ method: 'GET', url: '/v1/segments', headers: t.auth(t.posKey) });
    expect(forbidden.statusCode).toBe(403);
    const forbiddenPost = await t.app.inject({
      method: 'POST',
      url: '/v1/staff',
      headers: t.auth(t.posKey),
      payload: { email: 'x@y.z', name: 'X', role: 'manager' },
    });
    expect(forbiddenPost.statusCode).toBe(403);
  });
});
