/**
 * The manager's imports page over app.inject(): a CSV uploaded as multipart/form-data (the way the browser's form
 * sends it) is stored and queued, its page shows progress (polling while it runs, 100% when done), the counts and the
 * rejected rows with line, field and reason, and the rejected rows download as CSV. Bad forms are answered 400 with
 * the field named and nothing stored; the upload quota and CSRF apply; a salesperson sees none of it.
 */
import { createTestApp, type TestApp } from '../../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';
import { signedIn, type ConsoleClient } from '../../helpers/console-client';
import { createStaff } from '../../../src/services/staff.service';
import { processImport } from '../../../src/services/import.service';

let t: TestApp;
let smtp: TestSmtpServer;
let manager: ConsoleClient;
let sam: ConsoleClient;
const enqueued: string[] = [];
const NOW = new Date('2026-11-02T10:00:00Z');
const BOUNDARY = '----RapportTestBoundary7MA4YWxk';

const HEADER = 'external_id,sold_at,total,currency,first_name,last_name,email,timezone,item_name,unit_price';
const CSV = [
  HEADER,
  'S-1,2026-10-01T10:00:00Z,120.00,AUD,Ann,Lee,ann@example.com,UTC,vase,120.00',
  'S-2,2026-10-02T10:00:00Z,80.00,AUD,Ben,Ng,ben@example.com,UTC,lamp,80.00',
  'S-3,31/02/2026,50.00,AUD,Cy,Ray,cy@example.com,UTC,mug,50.00',
  'S-4,2026-10-03T10:00:00Z,40.00,AUD,Di,Fox,not-an-email,UTC,bowl,40.00',
  'S-5,2026-10-04T10:00:00Z,=1+1,AUD,Ed,Hay,ed@example.com,UTC,cup,10.00',
  'S-6,2026-10-05T10:00:00Z,30.00,AUD,Flo,Kim,flo@example.com,UTC,plate,30.00',
].join('\n');

