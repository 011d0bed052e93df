/**
 * The manager's newsletter pages over app.inject(): the composer and its field errors (400, the field named, nothing
 * written), a draft's recipient count (after opt-outs and the three-a-year cap, equal to what the fan-out then adds),
 * the preview as a chosen customer in its own sandboxed document, "send a test to me" (arrives, no touch), schedule,
 * cancel, and the list with its counts. A salesperson sees none of it.
 */
import { sql } from 'kysely';
import { createTestApp, type TestApp } from '../../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';
import { consoleClient, type ConsoleClient } from '../../helpers/console-client';
import { createStaff } from '../../../src/services/staff.service';
import { createSegment } from '../../../src/services/segment.service';
import { fanOutNewsletter, getNewsletter } from '../../../src/services/newsletter.service';

let t: TestApp;
let smtp: TestSmtpServer;
let manager: ConsoleClient;
let garden: string;
let other: string;
const NOW = new Date('2026-11-02T10:00:00Z');
const DAY = 86_400_000;

/** addCustomers inserts `n` later-years customers of a segment, with `patch` columns; returns their ids. */
async function addCustomers(segmentId: string, tag: string, n: number, patch: Record<string, unknown> = {}) {
  const { rows } = await sql<{ id: string }>`
    insert into customers (source, external_id, first_name, last_name, email, referral_code, segment_id, program)
    select 'test', ${tag} || '-' || g, initcap(${tag}) || g, 'Lee', ${tag} || g || '@example.com',
           upper(${tag}) || '-' || g, ${segmentId}::uuid, 'later_years'
    from generate_series(1, ${n}::int) g
    returning id`.execute(t.database.db);
  const ids = rows.map((r) => r.id);
  if (Object.keys(patch).length)
    await t.database.db.updateTable('customers').set(patch).where('id', 'in', ids).execute();
  return ids;
}

async function newsletterRows() {
  return t.database.db.selectFrom('newsletters').select(['id', 'status', 'subject']).execute();
}

function locationId(location: unknown): string {
  const m = /\/console\/manager\/newsletters\/([0-9a-f-]{36})/.exec(String(location));
  if (!m) throw new Error(`no newsletter in ${String(location)}`);
  return m[1]!;
}

const FORM = {
  subject: 'Winter care for {{ customer.firstName }}',
  body: 'Hello {{ customer.firstName }},\n\nOur **winter** tips: [read them](https://shop.example/winter).\n\n- prune\n- mulch\n\n<script>alert(1)</script>',
  when: 'at',
  date: '2026-11-20',
  time: '09:00',
};

let capped: string[];
let ok: string[];

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp('web_newsletters', NOW, undefined, { smtpUrl: smtp.url });
  await createStaff(
    t.ctx,
    { email: 'max@shop.example', name: 'Max Manager', role: 'manager', timezone: 'UTC' },
    'test',
  );
  garden = (await createSegment(t.ctx, { name: 'garden', priority: 10, match: { categories: ['garden'] } }, 'test')).id;
  other = (await createSegment(t.ctx, { name: 'kitchen', priority: 11, match: { categories: ['kitchen'] } }, 'test'))
    .id;
  // Garden: 6 who may get newsletters (2 of them already had 3 this year), and 5 who may not.
  ok = await addCustomers(garden, 'ok', 4);
  capped = await addCustomers(garden, 'full', 2);
  await addCustomers(garden, 'nlout', 1, { newsletterOptOut: true });
  await addCustomers(garden, 'mailout', 1, { emailOptOut: true });
  await addCustomers(garden, 'bounced', 1, { emailStatus: 'bounced' });
  await addCustomers(garden, 'paused', 1, { paused: true });
  await addCustomers(garden, 'firstyr', 1, { program: 'first_year' });
  await addCustomers(other, 'kitchen', 3);
  // Newsletters they already had this year (from editions since removed).
  for (const monthsAgo of [2, 5, 9]) {
    const dueAt = new Date(NOW.getTime() - monthsAgo * 30 * DAY);
    await sql`insert into touches (customer_id, step, channel, due_at, status)
              select c, 0, 'newsletter', ${dueAt}, 'sent' from unnest(${capped}::uuid[]) c`.execute(t.database.db);
  }
  manager = consoleClient(t.app);
  await manager.signIn('max@shop.example', smtp);
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

