/**
 * POST /v1/sales under concurrency, where sales by new customers are recorded in batches (group commit): every
 * request still gets its own answer, batched sales are stored exactly as single ones, and a failed batch falls back
 * to the single-sale path. A second app with batching off is the reference for what a sale must store.
 */
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { Client } from 'pg';
import { countRows } from '../../helpers/database';
import { createLogger } from '../../../src/logger';
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';
import { waitFor } from '../../helpers/wait';

let t: TestApp;
let single: TestApp;
const lines: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  t = await createTestApp('sale_batch', undefined, undefined, { serviceLog: createLogger('debug', 'test', sink) });
  single = await createTestApp('sale_single', undefined, undefined, { settings: { saleBatchSize: 0 } });
  // A known salesperson and an executive, so new customers' sales are batchable and the anniversary call has its caller.
  for (const app of [t, single]) {
    await app.database.db
      .insertInto('staff')
      .values([
        { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson', workingDays: [1, 2, 3, 4] },
        { email: 'exec@shop.example', name: 'Eve Exec', role: 'executive', workingDays: [2, 3, 4, 5] },
      ])
      .execute();
  }
});
afterAll(async () => {
  await t.close();
  await single.close();
});

async function post(app: TestApp, body: unknown) {
  return app.app.inject({ method: 'POST', url: '/v1/sales', headers: app.auth(app.posKey), payload: body as object });
}

const BATCH_FAILED = 'sale batch failed; recording its sales one by one';

/** logged returns the service log lines with this message. */
function logged(msg: string): Record<string, unknown>[] {
  return lines
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);
}

/** stored is everything a sale stored, without ids or creation times, to compare a batched sale with a single one. */
async function stored(app: TestApp, saleId: string) {
  const db = app.database.db;
  const sale = await db
    .selectFrom('sales')
    .innerJoin('segments', 'segments.id', 'sales.segmentId')
    .select([
      'segments.name as segment',
      'sales.segmentId',
      'source',
      'externalId',
      'soldAt',
      'totalAmount',
      'currency',
      'referralCode',
      'requestHash',
      'customerId',
      'salespersonId',
    ])
    .where('sales.id', '=', saleId)
    .executeTakeFirstOrThrow();
  const staffEmail = async (id: string | null) =>
    id ? (await db.selectFrom('staff').select('email').where('id', '=', id).executeTakeFirstOrThrow()).email : null;
  const customer = await db
    .selectFrom('customers')
    .selectAll()
    .where('id', '=', sale.customerId)
    .executeTakeFirstOrThrow();
  const items = await db
    .selectFrom('saleItems')
    .select(['sku', 'name', 'category', 'quantity', 'unitPrice'])
    .where('saleId', '=', saleId)
    .orderBy('id')
    .execute();
  const runs = await db
    .selectFrom('planRuns')
    .select(['kind', 'year', 'status', 'plan', 'startedAt', 'saleId'])
    .where('customerId', '=', sale.customerId)
    .execute();
  const touches = await db
    .selectFrom('touches')
    .select([
      'id',
      'step',
      'channel',
      'senderRole',
      'assigneeId',
      'dueAt',
      'status',
      'statusReason',
      'attempts',
      'completedAt',
    ])
    .where('customerId', '=', sale.customerId)
    .orderBy('step')
    .execute();
  const events = await db
    .selectFrom('touchEvents')
    .select(['touchId', 'at', 'status', 'reason', 'actor'])
    .where(
      'touchId',
      'in',
      touches.map((x) => x.id),
    )
    .execute();
  const audits = await db
    .selectFrom('auditLog')
    .select(['actor', 'action', 'entity', 'detail', 'at'])
    .where('entityId', '=', saleId)
    .execute();
  const { id: _id, createdAt: _c, updatedAt: _u, referralCode, segmentId, ...customerFields } = customer;
  return {
    sale: {
      ...sale,
      segmentId: undefined,
      customerId: undefined,
      salesperson: await staffEmail(sale.salespersonId),
      salespersonId: undefined,
    },
    customer: {
      ...customerFields,
      segmentMatches: segmentId === sale.segmentId,
      referralCodeShape: /^[A-Z2-9]{4}-[A-Z2-9]{4}$/.test(referralCode),
    },
    items,
    runs: runs.map((r) => ({ ...r, saleIsThis: r.saleId === saleId, saleId: undefined })),
    touches: await Promise.all(
      touches.map(async ({ id, assigneeId, ...x }) => ({
        ...x,
        assignee: await staffEmail(assigneeId),
        events: events.filter((e) => e.touchId === id).map(({ touchId: _t, ...e }) => e),
      })),
    ),
    audits: audits.map((a) => ({
      ...a,
      actor: a.actor.replace(/^key:[0-9a-f-]{36}$/, 'key:<the pos key>'),
      detail: { ...(a.detail as object), customerId: undefined, segmentId: undefined },
    })),
  };
}