/** multipart builds the body a browser sends for the upload form: the text fields, then the file. */
function multipart(fields: Record<string, string>, file?: { name: string; type: string; content: string }): string {
  let out = '';
  for (const [k, v] of Object.entries(fields))
    out += `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`;
  if (file)
    out +=
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\n` +
      `Content-Type: ${file.type}\r\n\r\n${file.content}\r\n`;
  return `${out}--${BOUNDARY}--\r\n`;
}

async function upload(c: ConsoleClient, fields: Record<string, string>, file?: Parameters<typeof multipart>[1]) {
  await c.get('/console/manager/imports');
  return t.app.inject({
    method: 'POST',
    url: '/console/manager/imports',
    payload: multipart({ _csrf: c.csrf ?? '', ...fields }, file),
    headers: {
      'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
      cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    },
  });
}

async function importCount(): Promise<number> {
  const row = await t.database.db
    .selectFrom('imports')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp('web_imports', NOW, undefined, {
    smtpUrl: smtp.url,
    enqueueImport: async (id) => void enqueued.push(id),
    settings: { importQuotaBytes: 4000 },
  });
  await createStaff(t.ctx, { email: 'max@shop.example', name: 'Max Manager', role: 'manager' }, 'test');
  await createStaff(t.ctx, { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson' }, 'test');
  [manager, sam] = await signedIn(t.app, smtp, 'max@shop.example', 'sam@shop.example');
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

test('the imports page has the upload form, file last, with a label on every field', async () => {
  const page = await manager.get('/console/manager/imports');
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('enctype="multipart/form-data"');
  expect(page.body).toContain('No imports yet.');
  for (const id of ['format', 'dateFormat', 'source', 'currency', 'file'])
    expect(page.body).toContain(`<label for="${id}"`);
  expect(page.body.indexOf('name="_csrf"')).toBeLessThan(page.body.indexOf('type="file"'));
});

test('an uploaded CSV is queued, shows its progress while it waits, then its counts and rejected rows', async () => {
  const res = await upload(
    manager,
    { format: 'auto', dateFormat: 'dmy', source: 'old-till', currency: '' },
    {
      name: 'may sales.csv',
      type: 'text/csv',
      content: CSV,
    },
  );
  expect(res.statusCode).toBe(303);
  const id = /\/console\/manager\/imports\/([0-9a-f-]{36})$/.exec(res.headers.location as string)![1]!;
  expect(enqueued).toEqual([id]);

  const waiting = await manager.get(`/console/manager/imports/${id}`);
  expect(waiting.statusCode).toBe(200);
  expect(waiting.body).toContain('Import of may sales.csv');
  expect(waiting.body).toContain('by Max Manager');
  expect(waiting.body).toContain('7 lines');
  expect(waiting.body).toContain(`hx-get="/console/manager/imports/${id}/progress" hx-trigger="every 1s"`);
  expect(waiting.body).toContain('<progress id="import-bar" max="100" value="0">');
  expect(waiting.body).toContain('waiting to start');
  const fragment = await manager.get(`/console/manager/imports/${id}/progress`, { 'hx-request': 'true' });
  expect(fragment.statusCode).toBe(200);
  expect(fragment.body.trim().startsWith('<section id="import-progress"')).toBe(true);
  expect(fragment.body).not.toContain('<html');

  const report = await processImport(t.ctx, id);
  expect(report).toMatchObject({ status: 'completed', imported: 3, rejected: 3 });

  const done = await manager.get(`/console/manager/imports/${id}/progress`, { 'hx-request': 'true' });
  expect(done.body).toContain('<progress id="import-bar" max="100" value="100">');
  expect(done.body).not.toContain('hx-trigger'); // polling stops
  expect(done.body).toContain('<div><dt>Sales imported</dt><dd>3</dd></div>');
  expect(done.body).toContain('<div><dt>Rejected</dt><dd>3</dd></div>');
  for (const r of report.rejections)
    expect(done.body).toContain(`<tr><th scope="row">${r.line}</th><td>${r.field}</td>`);
  expect(report.rejections.map((r) => [r.line, r.field])).toEqual([
    [4, 'sold_at'],
    [5, 'email'],
    [6, 'total'],
  ]);
  expect(done.body).toContain(`href="/console/manager/imports/${id}/rejected.csv"`);

  const csv = await manager.get(`/console/manager/imports/${id}/rejected.csv`);
  expect(csv.statusCode).toBe(200);
  expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
  expect(csv.headers['content-disposition']).toBe('attachment; filename="rejected-rows-may-sales.csv"');
  const rows = csv.body.trim().split('\r\n');
  expect(rows[0]).toBe('line,field,reason,external_id');
  expect(rows).toHaveLength(4);
  expect(rows[1]).toMatch(/^4,sold_at,.*,S-3$/);
  // A reason quoting the file's text never starts a formula in a spreadsheet.
  expect(rows.slice(1).every((r) => !/(^|,)[=+@]/.test(r))).toBe(true);

  const list = await manager.get('/console/manager/imports');
  expect(list.body).toContain(`<a href="/console/manager/imports/${id}">may sales.csv</a>`);
  expect(list.body).toMatch(/<td>Max Manager<\/td>\s*<td>done\s*<\/td>\s*<td>3<\/td><td>0<\/td><td>3<\/td>/);
  expect(list.body).toContain('Mon 2 Nov 2026, 10:00');
});

test('a bad form is answered 400 naming the field, and nothing is stored', async () => {
  const before = await importCount();
  const noFile = await upload(manager, { format: 'auto' });
  expect(noFile.statusCode).toBe(400);
  expect(noFile.body).toContain('<a href="#file">Choose a CSV or NDJSON file to upload.</a>');
  const unknownType = await upload(
    manager,
    { format: 'auto' },
    { name: 'sales.xlsx', type: 'application/octet-stream', content: 'x' },
  );
  expect(unknownType.statusCode).toBe(400);
  expect(unknownType.body).toContain('id="format-error"');
  const badCurrency = await upload(
    manager,
    { format: 'csv', currency: 'dollars' },
    { name: 'a.csv', type: 'text/csv', content: CSV },
  );
  expect(badCurrency.statusCode).toBe(400);
  expect(badCurrency.body).toContain(
    '<p class="field-error" id="currency-error">Use a three-letter currency code such as AUD.</p>',
  );
  expect(badCurrency.body).toContain('value="dollars"');
  const empty = await upload(manager, { format: 'csv' }, { name: 'empty.csv', type: 'text/csv', content: '' });
  expect(empty.statusCode).toBe(400);
  expect(empty.body).toContain('The file is empty.');
  const urlencoded = await manager.post('/console/manager/imports', { format: 'csv' });
  expect(urlencoded.statusCode).toBe(400);
  expect(await importCount()).toBe(before);
});

test('an upload without its CSRF token is refused (403) and stores nothing', async () => {
  const before = await importCount();
  await manager.get('/console/manager/imports');
  const res = await t.app.inject({
    method: 'POST',
    url: '/console/manager/imports',
    payload: multipart({ format: 'csv' }, { name: 'a.csv', type: 'text/csv', content: CSV }),
    headers: {
      'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
      cookie: [...manager.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    },
  });
  expect(res.statusCode).toBe(403);
  expect(await importCount()).toBe(before);
});

test("the uploader's 24-hour quota applies as in the API: over it, the page says so (429)", async () => {
  // The quota is 4,000 bytes: the first upload used about 450; this one goes over.
  const big = [
    HEADER,
    ...Array.from({ length: 60 }, (_, i) => `Q-${i},2026-10-01T10:00:00Z,1.00,AUD,Q,Q,q${i}@example.com,UTC,pin,1.00`),
  ].join('\n');
  const res = await upload(manager, { format: 'csv' }, { name: 'big.csv', type: 'text/csv', content: big });
  expect(res.statusCode).toBe(429);
  expect(res.body).toContain('You have uploaded as much as allowed in the last 24 hours.');
});

test('an unknown import is the not-found page; a malformed id is a 400; a salesperson sees none of it', async () => {
  expect((await manager.get('/console/manager/imports/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
  expect((await manager.get('/console/manager/imports/nope')).statusCode).toBe(400);
  expect((await sam.get('/console/manager/imports')).statusCode).toBe(404);
  const res = await upload(sam, { format: 'csv' }, { name: 'a.csv', type: 'text/csv', content: CSV });
  expect(res.statusCode).toBe(404);
});