describe('the composer', () => {
  it('has a label on every field and the Markdown help line', async () => {
    const page = await manager.get('/console/manager/newsletters/new');
    expect(page.statusCode).toBe(200);
    for (const id of ['subject', 'body', 'audience', 'date', 'time', 'when-at', 'when-local', 'when-now'])
      expect(page.body).toContain(`for="${id}"`);
    expect(page.body).toContain('<code>**bold**</code>');
    expect(page.body).toContain(`<option value="${garden}">Only the segment “garden”</option>`);
    // The date is tomorrow in the manager's zone.
    expect(page.body).toContain('value="2026-11-03"');
  });

  it.each([
    [{ subject: '' }, 'subject', 'Subject: Write a subject.'],
    [{ body: '   ' }, 'body', 'Message: Write the message.'],
    [{ body: 'Hi {{ customer.shoeSize }}' }, 'body', 'Message: This does not work as a template'],
    [{ date: '2026-02-30' }, 'date', 'Date: Give the date as a day, month and year'],
    [{ time: '25:00' }, 'time', 'Time: Give the time as hours and minutes'],
    [{ date: '2026-11-01' }, 'date', 'Date: Choose a date and time still to come.'],
    [{ when: 'local', date: '2026-10-30' }, 'date', 'Date: Choose a date and time still to come.'],
    [{ audience: '00000000-0000-4000-8000-000000000000' }, 'audience', 'Who gets it: That segment no longer exists'],
    [{ when: 'later' }, 'when', 'When it goes: Choose when it goes.'],
  ])('answers %j with 400 naming the field, and writes nothing', async (patch, field, message) => {
    const res = await manager.post('/console/manager/newsletters/new', { ...FORM, audience: garden, ...patch });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('There is a problem');
    expect(res.body).toContain(`<a href="#${field}">${message}`);
    // Beside the field too (the radio group shows its message without an id).
    if (field !== 'when') expect(res.body).toContain(`id="${field}-error"`);
    // What was typed is kept.
    if (!('subject' in patch)) expect(res.body).toContain('value="Winter care for {{ customer.firstName }}"');
    expect(await newsletterRows()).toEqual([]);
  });
});

describe('a newsletter to one segment', () => {
  let id: string;

  it('is saved as a draft that shows who it would reach after opt-outs and the yearly cap', async () => {
    const res = await manager.post('/console/manager/newsletters/new', { ...FORM, audience: garden });
    expect(res.statusCode).toBe(303);
    id = locationId(res.headers.location);
    expect(res.headers.location).toBe(`/console/manager/newsletters/${id}?done=saved`);
    expect(await newsletterRows()).toEqual([expect.objectContaining({ id, status: 'draft' })]);
    const page = await manager.get(res.headers.location as string);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Saved as a draft');
    expect(page.body).toContain('If it went out now, <strong>4 customers</strong> would get it.');
    expect(page.body).toContain('Of the 6 who may get newsletters, 2 are held back');
    expect(page.body).toContain('The segment “garden”');
    expect(page.body).toContain('Fri 20 Nov 2026, 09:00');
    // Preview candidates are the segment's recipients only.
    expect(page.body).toContain(`<option value="${ok[0]}">Ok1 Lee (ok1@example.com)</option>`);
    expect(page.body).not.toContain('kitchen1@example.com');
    expect(page.body).not.toContain('nlout1@example.com');
  });

  it('is changed as a draft; a bad change is refused and leaves it as it was', async () => {
    const bad = await manager.post(`/console/manager/newsletters/${id}/edit`, {
      ...FORM,
      audience: garden,
      subject: '',
    });
    expect(bad.statusCode).toBe(400);
    expect((await getNewsletter(t.ctx, id)).subject).toBe(FORM.subject);
    const edit = await manager.get(`/console/manager/newsletters/${id}/edit`);
    expect(edit.body).toContain(`<option value="${garden}" selected>`);
    const good = await manager.post(`/console/manager/newsletters/${id}/edit`, {
      ...FORM,
      audience: garden,
      when: 'now',
    });
    expect(good.statusCode).toBe(303);
    expect((await getNewsletter(t.ctx, id)).sendAt).toEqual(NOW);
    const page = await manager.get(`/console/manager/newsletters/${id}`);
    expect(page.body).toContain('As soon as you schedule it');
    expect(page.body).toContain('Send it now');
  });

  it('previews as a chosen customer with the real signature, in a sandboxed document, Markdown rendered and raw HTML not', async () => {
    const page = await manager.get(`/console/manager/newsletters/${id}?customer=${ok[1]}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<strong>Subject:</strong> Winter care for Ok2');
    expect(page.body).toContain(`src="/console/manager/newsletters/${id}/preview?customer=${ok[1]}" sandbox`);
    expect(page.body).toContain('title="The email as Ok2 Lee would get it"');
    const frame = await manager.get(`/console/manager/newsletters/${id}/preview?customer=${ok[1]}`);
    expect(frame.statusCode).toBe(200);
    expect(frame.headers['content-type']).toMatch(/^text\/html/);
    expect(frame.headers['content-security-policy']).toContain("default-src 'none'");
    expect(frame.headers['content-security-policy']).toContain('sandbox');
    expect(frame.body).toContain('Hello Ok2,');
    expect(frame.body).toContain('<strong>winter</strong>');
    expect(frame.body).toContain('<a href="https://shop.example/winter"');
    expect(frame.body).toContain('<li>prune</li>');
    expect(frame.body).not.toContain('<script>');
    expect(frame.body).toContain('Test Shop');
    // The sample customer by default; a customer who does not exist is the not-found page.
    expect((await manager.get(`/console/manager/newsletters/${id}/preview`)).body).toContain('Hello Ann,');
    const missing = await manager.get(
      `/console/manager/newsletters/${id}?customer=00000000-0000-4000-8000-000000000000`,
    );
    expect(missing.statusCode).toBe(404);
  });

  it('sends a test to the signed-in manager, recording nothing for any customer', async () => {
    const before = smtp.messages.length;
    const res = await manager.post(`/console/manager/newsletters/${id}/test`, { customer: ok[0]! });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/console/manager/newsletters/${id}?customer=${ok[0]}&done=tested`);
    const [msg] = await smtp.waitForMessages(before + 1).then((m) => m.slice(before));
    expect(msg!.envelope.to).toEqual(['max@shop.example']);
    expect(msg!.subject).toBe('[Test] Winter care for Ok1');
    expect(msg!.html).toContain('<strong>winter</strong>');
    const touches = await t.database.db.selectFrom('touches').select('id').where('newsletterId', '=', id).execute();
    expect(touches).toEqual([]);
    expect((await manager.get(res.headers.location as string)).body).toContain('A test was emailed to you');
  });

  it('is scheduled, and the fan-out reaches exactly the count the page showed', async () => {
    const res = await manager.post(`/console/manager/newsletters/${id}/schedule`, { sendNow: 'yes' });
    expect(res.statusCode).toBe(303);
    expect((await getNewsletter(t.ctx, id)).status).toBe('scheduled');
    // Scheduled: it can no longer be changed, nor scheduled twice.
    expect((await manager.get(`/console/manager/newsletters/${id}/edit`)).statusCode).toBe(303);
    expect((await manager.post(`/console/manager/newsletters/${id}/schedule`, {})).statusCode).toBe(409);
    const page = await manager.get(`/console/manager/newsletters/${id}`);
    expect(page.body).toContain('<strong>4 customers</strong>');
    const r = await fanOutNewsletter(t.ctx, id);
    expect(r).toMatchObject({ added: 4, capped: 2 });
    const rows = await t.database.db
      .selectFrom('touches')
      .select('customerId')
      .where('newsletterId', '=', id)
      .execute();
    expect(new Set(rows.map((x) => x.customerId))).toEqual(new Set(ok));
    const list = await manager.get('/console/manager/newsletters');
    expect(list.body).toMatch(/Winter care for \{\{ customer.firstName \}\}<\/a><\/th>\s*<td>garden<\/td>/);
    expect(list.body).toMatch(/sending<\/span><\/td>\s*<td>4<\/td>\s*<td>0<\/td>\s*<td>2<\/td>/);
  });
});

