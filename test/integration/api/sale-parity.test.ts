/**
 * Parity: the same 500 sales (new, repeat, backdated past a year, shared phones, formatted phone variants, two sources,
 * weak phone-only matches, bad rows, a replay) recorded three ways, each on its own database: through POST /v1/sales
 * one by one, through POST /v1/sales concurrently (the group commit batches them; a customer's own sales stay in
 * order), and through an import. The customers, staff, sales with their answers, plan runs, touches with their
 * events and possible duplicates must be the same, table by table, once ids are named by what they belong to.
 */
import { Readable } from 'node:stream';
import type { Database } from '../../../src/db/database';
import { createImport, processImport } from '../../../src/services/import.service';
import { createTestApp, type TestApp } from '../../helpers/app';

const NOW = new Date('2026-11-02T10:00:00Z');
const DAY = 86_400_000;

/** A seeded generator, so every run (and every path) gets the same 500 sales. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

type Sale = Record<string, unknown> & { externalId: string };

function buildSales(): { sales: Sale[]; waves: Sale[][] } {
  const r = rng(12);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const daysAgo = (d: number) => new Date(NOW.getTime() - d * DAY - Math.floor(r() * 8) * 3600_000).toISOString();
  const sellers = [1, 2, 3, 4, 5].map((i) => ({ email: `seller${i}@shop.example`, name: `Seller ${i}` }));
  const address = (i: number) => ({ lines: [`${i} Parity St`], city: 'Sydney', postalCode: '2000', country: 'AU' });
  let inv = 0;
  const sale = (customer: Record<string, unknown>, soldAt: string, source = 'till'): Sale => {
    inv++;
    const amount = `${100 + Math.floor(r() * 900)}.00`;
    return {
      externalId: `INV-${String(inv).padStart(4, '0')}`,
      source,
      soldAt,
      total: { amount, currency: 'AUD' },
      items: [{ sku: 'SOFA-3', name: '3-seat sofa', category: 'furniture', quantity: 1, unitPrice: amount }],
      customer,
      salesperson: pick(sellers),
    };
  };
  const phone = (n: number) => `+61 2 5550 ${String(n).padStart(4, '0')}`;
  const clusters: Sale[][] = [];
  // New customers, some buying again within their first year: 150 + 80.
  for (let i = 0; i < 150; i++) {
    const reachable = i % 10 !== 0;
    const c = {
      externalId: `C-${i}`,
      firstName: `Reg${i}`,
      lastName: 'Lee',
      ...(reachable ? { email: `reg${i}@example.com` } : {}),
      phone: phone(1000 + i),
      ...(i % 3 === 0 ? { timezone: 'Australia/Sydney' } : {}),
      ...(i % 4 === 0 ? { address: address(i), preferredChannel: 'letter' } : {}),
    };
    const first = 20 + Math.floor(r() * 40);
    const cl = [sale(c, daysAgo(first))];
    if (i < 80) cl.push(sale({ ...c, lastName: 'Lee-Smith' }, daysAgo(Math.floor(r() * 19))));
    clusters.push(cl);
  }
  // Backdated past a year (later years at once), half buying again recently: 40 + 20.
  for (let i = 0; i < 40; i++) {
    const c = { externalId: `OLD-${i}`, firstName: `Old${i}`, email: `old${i}@example.com`, phone: phone(2000 + i) };
    const cl = [sale(c, daysAgo(400 + Math.floor(r() * 300)))];
    if (i < 20) cl.push(sale(c, daysAgo(Math.floor(r() * 30))));
    clusters.push(cl);
  }
  // A household phone shared by two people the till tells apart: 20 pairs.
  for (let i = 0; i < 20; i++) {
    const shared = phone(3000 + i);
    clusters.push([
      sale({ externalId: `HA-${i}`, firstName: 'Hana', email: `hana${i}@example.com`, phone: shared }, daysAgo(30)),
    ]);
    clusters.push([
      sale({ externalId: `HB-${i}`, firstName: 'Hugo', email: `hugo${i}@example.com`, phone: shared }, daysAgo(25)),
    ]);
  }
  // One person known only by a phone, written three ways: 30 x 3.
  for (let i = 0; i < 30; i++) {
    const n = String(4000 + i);
    const variants = [`+61 2 5550 ${n}`, `(02) 5550 ${n}`, `025550${n}`];
    clusters.push(
      variants.map((p, k) =>
        sale({ firstName: `Var${i}`, phone: p, address: address(400 + i) }, daysAgo(50 - k * 10 - Math.floor(r() * 5))),
      ),
    );
  }
  // The same person through the till and the web shop, matched by email: 20 x 2.
  for (let i = 0; i < 20; i++) {
    clusters.push([
      sale({ externalId: `T-${i}`, firstName: `Two${i}`, email: `two${i}@example.com` }, daysAgo(40)),
      sale({ externalId: `W-${i}`, firstName: `Two${i}`, email: `TWO${i}@Example.com` }, daysAgo(10), 'web'),
    ]);
  }
  // A phone-only match that disagrees about the person: a possible duplicate, nothing overwritten: 10 x 2.
  for (let i = 0; i < 10; i++) {
    const p = phone(5000 + i);
    clusters.push([
      sale({ externalId: `WK-${i}`, firstName: 'Wanda', email: `wanda${i}@example.com`, phone: p }, daysAgo(45)),
      sale({ firstName: 'Walter', email: `walter${i}@example.com`, phone: p }, daysAgo(5)),
    ]);
  }
  // Bad rows: 19.
  const bad: Array<(s: Sale) => void> = [
    (s) => ((s.customer as Record<string, unknown>).email = 'not-an-email'),
    (s) => delete (s.customer as Record<string, unknown>).firstName,
    (s) => (s.soldAt = new Date(NOW.getTime() + 10 * DAY).toISOString()),
    (s) => ((s.customer as Record<string, unknown>).timezone = 'Mars/Olympus'),
    (s) => (s.total = { amount: 'lots', currency: 'AUD' }),
    (s) => (s.customer = { firstName: 'Nobody' }),
  ];
  for (let i = 0; i < 19; i++) {
    const s = sale({ externalId: `BAD-${i}`, firstName: 'Bad', email: `bad${i}@example.com` }, daysAgo(3));
    bad[i % bad.length](s);
    clusters.push([s]);
  }
  // A replay of a stored sale: the same answer, nothing new.
  clusters[0].push({ ...clusters[0][0] });

  // Interleave the clusters: wave k holds the k-th sale of each, so a customer's own sales keep their order.
  const order = clusters.map((c, i) => ({ c, key: r() + i * 0 })).sort((a, b) => a.key - b.key);
  const waves: Sale[][] = [];
  for (const { c } of order) c.forEach((s, k) => (waves[k] ??= []).push(s));
  const sales = waves.flat();
  return { sales, waves };
}

const { sales, waves } = buildSales();

type Answer = { status: number; body: Record<string, unknown> };

async function post(t: TestApp, s: Sale): Promise<Answer> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/sales', headers: t.auth(t.posKey), payload: s });
  return { status: res.statusCode, body: res.json() };
}

/** snapshot reads every table a sale writes, with ids replaced by what they belong to. */
async function snapshot(db: Database) {
  const customers = await db.selectFrom('customers').selectAll().execute();
  const salesRows = await db.selectFrom('sales').selectAll().orderBy('externalId').execute();
  const staff = await db.selectFrom('staff').select(['id', 'email', 'pending', 'role']).orderBy('email').execute();
  const segments = await db.selectFrom('segments').select(['id', 'name']).execute();
  const runs = await db.selectFrom('planRuns').selectAll().execute();
  const touches = await db.selectFrom('touches').selectAll().execute();
  const events = await db.selectFrom('touchEvents').select(['touchId', 'status', 'reason']).orderBy('id').execute();
  const dups = await db.selectFrom('possibleDuplicates').selectAll().execute();
  const items = await db.selectFrom('saleItems').select(['saleId', 'sku', 'quantity', 'unitPrice']).execute();

  const saleKey = new Map(salesRows.map((s) => [s.id, `${s.source}/${s.externalId}`]));
  const customerKey = new Map<string, string>();
  for (const s of salesRows) if (!customerKey.has(s.customerId)) customerKey.set(s.customerId, saleKey.get(s.id)!);
  const staffKey = new Map(staff.map((p) => [p.id, p.email]));
  const segmentKey = new Map(segments.map((s) => [s.id, s.name]));
  const runKey = new Map<string, string>();
  for (const run of runs) runKey.set(run.id, `${saleKey.get(run.saleId!)}#${run.kind}${run.year}`);
  const touchKey = new Map(touches.map((x) => [x.id, `${runKey.get(x.planRunId!)}:${x.step}`]));
  const rename = (v: unknown): unknown => {
    if (typeof v === 'string')
      return saleKey.get(v) ?? customerKey.get(v) ?? touchKey.get(v) ?? segmentKey.get(v) ?? staffKey.get(v) ?? v;
    if (Array.isArray(v)) return v.map(rename);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rename(x)]));
    return v;
  };
  const by = <T>(rows: T[], key: (r: T) => string) => Object.fromEntries(rows.map((row) => [key(row), row]));
  return {
    customers: by(
      customers.map(
        (c) =>
          rename({
            id: c.id,
            source: c.source,
            externalId: c.externalId,
            firstName: c.firstName,
            lastName: c.lastName,
            email: c.email,
            emailStatus: c.emailStatus,
            phone: c.phone,
            phoneDisplay: c.phoneDisplay,
            timezone: c.timezone,
            preferredChannel: c.preferredChannel,
            address: c.address,
            needsCleanup: c.needsCleanup,
            segmentId: c.segmentId,
            program: c.program,
            contactCorrections: c.contactCorrections,
          }) as { id: string },
      ),
      (c) => c.id,
    ),
    staff: staff.map((p) => ({ email: p.email, pending: p.pending, role: p.role })),
    sales: by(
      salesRows.map(
        (s) =>
          rename({
            id: s.id,
            customerId: s.customerId,
            salespersonId: s.salespersonId,
            segmentId: s.segmentId,
            soldAt: s.soldAt.toISOString(),
            total: s.totalAmount,
            requestHash: s.requestHash,
            response: s.response,
            items: items.filter((i) => i.saleId === s.id).map(({ saleId: _s, ...i }) => i),
          }) as { id: string },
      ),
      (s) => s.id,
    ),
    planRuns: by(
      runs.map((run) => ({
        key: runKey.get(run.id)!,
        customer: customerKey.get(run.customerId),
        segment: segmentKey.get(run.segmentId),
        status: run.status,
        startedAt: run.startedAt.toISOString(),
      })),
      (run) => run.key,
    ),
    touches: by(
      touches.map((x) => ({
        key: touchKey.get(x.id)!,
        customer: customerKey.get(x.customerId),
        channel: x.channel,
        senderRole: x.senderRole,
        assignee: x.assigneeId ? staffKey.get(x.assigneeId) : null,
        dueAt: x.dueAt.toISOString(),
        status: x.status,
        statusReason: x.statusReason,
        events: events.filter((e) => e.touchId === x.id).map((e) => `${e.status}:${e.reason ?? ''}`),
      })),
      (x) => x.key,
    ),
    possibleDuplicates: dups
      .map((d) => ({ customer: customerKey.get(d.customerId), sale: saleKey.get(d.saleId), given: d.given }))
      .sort((a, b) => String(a.sale).localeCompare(String(b.sale))),
  };
}

