/**
 * Calls end to end: real Postgres, Redis, the worker runtime and an SMTP server in this process. A due call touch
 * becomes a task; reminders and digests reach the assignee by email in their working hours only; outcomes,
 * complaints, escalation and staff who left move the plan as SPEC.md says. The clock only ever moves forward.
 */
import { saleBody, type TestApp } from '../../helpers/app';
import { type TestWorker } from '../../helpers/worker';
import { type ReceivedMessage, type TestSmtpServer } from '../../helpers/smtp';
import { waitFor } from '../../helpers/wait';
import type { TaskView } from '../../../src/db/repositories/task.repository';
import { tasksOfTouch } from '../../helpers/database';
import { findCustomer, updateCustomer } from '../../../src/db/repositories/customer.repository';
import type { ReminderRun } from '../../../src/services/call-reminder.service';
import { closeTestStack, startTestStack } from '../../helpers/stack';

let t: TestApp;
let smtp: TestSmtpServer;
let worker: TestWorker;
const staff: Record<string, { id: string; key: string }> = {};

const MONDAY = new Date('2026-11-09T09:30:00Z'); // all staff and customers here work in UTC, Monday to Friday 09-17
const DAY = 86_400_000;

beforeAll(async () => {
  ({ t, smtp, worker } = await startTestStack('calls', MONDAY));
  // Mia is the first manager (the default assignee); Max manages Leo; Nia has no manager.
  for (const [name, body] of [
    ['mia', { email: 'mia@shop.example', name: 'Mia Manager', role: 'manager' }],
    ['max', { email: 'max@shop.example', name: 'Max Manager', role: 'manager' }],
    ['eva', { email: 'eva@shop.example', name: 'Eva Exec', role: 'executive', title: 'Director' }],
    ['sam', { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson', manager: 'mia' }],
    ['pat', { email: 'pat@shop.example', name: 'Pat Post', role: 'salesperson', manager: 'mia' }],
    ['eve', { email: 'eve@shop.example', name: 'Eve Late', role: 'salesperson', manager: 'mia' }],
    ['leo', { email: 'leo@shop.example', name: 'Leo Left', role: 'salesperson', manager: 'max' }],
    ['nia', { email: 'nia@shop.example', name: 'Nia Alone', role: 'salesperson' }],
  ] as const) {
    const { manager, ...rest } = body as typeof body & { manager?: string };
    const res = await api('POST', '/v1/staff', { ...rest, ...(manager ? { managerId: staff[manager]!.id } : {}) });
    expect(res.statusCode).toBe(201);
    const key = await api('POST', '/v1/keys', { name: `${name} key`, role: 'staff', staffId: res.json().id });
    staff[name] = { id: res.json().id, key: key.json().key };
  }
});

afterAll(async () => {
  await closeTestStack({ t, smtp, worker });
});

async function api(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object, key = t.adminKey) {
  return t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
}

let saleSeq = 0;
/**
 * callSale posts a sale made seven days before the clock, so its 7-day call is due now; the customer has a phone
 * and, when `withAddress`, a postal address (so letters are their mail channel and nothing else is flagged).
 */
async function callSale(salesperson: string, firstName: string, opts: { withAddress?: boolean; soldAt?: Date } = {}) {
  saleSeq++;
  const soldAt = opts.soldAt ?? new Date(t.clock.now().getTime() - 7 * DAY - 3600_000);
  const customer: Record<string, unknown> = {
    externalId: `CALL-C-${saleSeq}`,
    firstName,
    lastName: 'Caller',
    email: undefined,
    phone: `+1 555 01${String(saleSeq).padStart(2, '0')}`,
    timezone: 'UTC',
    preferredChannel: opts.withAddress ? 'letter' : undefined,
    address: opts.withAddress
      ? { lines: ['1 Main St'], city: 'Springfield', postalCode: '12345', country: 'US' }
      : undefined,
  };
  const res = await api(
    'POST',
    '/v1/sales',
    saleBody(
      {
        externalId: `CALL-${saleSeq}`,
        soldAt: soldAt.toISOString(),
        salesperson: { email: `${salesperson}@shop.example`, name: salesperson },
      },
      customer,
    ),
    t.posKey,
  );
  expect(res.statusCode).toBe(201);
  const body = res.json();
  const call = body.touches.find((x: { step: number }) => x.step === 2);
  return {
    customerId: body.customer.id as string,
    callTouchId: call.id as string,
    touches: body.touches as { id: string; step: number; status: string; dueAt: string }[],
  };
}

/** dispatchCall runs the scheduler and waits until the worker has turned the call touch into a task. */
async function dispatchCall(touchId: string): Promise<TaskView> {
  await worker.runMaintenance('dispatch');
  await waitFor(async () => (await touchRow(touchId)).status === 'sent', `touch ${touchId} sent`);
  const [task] = await tasksOfTouch(t.database.db, touchId);
  return task!;
}

async function touchRow(id: string) {
  return t.database.db
    .selectFrom('touches')
    .select(['status', 'statusReason', 'step'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

async function outcome(taskId: string, body: object, key = t.adminKey) {
  return api('POST', `/v1/tasks/${taskId}/outcome`, body, key);
}

function mailTo(who: string): ReceivedMessage[] {
  return smtp.messages.filter((m) => m.envelope.to.includes(`${who}@shop.example`));
}

async function remind(): Promise<ReminderRun> {
  return (await worker.runMaintenance('call-reminders')) as ReminderRun;
}

describe('a due call becomes a task, and its assignee is reminded', () => {
  let first: Awaited<ReturnType<typeof callSale>>;

  it('turns the due 7-day call into a task for the salesperson, with rendered talking points', async () => {
    first = await callSale('sam', 'Ann');
    const task = await dispatchCall(first.callTouchId);
    expect(task.assignee?.id).toBe(staff.sam!.id);
    expect(task.kind).toBe('call');
    expect(task.attempt).toBe(1);
    expect(task.purpose).toBe('Make sure the customer is happy with the product');
    expect(task.talkingPoints[0]).toBe('Has the 3-seat sofa arrived and is it what you expected?');
    expect(await touchRow(first.callTouchId)).toMatchObject({ status: 'sent', statusReason: 'task_created' });

    const list = await api('GET', `/v1/tasks?assignee=${staff.sam!.id}&status=open&due=today`);
    expect(list.statusCode).toBe(200);
    const [shown] = list.json().tasks;
    expect(shown.customer).toMatchObject({
      id: first.customerId,
      name: 'Ann Caller',
      phone: expect.stringContaining('555'),
    });
    expect(shown.talkingPoints).toHaveLength(3);
    // The customer's history: the thank-you step skipped for want of an address, with why (the email worker skips it
    // at its due time, beside the call: waited for, not assumed done with the call).
    const thankYou = first.touches.find((x) => x.step === 1)!;
    await waitFor(async () => (await touchRow(thankYou.id)).status === 'skipped', 'the thank-you skipped');
    const again = await api('GET', `/v1/tasks?assignee=${staff.sam!.id}&status=open&due=today`);
    const [reread] = again.json().tasks;
    expect(
      reread.history.some(
        (h: { type: string; detail: string }) => h.type === 'touch' && /step 1 .*no_address/.test(h.detail),
      ),
    ).toBe(true);
  });

  it('sends one email inside working hours (the morning digest), none again within the hour', async () => {
    const run = await remind();
    expect(run).toMatchObject({ digests: 1, reminders: 0 });
    const [digest] = await smtp.waitForMessages(1);
    expect(mailTo('sam')).toHaveLength(1);
    expect(digest!.subject).toBe('Your calls today: 1 task');
    expect(digest!.from?.text).toContain('hello@shop.test');
    expect(digest!.text).toContain('Ann Caller');
    // Links open the console (Today, and each task), never the JSON API.
    expect(digest!.text).toContain('http://rapport.test/console/today');
    expect(digest!.text).toMatch(/http:\/\/rapport\.test\/console\/tasks\/[0-9a-f-]{36}/);
    expect(digest!.text).not.toContain('/v1/');
    expect(digest!.text).toMatch(/due \w{3} \d+ \w{3} \d\d:\d\d \(UTC\)/);

    t.clock.advance(10 * 60_000); // 09:40
    const again = await remind();
    expect(again).toMatchObject({ digests: 0, reminders: 0 });
    expect(mailTo('sam')).toHaveLength(1);
  });

  it('reminds once when more tasks fall due, at most once an hour', async () => {
    const second = await callSale('sam', 'Bea');
    await dispatchCall(second.callTouchId);
    await remind(); // 09:40: the digest went out ten minutes ago
    expect(mailTo('sam')).toHaveLength(1);

    // A mail server that says "try later" costs no reminder: the slot is given back and the next run sends it.
    t.clock.set(new Date('2026-11-09T10:31:00Z'));
    smtp.respondWith((e) =>
      e.stage === 'rcpt' && e.to === 'sam@shop.example' ? { code: 451, message: 'try later' } : null,
    );
    expect(await remind()).toMatchObject({ reminders: 0, failed: 1 });
    smtp.respondWith(null);
    // Two workers running the sweep at once send one email between them.
    const runs = await Promise.all([remind(), remind(), remind()]);
    expect(runs.reduce((n, r) => n + r.reminders, 0)).toBe(1);
    await waitFor(() => mailTo('sam').length === 2, 'the reminder');
    const reminder = mailTo('sam')[1]!;
    expect(reminder.subject).toBe('Reminder: 1 task now due');
    expect(reminder.text).toContain('Bea Caller');
    expect(reminder.text).not.toContain('Ann Caller'); // already announced
    expect(await remind()).toMatchObject({ reminders: 0, digests: 0 });
    expect(mailTo('sam')).toHaveLength(2);
  });

  it('sends nothing outside working hours, and the next morning a digest of what is overdue', async () => {
    t.clock.set(new Date('2026-11-09T18:30:00Z'));
    const late = await callSale('sam', 'Cal');
    await dispatchCall(late.callTouchId);
    expect(await remind()).toMatchObject({ reminders: 0, digests: 0 });
    expect(mailTo('sam')).toHaveLength(2);

    t.clock.set(new Date('2026-11-10T09:05:00Z')); // Tuesday
    expect(await remind()).toMatchObject({ digests: 1 });
    await waitFor(() => mailTo('sam').length === 3, 'the Tuesday digest');
    const digest = mailTo('sam')[2]!;
    expect(digest.subject).toBe('Your calls today: 3 tasks, 3 overdue');
    for (const name of ['Ann', 'Bea', 'Cal']) expect(digest.text).toContain(`${name} Caller`);
    t.clock.advance(60_000);
    expect(await remind()).toMatchObject({ reminders: 0, digests: 0 });
  });
});

describe('outcomes move the plan', () => {
  it('reached: task and touch done', async () => {
    const s = await callSale('pat', 'Dan');
    const task = await dispatchCall(s.callTouchId);
    const res = await outcome(task.id, { outcome: 'reached', notes: 'Loves the sofa' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'done', outcome: 'reached', notes: 'Loves the sofa' });
    expect(await touchRow(s.callTouchId)).toMatchObject({ status: 'done', statusReason: 'reached' });
    // The same outcome again (a client retry) answers with the task; a different one is a conflict.
    expect((await outcome(task.id, { outcome: 'reached' })).statusCode).toBe(200);
    const conflict = await outcome(task.id, { outcome: 'no_answer' });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().error.message).toMatch(/^outcome:/);
    const audited = await t.database.db
      .selectFrom('auditLog')
      .select('action')
      .where('entityId', '=', task.id)
      .execute();
    expect(audited.map((a) => a.action)).toEqual(['task.outcome']);
  });

  it('no_answer: a new attempt two business days later, at most three, then the touch fails', async () => {
    const s = await callSale('pat', 'Eli');
    let task = await dispatchCall(s.callTouchId);
    const now = t.clock.now(); // Tuesday 09:06
    expect((await outcome(task.id, { outcome: 'no_answer' })).json()).toMatchObject({
      status: 'done',
      outcome: 'no_answer',
    });
    let attempts = await tasksOfTouch(t.database.db, s.callTouchId);
    expect(attempts.map((a) => [a.attempt, a.status])).toEqual([
      [1, 'done'],
      [2, 'open'],
    ]);
    expect(attempts[1]!.dueAt).toEqual(new Date('2026-11-12T09:00:00Z')); // Thursday, start of work
    expect(attempts[1]!.assignee?.id).toBe(staff.pat!.id);
    expect(attempts[1]!.talkingPoints).toEqual(task.talkingPoints);
    expect((await touchRow(s.callTouchId)).status).toBe('sent');
    expect(now).toEqual(t.clock.now());

    task = attempts[1]!;
    await outcome(task.id, { outcome: 'no_answer' });
    attempts = await tasksOfTouch(t.database.db, s.callTouchId);
    expect(attempts.map((a) => [a.attempt, a.status])).toEqual([
      [1, 'done'],
      [2, 'done'],
      [3, 'open'],
    ]);
    await outcome(attempts[2]!.id, { outcome: 'no_answer' });
    attempts = await tasksOfTouch(t.database.db, s.callTouchId);
    expect(attempts.map((a) => [a.attempt, a.status])).toEqual([
      [1, 'done'],
      [2, 'done'],
      [3, 'done'],
    ]);
    expect(await touchRow(s.callTouchId)).toMatchObject({ status: 'failed', statusReason: 'no_answer' });
  });

  it('wrong_number: the touch fails and the phone is flagged for clean-up', async () => {
    const s = await callSale('pat', 'Fay', { withAddress: true });
    expect((await findCustomer(t.database.db, s.customerId))!.needsCleanup).toBe(false);
    const task = await dispatchCall(s.callTouchId);
    expect((await outcome(task.id, { outcome: 'wrong_number' })).statusCode).toBe(200);
    expect(await touchRow(s.callTouchId)).toMatchObject({ status: 'failed', statusReason: 'wrong_number' });
    expect((await findCustomer(t.database.db, s.customerId))!.needsCleanup).toBe(true);
  });

  it('complaint: the plan pauses, the manager gets a task, a complaint note is kept', async () => {
    const s = await callSale('pat', 'Gus', { withAddress: true });
    const task = await dispatchCall(s.callTouchId);
    const res = await outcome(task.id, { outcome: 'complaint', notes: 'Sofa arrived damaged' });
    expect(res.statusCode).toBe(200);
    expect(await touchRow(s.callTouchId)).toMatchObject({ status: 'done', statusReason: 'complaint' });
    expect((await findCustomer(t.database.db, s.customerId))!.paused).toBe(true);
    const profile = (await api('GET', `/v1/customers/${s.customerId}`)).json();
    expect(profile.notes).toEqual([expect.objectContaining({ body: 'Sofa arrived damaged', complaint: true })]);
    const complaint = profile.tasks.find((x: { kind: string }) => x.kind === 'complaint');
    expect(complaint).toMatchObject({ assigneeId: staff.mia!.id, status: 'open' });
    // The manager sees it on their own list.
    const mine = (await api('GET', '/v1/tasks?status=open', undefined, staff.mia!.key)).json().tasks;
    expect(
      mine.some((x: { id: string; customer: { paused: boolean } }) => x.id === complaint.id && x.customer.paused),
    ).toBe(true);
    pausedCustomer = s;
  });
});
let pausedCustomer: Awaited<ReturnType<typeof callSale>>;

describe('notes', () => {
  it('a staff complaint note pauses the plan and opens a task for their manager; resume is for admins', async () => {
    const s = await callSale('pat', 'Hal');
    const plain = await api(
      'POST',
      `/v1/customers/${s.customerId}/notes`,
      { body: 'Asked about cushions' },
      staff.pat!.key,
    );
    expect(plain.statusCode).toBe(201);
    expect(plain.json()).toMatchObject({ complaint: false, taskId: null });
    expect((await findCustomer(t.database.db, s.customerId))!.paused).toBe(false);

    const res = await api(
      'POST',
      `/v1/customers/${s.customerId}/notes`,
      { body: 'Rude delivery driver', complaint: true },
      staff.pat!.key,
    );
    expect(res.statusCode).toBe(201);
    const { taskId } = res.json();
    expect((await findCustomer(t.database.db, s.customerId))!.paused).toBe(true);
    const managerTask = (await api('GET', `/v1/tasks/${taskId}`)).json();
    expect(managerTask).toMatchObject({
      kind: 'complaint',
      assignee: { id: staff.mia!.id },
      notes: 'Rude delivery driver',
    });

    // A paused customer's due call is not dispatched.
    await worker.runMaintenance('dispatch');
    expect((await touchRow(s.callTouchId)).status).toBe('scheduled');

    expect((await api('POST', `/v1/customers/${s.customerId}/resume`, undefined, staff.pat!.key)).statusCode).toBe(403);
    const resumed = await api('POST', `/v1/customers/${s.customerId}/resume`);
    expect(resumed.json()).toEqual({ id: s.customerId, paused: false });
    await dispatchCall(s.callTouchId);

    const actions = await t.database.db
      .selectFrom('auditLog')
      .select('action')
      .where('entityId', '=', s.customerId)
      .orderBy('id')
      .execute();
    expect(actions.map((a) => a.action)).toEqual(['note.added', 'customer.paused', 'note.added', 'customer.resumed']);
  });

  it('rejects an empty note naming the field', async () => {
    const res = await api('POST', `/v1/customers/${pausedCustomer.customerId}/notes`, { body: '   ' }, staff.pat!.key);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/body/);
  });
});

describe('customers who may not be contacted', () => {
  it('cancels the call of a do-not-contact customer instead of opening a task', async () => {
    const s = await callSale('pat', 'Nat');
    await updateCustomer(t.database.db, s.customerId, { doNotContact: true });
    await worker.runMaintenance('dispatch');
    await waitFor(async () => (await touchRow(s.callTouchId)).status === 'cancelled', 'call cancelled');
    expect((await touchRow(s.callTouchId)).statusReason).toBe('do_not_contact');
    expect(await tasksOfTouch(t.database.db, s.callTouchId)).toHaveLength(0);
  });

  it('cancels an open call task when the customer asks not to be contacted', async () => {
    const s = await callSale('pat', 'Ola');
    const task = await dispatchCall(s.callTouchId);
    await updateCustomer(t.database.db, s.customerId, { doNotContact: true });
    expect((await remind()).cancelled).toBe(1);
    expect((await tasksOfTouch(t.database.db, s.callTouchId))[0]).toMatchObject({
      id: task.id,
      status: 'cancelled',
    });
    expect(await touchRow(s.callTouchId)).toMatchObject({ status: 'cancelled', statusReason: 'do_not_contact' });
  });
});

describe('staff keys see their own tasks, a manager also their team', () => {
  it("lists the key owner's tasks; another person's only for their manager", async () => {
    const others = await api('GET', `/v1/tasks?assignee=${staff.pat!.id}`, undefined, staff.sam!.key);
    expect(others.statusCode).toBe(200);
    expect(others.json().tasks).toEqual([]);
    const team = (await api('GET', `/v1/tasks?assignee=${staff.pat!.id}`, undefined, staff.mia!.key)).json().tasks;
    expect(team.length).toBeGreaterThan(0);
    expect(team.every((x: { assignee: { id: string } }) => x.assignee.id === staff.pat!.id)).toBe(true);
    const res = await api('GET', '/v1/tasks', undefined, staff.sam!.key);
    expect(res.statusCode).toBe(200);
    const tasks = res.json().tasks as { assignee: { id: string } }[];
    expect(tasks.length).toBeGreaterThanOrEqual(3);
    expect(tasks.every((x) => x.assignee.id === staff.sam!.id)).toBe(true);
    // overdue is before today: Sam's three Monday calls.
    const overdue = (await api('GET', '/v1/tasks?due=overdue&status=open', undefined, staff.sam!.key)).json().tasks;
    expect(overdue).toHaveLength(3);
    expect((await api('GET', '/v1/tasks?due=2026-11-10', undefined, staff.sam!.key)).json().tasks).toHaveLength(0);
  });

  it('answers 404 for another person task, reading it or recording its outcome', async () => {
    const s = await callSale('pat', 'Ida');
    const patTask = await dispatchCall(s.callTouchId);
    expect((await api('GET', `/v1/tasks/${patTask.id}`, undefined, staff.sam!.key)).statusCode).toBe(404);
    const refused = await outcome(patTask.id, { outcome: 'reached' }, staff.sam!.key);
    expect(refused.statusCode).toBe(404);
    expect((await tasksOfTouch(t.database.db, s.callTouchId))[0]!.status).toBe('open');
    expect((await outcome(patTask.id, { outcome: 'voicemail' }, staff.pat!.key)).json()).toMatchObject({
      status: 'done',
      outcome: 'voicemail',
    });
    expect(await touchRow(s.callTouchId)).toMatchObject({ status: 'done', statusReason: 'voicemail' });
  });

  it('rejects bad filters and outcomes naming the field; a pos key may not read tasks', async () => {
    const bad = await api('GET', '/v1/tasks?due=someday');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/due/);
    const [anyTask] = (await api('GET', '/v1/tasks?status=open')).json().tasks;
    const badOutcome = await outcome(anyTask.id, { outcome: 'busy' });
    expect(badOutcome.statusCode).toBe(400);
    expect(badOutcome.json().error.message).toMatch(/outcome/);
    expect((await api('GET', '/v1/tasks', undefined, t.posKey)).statusCode).toBe(403);
  });
});

describe('assignees', () => {
  it('gives the call of a salesperson who left to their manager, else the first manager', async () => {
    // Leo has an open call; then he leaves.
    const before = await callSale('leo', 'Jo');
    const open = await dispatchCall(before.callTouchId);
    expect(open.assignee?.id).toBe(staff.leo!.id);
    const s = await callSale('leo', 'Kim');
    expect((await api('PATCH', `/v1/staff/${staff.leo!.id}`, { active: false })).statusCode).toBe(200);
    expect((await dispatchCall(s.callTouchId)).assignee?.id).toBe(staff.max!.id);
    // His open task moved to Max when he was marked inactive, not at the next reminder run.
    expect((await tasksOfTouch(t.database.db, before.callTouchId))[0]!.assignee?.id).toBe(staff.max!.id);
    expect((await remind()).reassigned).toBe(0);

    const n = await callSale('nia', 'Lou');
    expect((await api('PATCH', `/v1/staff/${staff.nia!.id}`, { active: false })).statusCode).toBe(200);
    expect((await dispatchCall(n.callTouchId)).assignee?.id).toBe(staff.mia!.id);
  });

  it('gives the anniversary call to an executive', async () => {
    const soldAt = new Date('2025-11-10T08:00:00Z'); // a year ago today (Tuesday)
    const s = await callSale('sam', 'Meg', { soldAt });
    const anniversary = s.touches.find((x) => x.step === 7)!;
    expect(anniversary.status).toBe('scheduled');
    await worker.runMaintenance('dispatch');
    await waitFor(async () => (await touchRow(anniversary.id)).status === 'sent', 'anniversary call task');
    const [task] = await tasksOfTouch(t.database.db, anniversary.id);
    expect(task!.assignee?.id).toBe(staff.eva!.id);
    expect(task!.talkingPoints).toContain('Thank them for a year as our customer.');
  });
  it('gives calls falling due together each to their own assignee, and cancels the one that may not be made', async () => {
    // Leo and Nia have left (above): their calls go to Max and to the first manager, Mia.
    const sales = {
      sam: await callSale('sam', 'Ola'),
      pat: await callSale('pat', 'Pia'),
      leo: await callSale('leo', 'Quin'),
      nia: await callSale('nia', 'Rex'),
    };
    const barred = await callSale('sam', 'Sol');
    await updateCustomer(t.database.db, barred.customerId, { doNotContact: true });
    await worker.runMaintenance('dispatch');
    const all = [...Object.values(sales), barred];
    await waitFor(
      async () => (await Promise.all(all.map((s) => touchRow(s.callTouchId)))).every((r) => r.status !== 'queued'),
      'every call handled',
    );
    const assigneeOf = async (touchId: string) => (await tasksOfTouch(t.database.db, touchId))[0]?.assignee?.id;
    expect(await assigneeOf(sales.sam.callTouchId)).toBe(staff.sam!.id);
    expect(await assigneeOf(sales.pat.callTouchId)).toBe(staff.pat!.id);
    expect(await assigneeOf(sales.leo.callTouchId)).toBe(staff.max!.id);
    expect(await assigneeOf(sales.nia.callTouchId)).toBe(staff.mia!.id);
    expect(await touchRow(barred.callTouchId)).toMatchObject({ status: 'cancelled', statusReason: 'do_not_contact' });
    expect(await tasksOfTouch(t.database.db, barred.callTouchId)).toEqual([]);
  });
});

describe('escalation', () => {
  it('escalates an open call overdue by three business days to the manager, once', async () => {
    const s = await callSale('eve', 'Ned'); // due Tuesday 09:xx
    const task = await dispatchCall(s.callTouchId);
    t.clock.set(new Date('2026-11-12T16:00:00Z')); // Thursday: two business days (Wed, Thu)
    await worker.runMaintenance('escalate');
    expect((await tasksOfTouch(t.database.db, s.callTouchId))[0]!.escalatedAt).toBeNull();

    t.clock.set(new Date('2026-11-13T09:30:00Z')); // Friday: three
    await worker.runMaintenance('escalate');
    await worker.runMaintenance('escalate');
    const escalations = await t.database.db
      .selectFrom('tasks')
      .selectAll()
      .where('sourceTaskId', '=', task.id)
      .where('kind', '=', 'escalation')
      .execute();
    expect(escalations).toHaveLength(1);
    expect(escalations[0]!.assigneeId).toBe(staff.mia!.id);
    expect((await tasksOfTouch(t.database.db, s.callTouchId))[0]).toMatchObject({
      escalatedTo: staff.mia!.id,
      status: 'open',
    });

    // The manager makes the call: the escalation and the original task close, and the touch is done.
    const res = await outcome(escalations[0]!.id, { outcome: 'reached' }, staff.mia!.key);
    expect(res.statusCode).toBe(200);
    expect((await tasksOfTouch(t.database.db, s.callTouchId))[0]).toMatchObject({
      status: 'done',
      outcome: 'reached',
    });
    expect(await touchRow(s.callTouchId)).toMatchObject({ status: 'done', statusReason: 'reached' });
  });
});

describe('a paused customer', () => {
  it('gets no later touches until resumed', async () => {
    // A month after the complaint customer's sale their letter step falls due; a customer who is not paused gets theirs.
    const control = await callSale('pat', 'Oli', { withAddress: true, soldAt: new Date('2026-11-03T08:00:00Z') });
    t.clock.set(new Date('2026-12-10T10:00:00Z'));
    await worker.runMaintenance('dispatch');
    const step3 = async (customerId: string) =>
      await t.database.db
        .selectFrom('touches')
        .select(['id', 'status'])
        .where('customerId', '=', customerId)
        .where('step', '=', 3)
        .executeTakeFirstOrThrow();
    expect((await step3(control.customerId)).status).not.toBe('scheduled');
    expect((await step3(pausedCustomer.customerId)).status).toBe('scheduled');

    await api('POST', `/v1/customers/${pausedCustomer.customerId}/resume`);
    await worker.runMaintenance('dispatch');
    expect((await step3(pausedCustomer.customerId)).status).not.toBe('scheduled');
  });
});
