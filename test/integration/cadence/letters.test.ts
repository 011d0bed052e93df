/**
 * Letters end to end: backdated sales through POST /v1/sales, the real worker runtime rendering letters into the
 * day's print batch, the batch API (list, merged PDF, CSV, mailed), channel fallbacks at delivery time, the paper
 * size from config, and templates that would overflow one page refused when a segment is saved.
 */
import { PDFDocument } from 'pdf-lib';
import { updateCustomer } from '../../../src/db/repositories/customer.repository';
import { listEventsOfCustomer } from '../../../src/db/repositories/plan.repository';
import { touchJobId } from '../../../src/jobs/contract';
import { fileLetters } from '../../../src/services/letter.service';
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';
import { startTestWorker, type TestWorker } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';

let t: TestApp;
let worker: TestWorker;

// Tuesday 10 November 2026, 14:00 in Sydney; the business day (UTC in tests) is 2026-11-10.
const NOW = new Date('2026-11-10T03:00:00Z');
// Five days earlier: step 1 (two days after the sale) is overdue but within the grace period, so it goes out at the
// next opening of the customer's send window; step 2 (a call, seven days after) is still to come.
const SOLD_AT = '2026-11-05T01:00:00Z';

beforeAll(async () => {
  t = await createTestApp('letters', NOW);
  worker = await startTestWorker({
    database: t.database,
    clock: t.clock,
    smtpUrl: null,
    outboxDir: `/tmp/rapport-letters-outbox-${process.pid}`,
    // RAPPORT_PAPER=A4 prints every letter on A4, whatever its destination (the default, by country, is tested in
    // test/integration/voice).
    paper: 'A4',
  });
});
afterAll(async () => {
  await worker?.close();
  await t.close();
});

interface SaleAnswer {
  customer: { id: string };
  touches: Array<{ id: string; step: number; channel: string; status: string; dueAt: string }>;
}

let saleNo = 0;
async function letterSale(customer: Record<string, unknown> = {}): Promise<{ customerId: string; touchId: string }> {
  saleNo += 1;
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/sales',
    headers: t.auth(t.posKey),
    payload: saleBody(
      { externalId: `LTR-${saleNo}`, soldAt: SOLD_AT },
      {
        externalId: `C-LTR-${saleNo}`,
        email: `letter${saleNo}@example.com`,
        phone: `+61 2 5550 ${1000 + saleNo}`,
        preferredChannel: 'letter',
        ...customer,
      },
    ),
  });
  expect(res.statusCode).toBe(201);
  const body = res.json() as SaleAnswer;
  const first = body.touches.find((x) => x.step === 1)!;
  expect(first).toMatchObject({ channel: 'letter', status: 'scheduled' });
  // Move time on to when the letter is due (the customer's send window may not be open yet); never backwards.
  if (new Date(first.dueAt) > t.clock.now()) t.clock.set(new Date(first.dueAt));
  return { customerId: body.customer.id, touchId: first.id };
}

