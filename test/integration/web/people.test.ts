/**
 * The People pages over app.inject(): the list with each person's status, adding and editing someone (each mistake
 * named beside its field, nothing written), confirming a salesperson a sale introduced (pending until then: no
 * reminders, no sign-in), a sign-in link emailed from the page, and deactivating someone: their open tasks move to
 * their manager and their sessions end.
 */
import { createTestApp, type TestApp } from '../../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';
import { consoleClient, linkIn, type ConsoleClient } from '../../helpers/console-client';
import { waitFor } from '../../helpers/wait';
import { createStaff } from '../../../src/services/staff.service';
import { recordSale } from '../../../src/services/sale.service';
import { sendReminders } from '../../../src/services/call-reminder.service';
import { createEmailChannel, type EmailChannel } from '../../../src/channels/email.channel';
import { findStaffByEmail, type StaffMember } from '../../../src/db/repositories/staff.repository';
import { insertTask } from '../../../src/db/repositories/task.repository';
import type { SaleInput } from '../../../src/services/sale-input';

let t: TestApp;
let smtp: TestSmtpServer;
let mail: EmailChannel;
let manager: ConsoleClient;
let max: StaffMember;
let sam: StaffMember;
let customerId: string;
const NOW = new Date('2026-11-02T10:00:00Z'); // a Monday, inside everyone's working hours (UTC)

function sale(n: number, salesperson: string): SaleInput {
  return {
    externalId: `P-${n}`,
    source: 'shop-pos',
    soldAt: new Date(NOW.getTime() - 86_400_000).toISOString(),
    total: { amount: '80.00', currency: 'AUD' },
    items: [{ name: 'rose bush', category: 'garden', quantity: 1, unitPrice: '80.00' }],
    customer: { externalId: `PC-${n}`, firstName: `Rose${n}`, email: `rose${n}@example.com`, timezone: 'UTC' },
    salesperson: { email: `${salesperson}@shop.example`, name: salesperson === 'pat' ? 'Pat Post' : 'Sam Shaw' },
  } as SaleInput;
}

async function openTask(assigneeId: string, purpose: string) {
  return insertTask(t.database.db, {
    customerId,
    assigneeId,
    kind: 'call',
    dueAt: new Date(NOW.getTime() - 3600_000),
    purpose,
    createdAt: NOW,
  });
}

async function staffCount(): Promise<number> {
  const row = await t.database.db
    .selectFrom('staff')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function assigneeOf(taskId: string) {
  return (
    await t.database.db.selectFrom('tasks').select('assigneeId').where('id', '=', taskId).executeTakeFirstOrThrow()
  ).assigneeId;
}

const form = {
  name: 'Nia New',
  email: 'nia@shop.example',
  role: 'salesperson',
  managerId: '',
  timezone: 'Australia/Sydney',
  workStart: '08:30',
  workEnd: '16:30',
  title: 'Sales consultant',
  phone: '+61 2 5550 2222',
};

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp('web_people', NOW, undefined, { smtpUrl: smtp.url });
  mail = createEmailChannel({
    smtpUrl: smtp.url,
    outboxDir: 'outbox',
    from: 'Test Shop <hello@shop.test>',
    pool: false,
  });
  max = await createStaff(t.ctx, { email: 'max@shop.example', name: 'Max Manager', role: 'manager' }, 'test');
  sam = await createStaff(
    t.ctx,
    { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson', managerId: max.id },
    'test',
  );
  customerId = (await recordSale(t.ctx, sale(1, 'sam'))).response.customer.id;
  // Pat is new to Rapport: the sale names them, so they are pending until a manager confirms them.
  await recordSale(t.ctx, sale(2, 'pat'));
  manager = consoleClient(t.app);
  await manager.signIn('max@shop.example', smtp);
});
afterAll(async () => {
  await mail?.close();
  await t?.close();
  await smtp?.close();
});

test('the People page lists everyone with role, email, manager and status; a salesperson gets the not-found page', async () => {
  const page = await manager.get('/console/manager/people');
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('<a href="/console/manager/people" aria-current="page">People</a>');
  const row = (name: string) => page.body.slice(page.body.indexOf(`>${name}</a>`)).split('</tr>')[0]!;
  expect(row('Sam Shaw')).toContain('<td>Salesperson</td>');
  expect(row('Sam Shaw')).toContain('<td>sam@shop.example</td>');
  expect(row('Sam Shaw')).toContain('<td>Max Manager</td>');
  expect(row('Sam Shaw')).toContain('<td>Active</td>');
  expect(row('Pat Post')).toContain('Pending confirmation');
  expect(page.body).toContain('1 person is waiting for confirmation');

  const samClient = consoleClient(t.app);
  await samClient.signIn('sam@shop.example', smtp);
  expect((await samClient.get('/console/manager/people')).statusCode).toBe(404);
  expect((await samClient.get(`/console/manager/people/${sam.id}/deactivate`)).statusCode).toBe(404);
});

