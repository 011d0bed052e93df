/**
 * The manager's print room over app.inject(), with letters rendered and filed by the real workers: today's batch and
 * earlier ones with their counts and status, the merged PDF (one page per letter) and the address CSV downloaded
 * from the console, and "mark mailed" (asked first) marking the batch's letters sent. A salesperson sees none of it.
 */
import { PDFDocument } from 'pdf-lib';
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';
import { consoleClient, type ConsoleClient } from '../../helpers/console-client';
import { startTestWorker, type TestWorker } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';
import { createStaff } from '../../../src/services/staff.service';

let t: TestApp;
let smtp: TestSmtpServer;
let worker: TestWorker;
let manager: ConsoleClient;
// Tuesday 10 November 2026, 03:00 UTC: the business day (UTC in tests) is 2026-11-10.
const NOW = new Date('2026-11-10T03:00:00Z');
const SOLD_AT = '2026-11-05T01:00:00Z';
const DAY = 86_400_000;

let saleNo = 0;
/** letterSale records a sale whose first step is a letter, moves the clock to when it is due and returns its touch. */
async function letterSale(firstName: string): Promise<string> {
  saleNo += 1;
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/sales',
    headers: t.auth(t.posKey),
    payload: saleBody(
      { externalId: `WL-${saleNo}`, soldAt: SOLD_AT },
      {
        externalId: `C-WL-${saleNo}`,
        firstName,
        email: `${firstName.toLowerCase()}@example.com`,
        phone: `+61 2 5550 ${2000 + saleNo}`,
        preferredChannel: 'letter',
      },
    ),
  });
  expect(res.statusCode).toBe(201);
  const first = (res.json() as { touches: { id: string; step: number; dueAt: string }[] }).touches.find(
    (x) => x.step === 1,
  )!;
  if (new Date(first.dueAt) > t.clock.now()) t.clock.set(new Date(first.dueAt));
  return first.id;
}

async function filed(touchIds: string[]): Promise<string> {
  await worker.runMaintenance('dispatch');
  const rows = await waitFor(async () => {
    const r = await t.database.db.selectFrom('touches').select(['letterBatchId']).where('id', 'in', touchIds).execute();
    return r.every((x) => x.letterBatchId) ? r : null;
  }, 'the letters in a print batch');
  return rows[0]!.letterBatchId!;
}

function statuses(ids: string[]) {
  return t.database.db.selectFrom('touches').select(['id', 'status']).where('id', 'in', ids).execute();
}

let today: string[];
let todayBatch: string;
let earlierBatch: string;
let earlier: string[];

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp('web_letters', new Date(NOW.getTime() - DAY), undefined, { smtpUrl: smtp.url });
  worker = await startTestWorker({
    database: t.database,
    clock: t.clock,
    smtpUrl: null,
    outboxDir: `/tmp/rapport-web-letters-outbox-${process.pid}`,
    paper: 'A4',
  });
  await createStaff(
    t.ctx,
    { email: 'max@shop.example', name: 'Max Manager', role: 'manager', timezone: 'UTC' },
    'test',
  );
  // Yesterday's batch: one letter; today's: three.
  earlier = [await letterSale('Eve')];
  earlierBatch = await filed(earlier);
  t.clock.set(NOW);
  today = [await letterSale('Ann'), await letterSale('Bob'), await letterSale('Cat')];
  todayBatch = await filed(today);
  manager = consoleClient(t.app);
  await manager.signIn('max@shop.example', smtp);
});
afterAll(async () => {
  await worker?.close();
  await t?.close();
  await smtp?.close();
});

test("the list shows today's batch and earlier ones with their letter counts and status", async () => {
  expect(todayBatch).not.toBe(earlierBatch);
  const page = await manager.get('/console/manager/letters');
  expect(page.statusCode).toBe(200);
  const [todayPart, earlierPart] = page.body.split('Earlier batches');
  expect(todayPart).toContain('Today, 2026-11-10');
  expect(todayPart).toMatch(
    new RegExp(
      `<a href="/console/manager/letters/${todayBatch}">2026-11-10 #1</a></th>\\s*<td>3</td>\\s*<td>A4</td>\\s*<td><span class="tag">open`,
    ),
  );
  expect(earlierPart).toMatch(
    new RegExp(`<a href="/console/manager/letters/${earlierBatch}">2026-11-09 #1</a></th>\\s*<td>1</td>`),
  );
  expect(earlierPart).not.toContain(todayBatch);
});