/** distinctSale is the n-th sale of a test: its own id and its own new customer; some with no address at all. */
function distinctSale(tag: string, n: number) {
  return saleBody(
    {
      externalId: `${tag}-${n}`,
      soldAt: n % 4 === 0 ? '2026-09-01T09:00:00Z' : '2026-11-01T14:03:00Z',
      items: [{ name: `Item ${n}`, quantity: 1 + (n % 3), unitPrice: '10.50' }],
    },
    {
      externalId: n % 5 === 0 ? undefined : `C-${tag}-${n}`,
      email: n % 7 === 0 ? undefined : `${tag.toLowerCase()}.${n}@example.com`,
      phone: `+1 555 ${1000 + n}`,
      address: n % 7 === 0 ? undefined : { lines: [`${n} Main St`], city: 'Sydney', postalCode: '2000', country: 'AU' },
      timezone: n % 2 ? 'Australia/Sydney' : 'Europe/London',
      preferredChannel: n % 3 === 0 ? 'letter' : 'email',
    },
  );
}

describe('batched sales', () => {
  it('records many concurrent distinct sales together, each as a single sale would be stored', async () => {
    lines.length = 0;
    const bodies = Array.from({ length: 60 }, (_, n) => distinctSale('MANY', n));
    const results = await Promise.all(bodies.map((b) => post(t, b)));
    expect(results.map((r) => r.statusCode)).toEqual(bodies.map(() => 201));
    expect(new Set(results.map((r) => r.json().customer.id)).size).toBe(60);
    // They really went in batches: some batch wrote several sales in one transaction.
    const batches = logged('sale batch written');
    expect(Math.max(...batches.map((b) => b.written as number))).toBeGreaterThan(1);
    expect(batches.reduce((sum, b) => sum + (b.written as number), 0)).toBe(60);
    expect(logged(BATCH_FAILED)).toEqual([]);

    const db = t.database.db;
    expect(await countRows(db, 'sales')).toBe(60);
    expect(await countRows(db, 'customers')).toBe(60);
    expect(await countRows(db, 'planRuns')).toBe(60);
    expect(await countRows(db, 'touches')).toBe(420);
    expect(await db.selectFrom('touchEvents').select('id').execute()).toHaveLength(420);

    // The same sales posted one at a time to an app without batching answer and store exactly the same.
    for (const [n, body] of bodies.entries()) {
      const reference = await post(single, body);
      expect(reference.statusCode).toBe(201);
      const strip = (r: { touches: { id: string }[] }) => r.touches.map(({ id: _id, ...x }) => x);
      expect([n, strip(results[n].json())]).toEqual([n, strip(reference.json())]);
      const [batched, alone] = [
        await stored(t, results[n].json().sale.id),
        await stored(single, reference.json().sale.id),
      ];
      expect([n, batched]).toEqual([n, alone]);
    }
    // The stored answer replays as the first one.
    const replay = await post(t, bodies[3]);
    expect(replay.statusCode).toBe(200);
    expect(replay.json()).toEqual(results[3].json());
  });

  it('answers concurrent posts of one sale in one batch with one 201, 200 for the same body and 409 for another', async () => {
    lines.length = 0;
    const body = saleBody(
      { externalId: 'SAME-1' },
      { externalId: 'C-SAME-1', email: 'same1@example.com', phone: '+1 555 2001' },
    );
    const other = { ...body, total: { amount: '5.00', currency: 'AUD' } };
    const posted = [body, body, other, body, other, body];
    const results = await Promise.all(posted.map((b) => post(t, b)));
    const created = results.filter((r) => r.statusCode === 201);
    expect(created).toHaveLength(1);
    const winner = posted[results.indexOf(created[0])];
    results.forEach((r, i) => {
      if (r === created[0]) return;
      if (posted[i] === winner) {
        expect(r.statusCode).toBe(200);
        expect(r.json()).toEqual(created[0].json());
      } else {
        expect(r.statusCode).toBe(409);
        expect(r.json().error.code).toBe('conflict');
      }
    });
    const sales = await t.database.db.selectFrom('sales').select('id').where('externalId', '=', 'SAME-1').execute();
    expect(sales).toHaveLength(1);
    // The batch kept the duplicates out rather than failing on them.
    expect(logged(BATCH_FAILED)).toEqual([]);
  });

  it('gives two new sales by one new customer at once one customer and one first-year plan', async () => {
    lines.length = 0;
    const customer = { externalId: undefined, email: 'Twice@Example.com', phone: '+61 2 5550 3001' };
    const results = await Promise.all([
      post(t, saleBody({ externalId: 'TWICE-1' }, customer)),
      post(t, saleBody({ externalId: 'TWICE-2' }, { ...customer, email: 'twice@example.com', phone: undefined })),
      post(t, saleBody({ externalId: 'TWICE-3' }, { ...customer, email: undefined })),
    ]);
    expect(results.map((r) => r.statusCode)).toEqual([201, 201, 201]);
    const customerIds = new Set(results.map((r) => r.json().customer.id));
    expect(customerIds.size).toBe(1);
    const [customerId] = customerIds;
    const db = t.database.db;
    const runs = await db.selectFrom('planRuns').select(['id', 'kind']).where('customerId', '=', customerId).execute();
    expect(runs).toEqual([{ id: expect.any(String), kind: 'first_year' }]);
    expect(await db.selectFrom('touches').select('id').where('customerId', '=', customerId).execute()).toHaveLength(7);
    const actions = await db
      .selectFrom('auditLog')
      .select('action')
      .where(
        'entityId',
        'in',
        results.map((r) => r.json().sale.id),
      )
      .execute();
    expect(actions.map((a) => a.action).sort()).toEqual([
      'sale.recorded',
      'sale.recorded_repeat',
      'sale.recorded_repeat',
    ]);
    expect(logged(BATCH_FAILED)).toEqual([]);
  });

  it('answers each sale of a mixed batch with its own answer: new, repeat, new salesperson, replay and conflict', async () => {
    const first = distinctSale('MIX', 1);
    const stored1 = await post(t, first);
    expect(stored1.statusCode).toBe(201);
    const repeat = { ...distinctSale('MIX', 2), customer: first.customer };
    const newcomer = { ...distinctSale('MIX', 3), salesperson: { email: 'newbie@shop.example', name: 'New Bie' } };
    const fresh = distinctSale('MIX', 4);
    const conflict = { ...first, total: { amount: '1.00', currency: 'AUD' } };
    const [replayed, repeated, byNewcomer, freshOne, conflicting] = await Promise.all(
      [first, repeat, newcomer, fresh, conflict].map((b) => post(t, b)),
    );

    expect([replayed.statusCode, replayed.json()]).toEqual([200, stored1.json()]);
    expect(repeated.statusCode).toBe(201);
    expect(repeated.json().customer.id).toBe(stored1.json().customer.id);
    expect(repeated.json().touches).toEqual(stored1.json().touches); // the running plan, not a second one
    expect(byNewcomer.statusCode).toBe(201);
    const sale3 = await t.database.db
      .selectFrom('sales')
      .innerJoin('staff', 'staff.id', 'sales.salespersonId')
      .select('staff.email')
      .where('sales.id', '=', byNewcomer.json().sale.id)
      .executeTakeFirstOrThrow();
    expect(sale3.email).toBe('newbie@shop.example');
    expect(freshOne.statusCode).toBe(201);
    expect(new Set([stored1, byNewcomer, freshOne].map((r) => r.json().customer.id)).size).toBe(3);
    expect([conflicting.statusCode, conflicting.json().error.details.field]).toEqual([409, 'externalId']);
  });

  it.each([
    ['batched', () => t],
    ['one by one (batching off)', () => single],
  ])(
    'answers every sale posted while the database connections are cut (a Postgres restart), storing each once: %s',
    async (_how, appOf) => {
      const app = appOf();
      const tag = `CUT${app === t ? 'B' : 'S'}`;
      const bodies = Array.from({ length: 80 }, (_, n) => distinctSale(tag, n));
      const killer = new Client({ connectionString: app.database.url });
      await killer.connect();
      try {
        const pending = bodies.map((b) => post(app, b));
        // Once some are stored, every other connection to this database is closed under the app's pool.
        await waitFor(
          async () =>
            Number((await killer.query(`select count(*) from sales where external_id like '${tag}-%'`)).rows[0].count) >
            0,
          'a first sale stored',
        );
        const cut = await killer.query(
          'select count(pg_terminate_backend(pid)) as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
        );
        expect(Number(cut.rows[0].n)).toBeGreaterThan(0);
        const results = await Promise.all(pending);
        expect(results.filter((r) => r.statusCode >= 300).map((r) => r.body)).toEqual([]);
      } finally {
        await killer.end();
      }
      const stored = await app.database.db
        .selectFrom('sales')
        .select('externalId')
        .where('externalId', 'like', `${tag}-%`)
        .execute();
      expect(stored.map((r) => r.externalId).sort()).toEqual(bodies.map((b) => b.externalId).sort());
    },
  );

  it('falls back to the single-sale path when the batch transaction fails', async () => {
    lines.length = 0;
    const db = t.database.db;
    const body = saleBody(
      { externalId: 'FAIL-1' },
      { externalId: 'C-FAIL-1', email: 'fail1@example.com', phone: '+1 555 4001' },
    );
    // Another writer creates this customer (same source and external id, no email or phone) without committing
    // yet: the batch's look-up cannot see it, so the batch's insert waits on it and then violates the unique key.
    let customerId = '';
    const response = await db.connection().execute(async (conn) => {
      await sql`begin`.execute(conn);
      const row = await conn
        .insertInto('customers')
        .values({ source: 'shop-pos', externalId: 'C-FAIL-1', firstName: 'Earlier', referralCode: 'FAIL-TEST' })
        .returning('id')
        .executeTakeFirstOrThrow();
      customerId = row.id;
      const pending = post(t, body);
      await waitFor(async () => {
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query like '%json_to_recordset%'`.execute(
          db,
        );
        return rows[0].n > 0;
      }, 'the batch to wait on the uncommitted customer');
      await sql`commit`.execute(conn);
      return pending;
    });
    expect(response.statusCode).toBe(201);
    expect(response.json().customer.id).toBe(customerId);
    expect(response.json().touches).toHaveLength(7);
    expect(logged(BATCH_FAILED)).toHaveLength(1);
    const customer = await db
      .selectFrom('customers')
      .select(['firstName', 'email'])
      .where('id', '=', customerId)
      .executeTakeFirstOrThrow();
    expect(customer).toEqual({ firstName: 'Ann', email: 'fail1@example.com' });
    expect(await db.selectFrom('planRuns').select('id').where('customerId', '=', customerId).execute()).toHaveLength(1);
    expect(await db.selectFrom('sales').select('id').where('externalId', '=', 'FAIL-1').execute()).toHaveLength(1);
  });
});