test('adding a person: every mistake is named beside its field with nothing written, then the person is added', async () => {
  const page = await manager.get('/console/manager/people/new');
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('<option>Australia/Sydney</option>');
  expect(page.body).toMatch(/id="day-5" name="workingDays" value="5" checked/); // Monday to Friday by default
  expect(page.body).not.toMatch(/id="day-6" name="workingDays" value="6" checked/);
  const before = await staffCount();

  const bad = await manager.post('/console/manager/people/new', {
    ...form,
    name: ' ',
    email: 'not-an-email',
    workStart: '9am',
    phone: 'call me',
  });
  expect(bad.statusCode).toBe(400);
  expect(bad.body).toContain('<p class="field-error" id="name-error">Enter the person’s name</p>');
  expect(bad.body).toContain(
    '<p class="field-error" id="email-error">Enter an email address like name@example.com</p>',
  );
  expect(bad.body).toContain('id="workStart-error">Enter the start as hours and minutes, like 09:00</p>');
  expect(bad.body).toContain('id="phone-error">Enter a phone number');
  expect(bad.body).toContain('id="workingDays-error">Choose at least one working day</p>');
  expect(bad.body).toContain('<a href="#email">Email: Enter an email address like name@example.com</a>');
  expect(bad.body).toContain('value="Sales consultant"'); // what was typed stays in the form

  // A zone typed by hand (the select can be bypassed) and a day that ends before it starts.
  const zone = await manager.post('/console/manager/people/new', {
    ...form,
    timezone: 'Mars/Olympus_Mons',
    workingDays: '1',
  });
  expect(zone.statusCode).toBe(400);
  expect(zone.body).toContain('id="timezone-error">Unknown time zone &#34;Mars/Olympus_Mons&#34;</p>');
  const hours = await manager.post('/console/manager/people/new', { ...form, workEnd: '08:00', workingDays: '1' });
  expect(hours.statusCode).toBe(400);
  expect(hours.body).toContain('id="workEnd-error">The day must end after it starts</p>');
  const taken = await manager.post('/console/manager/people/new', {
    ...form,
    email: 'SAM@shop.example',
    workingDays: '1',
  });
  expect(taken.statusCode).toBe(400);
  expect(taken.body).toContain('id="email-error">A staff member with this email already exists</p>');
  expect(await staffCount()).toBe(before);

  const body = new URLSearchParams({ ...form, managerId: max.id, _csrf: manager.csrf! });
  for (const d of ['1', '2', '3', '4']) body.append('workingDays', d);
  const added = await t.app.inject({
    method: 'POST',
    url: '/console/manager/people/new',
    payload: body.toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: [...manager.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    },
  });
  expect(added.statusCode).toBe(303);
  expect(added.headers.location).toBe('/console/manager/people?done=added&who=Nia%20New');
  expect(await findStaffByEmail(t.database.db, 'nia@shop.example')).toMatchObject({
    name: 'Nia New',
    role: 'salesperson',
    managerId: max.id,
    timezone: 'Australia/Sydney',
    workingDays: [1, 2, 3, 4],
    workStart: '08:30',
    workEnd: '16:30',
    title: 'Sales consultant',
    phone: '+61 2 5550 2222',
    active: true,
    pending: false,
  });
  expect((await manager.get(added.headers.location as string)).body).toContain('Nia New was added.');
});