let apps: TestApp[] = [];
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
});

it('records 500 sales the same through the API one by one, the API concurrently, and an import', async () => {
  expect(sales).toHaveLength(500);
  const [oneByOne, concurrent, imported] = (apps = await Promise.all([
    createTestApp('parity_single', NOW),
    createTestApp('parity_batched', NOW),
    createTestApp('parity_import', NOW),
  ]));

  const singleAnswers = new Map<string, Answer[]>();
  for (const s of sales) {
    const a = await post(oneByOne, s);
    singleAnswers.set(s.externalId, [...(singleAnswers.get(s.externalId) ?? []), a]);
  }
  const batchedAnswers = new Map<string, Answer[]>();
  // Forty at a time: as many as a busy till fleet sends at once, and within what the test pool holds.
  const groups = waves.flatMap((wave) =>
    Array.from({ length: Math.ceil(wave.length / 40) }, (_, i) => wave.slice(i * 40, i * 40 + 40)),
  );
  for (const wave of groups) {
    const answers = await Promise.all(wave.map((s) => post(concurrent, s)));
    wave.forEach((s, i) => batchedAnswers.set(s.externalId, [...(batchedAnswers.get(s.externalId) ?? []), answers[i]]));
  }
  const ndjson = sales.map((s) => JSON.stringify(s)).join('\n') + '\n';
  const stored = await createImport(
    imported.ctx,
    { format: 'ndjson', batchSize: 100 },
    Readable.from([Buffer.from(ndjson)]),
    'test',
  );
  const report = await processImport(imported.ctx, stored.id);
  expect(report.status).toBe('completed');

  const [a, b, c] = await Promise.all([
    snapshot(oneByOne.database.db),
    snapshot(concurrent.database.db),
    snapshot(imported.database.db),
  ]);
  // The answers: bad rows are refused naming the same field, in the API and in the import report alike.
  const rejectedOf = (answers: Map<string, Answer[]>) =>
    [...answers].flatMap(([id, list]) =>
      list
        .filter((x) => x.status >= 400)
        .map((x) => {
          const error = x.body.error as { code: string; details?: { field?: string } };
          return [id, x.status, error.details?.field ?? error.code];
        }),
    );
  expect(rejectedOf(batchedAnswers)).toEqual(rejectedOf(singleAnswers));
  expect(rejectedOf(singleAnswers)).toHaveLength(19);
  expect([report.rejected, report.duplicates, report.imported]).toEqual([19, 1, 480]);
  expect(report.rejections.map((x) => [x.externalId, x.field]).sort()).toEqual(
    rejectedOf(singleAnswers)
      .map(([id, , field]) => [id, field])
      .sort(),
  );
  // Every answer given is the one stored with its sale (what a replay returns, and what the import stored), so the
  // table comparison below compares the answers too.
  for (const [t, answers] of [
    [oneByOne, singleAnswers],
    [concurrent, batchedAnswers],
  ] as const) {
    const stored = new Map(
      (await t.database.db.selectFrom('sales').select(['externalId', 'response']).execute()).map((r) => [
        r.externalId,
        r.response,
      ]),
    );
    for (const [id, list] of answers) {
      const ok = list.filter((x) => x.status < 300);
      expect(ok.map((x) => x.status)).toEqual(ok.length === 2 ? [201, 200] : ok.length ? [201] : []);
      for (const x of ok) expect(x.body).toEqual(stored.get(id));
    }
  }

  // Table by table.
  for (const table of ['customers', 'staff', 'sales', 'planRuns', 'touches', 'possibleDuplicates'] as const) {
    expect({ table, rows: b[table] }).toEqual({ table, rows: a[table] });
    expect({ table, rows: c[table] }).toEqual({ table, rows: a[table] });
  }

  // And what the mix was meant to exercise did happen.
  const customerRows = Object.values(a.customers) as unknown as Array<Record<string, unknown>>;
  expect(customerRows.filter((x) => x.program === 'later_years').length).toBeGreaterThanOrEqual(20);
  expect(customerRows.filter((x) => String(x.phone).startsWith('+61255504')).length).toBe(30);
  expect(customerRows.filter((x) => String(x.phone).startsWith('+6125550300')).length).toBe(20);
  expect(a.possibleDuplicates).toHaveLength(10);
  expect(
    Object.values(a.sales).filter((s) => (s as unknown as { response: { warnings?: unknown } }).response.warnings)
      .length,
  ).toBeGreaterThan(0);
  expect(a.staff.every((p) => p.pending)).toBe(true);
}, 300_000);