describe('cancelling', () => {
  it('asks first, then cancels a scheduled newsletter; it stays in the list as cancelled', async () => {
    const res = await manager.post('/console/manager/newsletters/new', { ...FORM, subject: 'Spring', audience: other });
    const id = locationId(res.headers.location);
    await manager.get(`/console/manager/newsletters/${id}`);
    expect((await manager.post(`/console/manager/newsletters/${id}/schedule`, {})).statusCode).toBe(303);
    const confirm = await manager.get(`/console/manager/newsletters/${id}/cancel`);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('Cancel “Spring”?');
    expect((await getNewsletter(t.ctx, id)).status).toBe('scheduled');
    const done = await manager.post(`/console/manager/newsletters/${id}/cancel`);
    expect(done.statusCode).toBe(303);
    expect((await getNewsletter(t.ctx, id)).status).toBe('cancelled');
    expect((await manager.post(`/console/manager/newsletters/${id}/cancel`)).statusCode).toBe(409);
    const list = await manager.get('/console/manager/newsletters');
    expect(list.body).toMatch(/Spring<\/a><\/th>\s*<td>kitchen<\/td>[\s\S]*?cancelled<\/span>/);
  });
});

test('a salesperson gets the not-found page', async () => {
  await createStaff(t.ctx, { email: 'sal@shop.example', name: 'Sal Seller', role: 'salesperson' }, 'test');
  const sal = consoleClient(t.app);
  await sal.signIn('sal@shop.example', smtp);
  expect((await sal.get('/console/manager/newsletters')).statusCode).toBe(404);
  expect((await sal.get('/console/manager/newsletters/new')).statusCode).toBe(404);
  expect((await sal.post('/console/manager/newsletters/new', { ...FORM })).statusCode).toBe(404);
  expect(await newsletterRows()).toHaveLength(2);
});