test('editing a person saves each field; a manager loop is refused beside the manager field', async () => {
  const page = await manager.get(`/console/manager/people/${sam.id}`);
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('<option value="' + max.id + '" selected>Max Manager</option>');
  expect(page.body).toMatch(/id="day-5" name="workingDays" value="5" checked/);
  const saved = await manager.post(`/console/manager/people/${sam.id}`, {
    name: 'Sam Shaw',
    role: 'salesperson',
    managerId: max.id,
    timezone: 'Europe/London',
    workingDays: '2',
    workStart: '10:00',
    workEnd: '18:00',
    title: 'Senior consultant',
    phone: '+44 20 7946 0000',
  });
  expect(saved.statusCode).toBe(303);
  expect(saved.headers.location).toBe(`/console/manager/people/${sam.id}?done=saved`);
  expect(await findStaffByEmail(t.database.db, 'sam@shop.example')).toMatchObject({
    timezone: 'Europe/London',
    workingDays: [2],
    workStart: '10:00',
    workEnd: '18:00',
    title: 'Senior consultant',
    phone: '+44 20 7946 0000',
  });

  // Max reporting to Sam, who reports to Max: refused, and Max is unchanged.
  await manager.get(`/console/manager/people/${max.id}`);
  const loop = await manager.post(`/console/manager/people/${max.id}`, {
    name: 'Max Manager',
    role: 'manager',
    managerId: sam.id,
    workingDays: '1',
    workStart: '09:00',
    workEnd: '17:00',
  });
  expect(loop.statusCode).toBe(400);
  expect(loop.body).toContain('id="managerId-error">Reports to this person (a loop)</p>');
  const demoted = await manager.post(`/console/manager/people/${max.id}`, {
    name: 'Max Manager',
    role: 'salesperson',
    workingDays: '1',
    workStart: '09:00',
    workEnd: '17:00',
  });
  expect(demoted.statusCode).toBe(400);
  expect(demoted.body).toContain('id="role-error">You cannot take away your own manager role');
  expect((await findStaffByEmail(t.database.db, 'max@shop.example'))!.managerId).toBeNull();
});

test('a salesperson a sale introduced is pending: their calls go to a manager, no email, no sign-in, until confirmed', async () => {
  const pat = (await findStaffByEmail(t.database.db, 'pat@shop.example'))!;
  expect(pat.pending).toBe(true);
  const patTask = await openTask(pat.id, 'Check the rose bush took');

  // The reminder run hands Pat's call to the first manager, Max, and emails Max his digest, with it; Pat gets
  // nothing: no customer's details go to an address a sale typed in until a manager vouches for it.
  const before = smtp.messages.length;
  const run = await sendReminders({ ...t.ctx, clock: { now: () => new Date('2026-11-02T11:00:00Z') } }, mail);
  expect(run).toMatchObject({ reassigned: 1, digests: 1 });
  expect(await assigneeOf(patTask)).toBe(max.id);
  const digest = await waitFor(
    () => smtp.messages.slice(before).find((m) => m.envelope.to.includes('max@shop.example')),
    'Max’s digest',
  );
  expect(digest.text).toContain('Rose1');
  expect(smtp.messages.slice(before).some((m) => m.envelope.to.includes('pat@shop.example'))).toBe(false);

  // Nor can Pat have a sign-in link, from the sign-in form or from the People page.
  const patClient = consoleClient(t.app);
  await patClient.get('/console/sign-in');
  expect((await patClient.post('/console/sign-in', { email: 'pat@shop.example' })).statusCode).toBe(303);
  const page = await manager.get(`/console/manager/people/${pat.id}`);
  expect(page.body).toContain('Confirm Pat Post');
  expect(page.body).not.toContain('Email a sign-in link');
  expect((await manager.post(`/console/manager/people/${pat.id}/sign-in-link`)).statusCode).toBe(409);

  // A manager that does not exist is refused beside the field; then Max confirms Pat into his team.
  const wrong = await manager.post(`/console/manager/people/${pat.id}/confirm`, {
    managerId: '00000000-0000-4000-8000-000000000000',
  });
  expect(wrong.statusCode).toBe(400);
  expect(wrong.body).toContain('id="confirm-manager-error">No such staff member</p>');
  expect((await findStaffByEmail(t.database.db, 'pat@shop.example'))!.pending).toBe(true);
  const confirmed = await manager.post(`/console/manager/people/${pat.id}/confirm`, { managerId: max.id });
  expect(confirmed.statusCode).toBe(303);
  expect(confirmed.headers.location).toBe('/console/manager/people?done=confirmed&who=Pat%20Post');
  expect(await findStaffByEmail(t.database.db, 'pat@shop.example')).toMatchObject({
    pending: false,
    managerId: max.id,
  });
  expect((await manager.post(`/console/manager/people/${pat.id}/confirm`, { managerId: max.id })).statusCode).toBe(409);
  expect(smtp.messages.some((m) => m.envelope.to.includes('pat@shop.example'))).toBe(false);

  // Confirmed: Pat's next call stays with Pat, and the next run brings Pat their digest.
  const next = await openTask(pat.id, 'Ask about the hedge');
  const run2 = await sendReminders({ ...t.ctx, clock: { now: () => new Date('2026-11-02T12:30:00Z') } }, mail);
  expect(run2).toMatchObject({ reassigned: 0, digests: 1 });
  expect(await assigneeOf(next)).toBe(pat.id);
  await waitFor(() => smtp.messages.some((m) => m.envelope.to.includes('pat@shop.example')), 'Pat’s digest');
  await t.database.db.deleteFrom('tasks').where('id', 'in', [patTask, next]).execute();
});