test('a batch lists its letters in print order with links to download them', async () => {
  const page = await manager.get(`/console/manager/letters/${todayBatch}`);
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('Print batch 2026-11-10 #1');
  const names = [...page.body.matchAll(/<a href="\/console\/customers\/[0-9a-f-]+">([^<]+)<\/a>/g)].map((m) => m[1]);
  expect(names).toEqual(['Ann Lee', 'Bob Lee', 'Cat Lee']);
  expect(page.body).toContain(`href="/console/manager/letters/${todayBatch}/letters.pdf" hx-boost="false" download`);
  expect(page.body).toContain(`href="/console/manager/letters/${todayBatch}/addresses.csv" hx-boost="false" download`);
});

test('the PDF has one page per letter, and downloading it closes the batch', async () => {
  const res = await manager.get(`/console/manager/letters/${todayBatch}/letters.pdf`);
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('application/pdf');
  expect(res.headers['content-disposition']).toBe('attachment; filename="letters-2026-11-10-1.pdf"');
  const doc = await PDFDocument.load(res.rawPayload);
  expect(doc.getPageCount()).toBe(3);
  const earlierPdf = await manager.get(`/console/manager/letters/${earlierBatch}/letters.pdf`);
  expect((await PDFDocument.load(earlierPdf.rawPayload)).getPageCount()).toBe(1);
  const page = await manager.get(`/console/manager/letters/${todayBatch}`);
  expect(page.body).toContain('<span class="tag">printing</span>');
});

test('the CSV holds the addresses in print order', async () => {
  const res = await manager.get(`/console/manager/letters/${todayBatch}/addresses.csv`);
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/csv/);
  const lines = res.body.trimEnd().split('\r\n');
  expect(lines[0]).toBe('touchId,name,address1,address2,city,region,postalCode,country');
  expect(lines.slice(1).map((l) => l.split(',').slice(0, 2))).toEqual(
    ['Ann Lee', 'Bob Lee', 'Cat Lee'].map((name, i) => [today[i], name]),
  );
});

test('"Mark mailed" asks first, then marks the letters sent; the other batch is untouched', async () => {
  const confirm = await manager.get(`/console/manager/letters/${todayBatch}/mailed`);
  expect(confirm.statusCode).toBe(200);
  expect(confirm.body).toContain('Yes, mark 3 letters mailed');
  expect((await statuses(today)).map((r) => r.status)).toEqual(['queued', 'queued', 'queued']);
  const res = await manager.post(`/console/manager/letters/${todayBatch}/mailed`);
  expect(res.statusCode).toBe(303);
  expect(res.headers.location).toBe(`/console/manager/letters/${todayBatch}?done=mailed`);
  expect((await statuses(today)).map((r) => r.status)).toEqual(['sent', 'sent', 'sent']);
  expect((await statuses(earlier)).map((r) => r.status)).toEqual(['queued']);
  const page = await manager.get(res.headers.location as string);
  expect(page.body).toContain('Marked mailed: its 3 letters are recorded as sent.');
  expect(page.body).toContain('<span class="tag">mailed</span>');
  expect(page.body).not.toContain('Mark mailed</a>');
  // Asking again goes back to the batch; posting again changes nothing.
  expect((await manager.get(`/console/manager/letters/${todayBatch}/mailed`)).statusCode).toBe(303);
  expect((await manager.post(`/console/manager/letters/${todayBatch}/mailed`)).statusCode).toBe(303);
  const list = await manager.get('/console/manager/letters');
  expect(list.body).toMatch(
    new RegExp(`${todayBatch}">2026-11-10 #1</a></th>\\s*<td>3</td>\\s*<td>A4</td>\\s*<td><span class="tag">mailed`),
  );
});

test('an unknown batch is the not-found page; a malformed id is a 400 naming it', async () => {
  expect((await manager.get('/console/manager/letters/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
  const bad = await manager.get('/console/manager/letters/nope');
  expect(bad.statusCode).toBe(400);
  expect(bad.body).toContain('id: must match format');
  expect((await manager.post('/console/manager/letters/00000000-0000-4000-8000-000000000000/mailed')).statusCode).toBe(
    404,
  );
});

test('a salesperson gets the not-found page and cannot mark a batch mailed', async () => {
  await createStaff(t.ctx, { email: 'sal@shop.example', name: 'Sal Seller', role: 'salesperson' }, 'test');
  const sal = consoleClient(t.app);
  await sal.signIn('sal@shop.example', smtp);
  expect((await sal.get('/console/manager/letters')).statusCode).toBe(404);
  expect((await sal.get(`/console/manager/letters/${earlierBatch}/letters.pdf`)).statusCode).toBe(404);
  expect((await sal.post(`/console/manager/letters/${earlierBatch}/mailed`)).statusCode).toBe(404);
  expect((await statuses(earlier)).map((r) => r.status)).toEqual(['queued']);
});