function touchRow(id: string) {
  return t.database.db
    .selectFrom('touches')
    .select(['status', 'channel', 'statusReason', 'letterBatchId', 'content', 'attempts'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

async function dispatchUntilFiled(touchId: string): Promise<string> {
  await worker.runMaintenance('dispatch');
  const row = await waitFor(async () => {
    const r = await touchRow(touchId);
    return r.letterBatchId ? r : null;
  }, `touch ${touchId} in a print batch`);
  return row.letterBatchId!;
}

function get(url: string, key = t.adminKey) {
  return t.app.inject({ method: 'GET', url, headers: t.auth(key) });
}

function markMailed(batchId: string) {
  return t.app.inject({ method: 'POST', url: `/v1/letters/batches/${batchId}/mailed`, headers: t.auth(t.adminKey) });
}

async function pdfPages(batchId: string): Promise<Array<{ width: number; height: number }>> {
  const res = await get(`/v1/letters/batches/${batchId}/pdf`);
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('application/pdf');
  const doc = await PDFDocument.load(res.rawPayload);
  return doc.getPages().map((p) => p.getSize());
}

describe('a due letter', () => {
  let batchId: string;
  let ann: { customerId: string; touchId: string };
  let bob: { customerId: string; touchId: string };
  let dora: { customerId: string; touchId: string };

  it('is rendered and filed into the open print batch of the business day', async () => {
    ann = await letterSale();
    bob = await letterSale({
      firstName: 'Bob',
      lastName: 'Brown',
      timezone: 'America/New_York',
      address: {
        lines: ['500 Fifth Avenue', 'Suite 12'],
        city: 'New York',
        region: 'NY',
        postalCode: '10110',
        country: 'US',
      },
    });
    batchId = await dispatchUntilFiled(ann.touchId);
    expect(await dispatchUntilFiled(bob.touchId)).toBe(batchId);

    const row = await touchRow(ann.touchId);
    expect(row.status).toBe('queued');
    expect(row.statusReason).toBe('in print batch 2026-11-10 #1');
    const content = row.content as {
      subject: string;
      date: string;
      recipient: { name: string; lines: string[] };
      sender: { name: string };
      paper: string;
      footer: string;
    };
    expect(content.subject).toBe('Thank you, Ann');
    expect(content.date).toBe('11 November 2026'); // already Wednesday in Sydney
    expect(content.recipient).toMatchObject({
      name: 'Ann Lee',
      lines: ['1 Main St'],
      city: 'Sydney',
      postalCode: '2000',
      country: 'AU',
    });
    expect(content.sender.name).toBe('Sam Shaw');
    expect(content.paper).toBe('A4');
    expect(content.footer).toMatch(/rapport\.test\/l\/[A-Z2-9]{10} /); // a short link to type in from paper
    expect(content.footer).not.toContain('/u/'); // no unsubscribe link on paper
    // The US customer's date is month-first, in New York's date (still 10 November there).
    expect(((await touchRow(bob.touchId)).content as { date: string }).date).toBe('November 10, 2026');
  });

  it('is listed with its batch, and the batch shows its letters', async () => {
    const list = await get('/v1/letters/batches');
    expect(list.statusCode).toBe(200);
    expect(list.json().batches).toEqual([
      expect.objectContaining({
        id: batchId,
        businessDate: '2026-11-10',
        seq: 1,
        status: 'open',
        paper: 'A4',
        letterCount: 2,
        mailedAt: null,
      }),
    ]);
    const one = await get(`/v1/letters/batches/${batchId}`);
    expect(one.statusCode).toBe(200);
    // Print order is by customer name: Brown before Lee.
    expect(one.json().letters).toEqual([
      {
        touchId: bob.touchId,
        customerId: bob.customerId,
        customerName: 'Bob Brown',
        step: 1,
        status: 'queued',
        subject: 'Thank you, Bob',
      },
      {
        touchId: ann.touchId,
        customerId: ann.customerId,
        customerName: 'Ann Lee',
        step: 1,
        status: 'queued',
        subject: 'Thank you, Ann',
      },
    ]);
    expect((await get(`/v1/letters/batches?status=mailed`)).json().batches).toEqual([]);
  });

  it('gives one merged A4 PDF with exactly one page per letter', async () => {
    const pages = await pdfPages(batchId);
    expect(pages).toHaveLength(2);
    for (const size of pages) expect(size).toEqual({ width: 595.28, height: 841.89 });
  });

  it('gives a CSV of the addresses in print order', async () => {
    const res = await get(`/v1/letters/batches/${batchId}/addresses.csv`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const lines = res.body.trimEnd().split('\r\n');
    expect(lines[0]).toBe('touchId,name,address1,address2,city,region,postalCode,country');
    expect(lines.slice(1)).toEqual([
      `${bob.touchId},Bob Brown,500 Fifth Avenue,Suite 12,New York,NY,10110,US`,
      `${ann.touchId},Ann Lee,1 Main St,,Sydney,NSW,2000,AU`,
    ]);
  });

  it('closes to new letters once downloaded: a letter due after that goes into the next batch', async () => {
    expect((await get(`/v1/letters/batches/${batchId}`)).json().batch).toMatchObject({
      status: 'printing',
      closedAt: t.clock.now().toISOString(),
      letterCount: 2,
    });
    dora = await letterSale({ firstName: 'Dora', lastName: 'Dunn' });
    const next = await dispatchUntilFiled(dora.touchId);
    expect(next).not.toBe(batchId);
    expect((await touchRow(dora.touchId)).statusReason).toBe('in print batch 2026-11-10 #2');
    expect(await pdfPages(batchId)).toHaveLength(2); // what went to the printer is unchanged
  });

  it('leaves an empty batch open when its PDF is asked for: there is nothing to print', async () => {
    const empty = await t.database.db
      .insertInto('letterBatches')
      .values({ businessDate: '2026-11-09', paper: 'A4', createdAt: t.clock.now() })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect((await get(`/v1/letters/batches/${empty.id}/pdf`)).statusCode).toBe(409);
    expect((await get(`/v1/letters/batches/${empty.id}`)).json().batch).toMatchObject({
      status: 'open',
      closedAt: null,
      letterCount: 0,
    });
  });

  it('refuses strangers, bad ids and unknown batches', async () => {
    expect((await get('/v1/letters/batches', t.posKey)).statusCode).toBe(403);
    expect((await get('/v1/letters/batches/not-a-uuid')).json().error.details.field).toBe('id');
    expect((await get('/v1/letters/batches/00000000-0000-4000-8000-000000000000/pdf')).statusCode).toBe(404);
    expect((await get('/v1/letters/batches?date=yesterday')).statusCode).toBe(400);
  });

  it('is sent, with history, when its batch is marked mailed; marking again changes nothing', async () => {
    t.clock.advance(10 * 60_000);
    const mailedAt = t.clock.now();
    const res = await markMailed(batchId);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: batchId,
      status: 'mailed',
      letterCount: 2,
      mailedAt: mailedAt.toISOString(),
    });

    for (const { touchId } of [ann, bob]) expect((await touchRow(touchId)).status).toBe('sent');
    expect((await touchRow(dora.touchId)).status).toBe('queued'); // filed after the download: not printed, not sent
    const events = (await listEventsOfCustomer(t.database.db, ann.customerId)).filter((e) => e.touchId === ann.touchId);
    expect(events.map((e) => e.status)).toEqual(['scheduled', 'queued', 'queued', 'queued', 'sent']);
    expect(events.at(-1)).toMatchObject({
      reason: 'mailed with print batch 2026-11-10 #1',
      actor: expect.stringMatching(/^key:/),
      at: mailedAt,
    });
    const profile = await get(`/v1/customers/${ann.customerId}`);
    expect(profile.json().touches.find((x: { id: string }) => x.id === ann.touchId).status).toBe('sent');

    t.clock.advance(60_000);
    const again = await markMailed(batchId);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(res.json());
    expect(
      (await listEventsOfCustomer(t.database.db, ann.customerId)).filter((e) => e.touchId === ann.touchId),
    ).toHaveLength(events.length);
  });

  it('goes into the open next batch of the day once the first was mailed', async () => {
    const carl = await letterSale({ firstName: 'Carl', lastName: 'Cole' });
    const second = await dispatchUntilFiled(carl.touchId);
    expect(second).not.toBe(batchId);
    const list = (await get('/v1/letters/batches?date=2026-11-10')).json().batches;
    expect(
      list.map((b: { seq: number; status: string; letterCount: number }) => [b.seq, b.status, b.letterCount]),
    ).toEqual([
      [2, 'open', 2],
      [1, 'mailed', 2],
    ]);
    expect(await pdfPages(second)).toHaveLength(2);
    expect((await touchRow(carl.touchId)).statusReason).toBe('in print batch 2026-11-10 #2');
  });
});

describe('a letter whose customer changed after planning', () => {
  it('goes by email when the postal address is gone but an email address is known', async () => {
    const { customerId, touchId } = await letterSale();
    await updateCustomer(t.database.db, customerId, { address: null });
    await worker.runMaintenance('dispatch');
    // Recorded as an email, then taken by the email worker: its lease counts a second attempt.
    const row = await waitFor(async () => {
      const r = await touchRow(touchId);
      return r.channel === 'email' && r.attempts >= 2 ? r : null;
    }, 'the touch handed to the email worker');
    expect(row.letterBatchId).toBeNull();
    const events = (await listEventsOfCustomer(t.database.db, customerId)).filter((e) => e.touchId === touchId);
    expect(events).toContainEqual(
      expect.objectContaining({ status: 'queued', reason: 'no postal address: sent by email' }),
    );
    expect(await worker.queues.letter.getJob(touchJobId(touchId))).toBeUndefined();
  });

  it('is skipped with no_address and the customer flagged for clean-up when neither address is known', async () => {
    const { customerId, touchId } = await letterSale();
    await updateCustomer(t.database.db, customerId, { address: null, email: null });
    await worker.runMaintenance('dispatch');
    await waitFor(async () => (await touchRow(touchId)).status === 'skipped', 'the touch skipped');
    expect((await touchRow(touchId)).statusReason).toBe('no_address');
    const customer = await t.database.db
      .selectFrom('customers')
      .select('needsCleanup')
      .where('id', '=', customerId)
      .executeTakeFirstOrThrow();
    expect(customer.needsCleanup).toBe(true);
  });

  it('is cancelled when the customer asked not to be contacted', async () => {
    const { customerId, touchId } = await letterSale();
    await updateCustomer(t.database.db, customerId, { doNotContact: true });
    await worker.runMaintenance('dispatch');
    await waitFor(async () => (await touchRow(touchId)).status === 'cancelled', 'the touch cancelled');
    expect((await touchRow(touchId)).statusReason).toBe('do_not_contact');
  });
});

describe('the paper size', () => {
  it('follows the configuration of the worker', async () => {
    await worker.close();
    worker = await startTestWorker({
      database: t.database,
      clock: t.clock,
      smtpUrl: null,
      paper: 'Letter',
      outboxDir: `/tmp/rapport-letters-outbox-${process.pid}`,
    });
    t.clock.set(new Date('2026-11-11T03:00:00Z'));
    const { touchId } = await letterSale();
    const batchId = await dispatchUntilFiled(touchId);
    const batch = (await get(`/v1/letters/batches/${batchId}`)).json().batch;
    expect(batch).toMatchObject({ businessDate: '2026-11-11', seq: 1, paper: 'Letter', letterCount: 1 });
    expect(await pdfPages(batchId)).toEqual([{ width: 612, height: 792 }]);
  });
});

describe('many letters due at once', () => {
  it('all join one batch of the day, whichever worker opens it', async () => {
    t.clock.set(new Date('2026-11-12T03:00:00Z'));
    const sales: Array<{ customerId: string; touchId: string }> = [];
    for (let i = 0; i < 12; i++) sales.push(await letterSale({ lastName: `Many${String(i).padStart(2, '0')}` }));
    await worker.runMaintenance('dispatch');
    // Eight jobs run at once: several find no open batch for the new day and race to open one.
    const rows = await waitFor(async () => {
      const all = await Promise.all(sales.map((x) => touchRow(x.touchId)));
      return all.every((r) => r.letterBatchId) ? all : null;
    }, 'every letter in a print batch');
    expect(new Set(rows.map((r) => r.letterBatchId)).size).toBe(1);
    const batches = (await get('/v1/letters/batches?date=2026-11-12')).json().batches;
    expect(batches).toEqual([
      expect.objectContaining({ businessDate: '2026-11-12', seq: 1, status: 'open', letterCount: 12 }),
    ]);
    expect(await pdfPages(batches[0].id)).toHaveLength(12);
  });
});

describe('filing letters at the same instant', () => {
  it('opens one batch for the day: the losers of the race join it', async () => {
    t.clock.set(new Date('2026-11-13T03:00:00Z'));
    const sales: Array<{ customerId: string; touchId: string }> = [];
    for (let i = 0; i < 5; i++) sales.push(await letterSale({ lastName: `Race${i}` }));
    const ids = sales.map((x) => x.touchId);
    // As the worker leaves them once rendered and recorded: queued, not yet in a batch.
    await t.database.db.updateTable('touches').set({ status: 'queued' }).where('id', 'in', ids).execute();
    const filed = await Promise.all(
      ids.map(async (id) => (await fileLetters(t.ctx, [{ touchId: id, paper: 'A4' }]))[0]),
    );
    expect(filed.map((f) => f?.seq)).toEqual([1, 1, 1, 1, 1]);
    expect(new Set(filed.map((f) => f?.id)).size).toBe(1);
    expect((await get('/v1/letters/batches?date=2026-11-13')).json().batches).toEqual([
      expect.objectContaining({ seq: 1, letterCount: 5 }),
    ]);
    // Filing again is a no-op: a touch is filed once.
    expect(await fileLetters(t.ctx, [{ touchId: ids[0], paper: 'A4' }])).toEqual([null]);
  });
});

describe('saving a segment whose letter would not fit one page', () => {
  const paragraph =
    'We wanted to tell you about everything that makes your {{ sale.mainItem }} special, at some length.';
  function plan(body: string) {
    return [
      {
        step: 1,
        offset: { days: 2 },
        channel: 'mail',
        sender: 'salesperson',
        purpose: 'thanks',
        template: {
          subject: 'Thank you, {{ customer.firstName }}',
          body: 'Dear {{ customer.firstName }},\n\nThank you.',
        },
      },
      {
        step: 2,
        offset: { days: 9 },
        channel: 'mail',
        sender: 'salesperson',
        purpose: 'tips',
        template: { subject: 'Tips', body },
      },
    ];
  }
  const tooLong = Array.from({ length: 40 }, () => paragraph).join('\n\n');

  it('is a 400 naming the template on POST and on PUT, and a letter that fits is saved', async () => {
    const bad = await t.app.inject({
      method: 'POST',
      url: '/v1/segments',
      headers: t.auth(t.adminKey),
      payload: { name: 'Long letters', plan: plan(tooLong) },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.field).toBe('plan.1.template');
    expect(bad.json().error.message).toMatch(/^plan\.1\.template: as a letter: the letter does not fit on one page/);

    const good = await t.app.inject({
      method: 'POST',
      url: '/v1/segments',
      headers: t.auth(t.adminKey),
      payload: { name: 'Long letters', plan: plan(paragraph) },
    });
    expect(good.statusCode).toBe(201);
    const put = await t.app.inject({
      method: 'PUT',
      url: `/v1/segments/${good.json().id}`,
      headers: t.auth(t.adminKey),
      payload: { name: 'Long letters', plan: plan(tooLong) },
    });
    expect(put.statusCode).toBe(400);
    expect(put.json().error.details.field).toBe('plan.1.template');
    const stored = (await get('/v1/segments')).json().segments.find((s: { id: string }) => s.id === good.json().id);
    expect(stored.plan[1].template.body).toBe(paragraph);
  });
});