test('the People page emails a sign-in link that signs the person in', async () => {
  await manager.get(`/console/manager/people/${sam.id}`);
  const before = smtp.messages.length;
  const sent = await manager.post(`/console/manager/people/${sam.id}/sign-in-link`);
  expect(sent.statusCode).toBe(303);
  expect(sent.headers.location).toBe(`/console/manager/people/${sam.id}?done=link`);
  const message = await waitFor(
    () => smtp.messages.slice(before).find((m) => m.envelope.to.includes('sam@shop.example')),
    'a sign-in email to Sam',
  );
  const path = new URL(linkIn(message.text ?? '')).pathname;
  const samClient = consoleClient(t.app);
  await samClient.get(path);
  expect((await samClient.post(path)).statusCode).toBe(303);
  expect((await samClient.get('/console/today')).statusCode).toBe(200);
  expect((await manager.get(sent.headers.location as string)).body).toContain(
    'A sign-in link is on its way to sam@shop.example',
  );
});

test('deactivating a salesperson says where their tasks go, moves them to their manager and ends their sessions', async () => {
  const first = await openTask(sam.id, 'Check the roses took');
  const second = await openTask(sam.id, 'Ask about the hedge');
  const done = await openTask(sam.id, 'An old call');
  await t.database.db.updateTable('tasks').set({ status: 'done', completedAt: NOW }).where('id', '=', done).execute();
  const samClient = consoleClient(t.app);
  await samClient.signIn('sam@shop.example', smtp);
  expect((await samClient.get('/console/today')).statusCode).toBe(200);

  const confirm = await manager.get(`/console/manager/people/${sam.id}/deactivate`);
  expect(confirm.statusCode).toBe(200);
  expect(confirm.body).toContain('their 2 open tasks move to <strong>Max Manager</strong>, their manager.');
  expect(confirm.body).toContain('they are signed out everywhere');
  // Nothing has happened yet.
  expect(await assigneeOf(first)).toBe(sam.id);

  const res = await manager.post(`/console/manager/people/${sam.id}/deactivate`);
  expect(res.statusCode).toBe(303);
  expect(res.headers.location).toMatch(/done=deactivated&who=Sam\+Shaw&moved=2&sessions=[1-9]/);
  expect(await assigneeOf(first)).toBe(max.id);
  expect(await assigneeOf(second)).toBe(max.id);
  expect(await assigneeOf(done)).toBe(sam.id); // a finished call stays on the record of who made it
  expect((await findStaffByEmail(t.database.db, 'sam@shop.example'))!.active).toBe(false);
  const moved = await t.database.db
    .selectFrom('auditLog')
    .select(['actor', 'detail'])
    .where('action', '=', 'task.reassigned')
    .where('entityId', 'in', [first, second])
    .execute();
  expect(moved).toHaveLength(2);
  expect(moved[0]!.actor).toBe(`staff:${max.id}`);

  // Sam's browser is signed out at once.
  const after = await samClient.get('/console/today');
  expect(after.statusCode).toBe(303);
  expect(after.headers.location).toContain('/console/sign-in');
  const list = await manager.get(res.headers.location as string);
  expect(list.body).toContain('Sam Shaw is deactivated.</strong> 2 open tasks moved to their manager');
  expect(list.body).toContain('Inactive');
  // Max's Today now holds Sam's calls.
  const today = await manager.get('/console/today');
  expect(today.body).toContain('Check the roses took');

  // Max cannot deactivate himself; reactivating Sam works and leaves the moved tasks with Max.
  expect((await manager.post(`/console/manager/people/${max.id}/deactivate`)).statusCode).toBe(409);
  const back = await manager.post(`/console/manager/people/${sam.id}/reactivate`);
  expect(back.statusCode).toBe(303);
  expect((await findStaffByEmail(t.database.db, 'sam@shop.example'))!.active).toBe(true);
  expect(await assigneeOf(first)).toBe(max.id);
});
