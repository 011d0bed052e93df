/**
 * One customer across two and a half years, end to end: the sale through POST /v1/sales, the real worker runtime
 * with its own Redis prefix, an SMTP server in this process, and an injected clock moved forward step by step. At
 * each step the maintenance tasks run as their repeating jobs would ('later-years', 'newsletters', 'dispatch').
 * It shows the seven first-year contacts, the move into the later-years program at the first anniversary, the
 * later-year call around the second anniversary, newsletters only in the later years, and the cap: a fourth edition
 * within a rolling year does not reach the customer, and one sent more than a year after the second does.
 */
import { saleBody, type TestApp } from '../../helpers/app';
import { type TestWorker } from '../../helpers/worker';
import { type ReceivedMessage, type TestSmtpServer } from '../../helpers/smtp';
import { waitFor } from '../../helpers/wait';
import { tasksOfTouch } from '../../helpers/database';
import { customerOfLink, linkIn, unsubscribeToken } from '../../helpers/links';
import { TEST_SETTINGS } from '../../helpers/app';
import { closeTestStack, startTestStack } from '../../helpers/stack';

let t: TestApp;
let smtp: TestSmtpServer;
let worker: TestWorker;
let customerId: string;
const editions: Record<string, string> = {};

// Sold at 01:03 on Monday 2 November 2026 in Sydney (14:03 UTC on the 1st); the first anniversary is 2 November 2027
// 01:03 local, the second 2 November 2028. The test ends on 1 May 2029, two and a half years after the sale.
const SOLD_AT = '2026-11-01T14:03:00Z';

beforeAll(async () => {
  ({ t, smtp, worker } = await startTestStack('lateryears', new Date('2026-11-01T14:05:00Z')));
});

afterAll(async () => {
  await closeTestStack({ t, smtp, worker });
});

async function api(method: 'GET' | 'POST', url: string, payload?: object, headers: Record<string, string> = {}) {
  return t.app.inject({ method, url, headers: { ...t.auth(t.adminKey), ...headers }, ...(payload ? { payload } : {}) });
}

interface TouchRow {
  id: string;
  planRunId: string | null;
  newsletterId: string | null;
  step: number;
  channel: string;
  status: string;
  statusReason: string | null;
  dueAt: Date;
}

async function touches(): Promise<TouchRow[]> {
  return t.database.db
    .selectFrom('touches')
    .select(['id', 'planRunId', 'newsletterId', 'step', 'channel', 'status', 'statusReason', 'dueAt'])
    .where('customerId', '=', customerId)
    .orderBy('dueAt')
    .orderBy('step')
    .execute();
}

async function runs() {
  return t.database.db
    .selectFrom('planRuns')
    .select(['id', 'kind', 'year', 'status', 'startedAt'])
    .where('customerId', '=', customerId)
    .orderBy('startedAt')
    .orderBy('kind')
    .execute();
}

async function program(): Promise<string> {
  return (
    await t.database.db.selectFrom('customers').select('program').where('id', '=', customerId).executeTakeFirstOrThrow()
  ).program;
}

/**
 * advanceTo moves the clock (never backwards), runs the periodic tasks as the worker's repeating jobs would, and
 * waits until every touch of the customer due by then has been delivered and recorded.
 */
async function advanceTo(at: Date | string): Promise<void> {
  const when = new Date(at);
  if (when > t.clock.now()) t.clock.set(when);
  await worker.runMaintenance('later-years');
  await worker.runMaintenance('newsletters');
  await worker.runMaintenance('dispatch');
  await waitFor(
    async () => (await touches()).every((x) => x.dueAt > t.clock.now() || !['scheduled', 'queued'].includes(x.status)),
    `touches due by ${when.toISOString()} delivered`,
  );
  // A second pass marks editions whose every touch is now delivered as sent.
  await worker.runMaintenance('newsletters');
}

function mailToAnn(): ReceivedMessage[] {
  return smtp.messages.filter((m) => m.envelope.to.includes('ann@example.com'));
}

function expectUnsubscribeHeaders(m: ReceivedMessage): void {
  const unsubscribe = `${TEST_SETTINGS.publicUrl}/u/${unsubscribeToken(customerId)}`.replace(
    /[.*+?^${}()|[\]\\]/g,
    '\\$&',
  );
  const headers = m.rawHeaders.replace(/\r?\n[ \t]+/g, ' '); // unfold long header lines
  expect(headers).toMatch(new RegExp(`^List-Unsubscribe: <${unsubscribe}>\\s*$`, 'mi'));
  expect(headers).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\s*$/im);
  // Each message carries a fresh preference link; earlier ones may have expired since, so it is checked as sent.
  expect(customerOfLink(linkIn(m.text ?? '', 'p'), 'preferences', new Date('2026-01-01'))).toBe(customerId);
}

async function publish(subject: string, sendAt: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await api('POST', '/v1/newsletters', {
    subject,
    body: 'Dear {{ customer.firstName }},\n\nNews about your {{ sale.mainItem }}.',
    sendAt,
    ...extra,
  });
  expect(res.statusCode).toBe(201);
  return res.json().id;
}

async function edition(id: string) {
  const res = await api('GET', `/v1/newsletters/${id}`);
  expect(res.statusCode).toBe(200);
  return res.json();
}

describe('one customer over two and a half years', () => {
  it('delivers the seven first-year contacts: five emails and two calls that become tasks', async () => {
    const res = await api('POST', '/v1/sales', saleBody({ soldAt: SOLD_AT }), { authorization: `Bearer ${t.posKey}` });
    expect(res.statusCode).toBe(201);
    customerId = res.json().customer.id;
    // Sam was created by the sale, pending until a manager confirms him (until then his calls go to his manager).
    const sam = await t.database.db
      .selectFrom('staff')
      .select('id')
      .where('email', '=', 'sam@shop.example')
      .executeTakeFirstOrThrow();
    expect(
      (await api('POST', `/v1/staff/${sam.id}/confirm`, {}, { authorization: `Bearer ${t.adminKey}` })).statusCode,
    ).toBe(200);
    const planned: { id: string; step: number; channel: string; dueAt: string }[] = res.json().touches;
    expect(planned.map((x) => x.channel)).toEqual(['email', 'call', 'email', 'email', 'email', 'email', 'call']);

    // A newsletter during the first year does not go to a first-year customer.
    editions.firstYear = await publish('Spring news', '2027-06-01T00:00:00Z');

    for (const step of planned) {
      await advanceTo(step.dueAt);
      const row = (await touches()).find((x) => x.id === step.id)!;
      expect(row.status).toBe('sent');
      if (step.channel === 'call') {
        const [task] = await tasksOfTouch(t.database.db, step.id);
        expect(task).toMatchObject({ kind: 'call', status: 'open', customer: { id: customerId } });
      }
      if (step.dueAt < '2027-06-01T00:00:00Z' && planned[planned.indexOf(step) + 1]?.dueAt > '2027-06-01T00:00:00Z') {
        await advanceTo('2027-06-01T00:00:00Z');
      }
    }
    const emails = mailToAnn();
    expect(emails).toHaveLength(5);
    expect(emails[0]!.subject).toBe('Thank you, Ann');
    emails.forEach(expectUnsubscribeHeaders);

    const spring = await edition(editions.firstYear);
    expect(spring).toMatchObject({ status: 'sent', counts: { recipients: 0, capped: 0 } });
  });

  it("moves the customer into the later-years program at the first anniversary, with next year's call planned", async () => {
    // The anniversary call (step 7) was due at 09:00 on Tuesday 2 November 2027 local, after the anniversary itself.
    const [firstYear] = await runs();
    expect(firstYear).toMatchObject({ kind: 'first_year', status: 'completed' });
    expect(await program()).toBe('later_years');
    const later = (await runs()).filter((r) => r.kind === 'later_year');
    expect(later).toEqual([
      expect.objectContaining({ year: 2, status: 'active', startedAt: new Date('2027-11-01T14:03:00Z') }),
    ]);
    const call = (await touches()).find((x) => x.planRunId === later[0]!.id)!;
    // Around the second anniversary: Thursday 2 November 2028, 09:00 in Sydney.
    expect(call).toMatchObject({
      step: 1,
      channel: 'call',
      status: 'scheduled',
      dueAt: new Date('2028-11-01T22:00:00Z'),
    });
    // Running the task again changes nothing.
    await worker.runMaintenance('later-years');
    expect((await runs()).filter((r) => r.kind === 'later_year')).toHaveLength(1);
  });

  it('sends three newsletters in the second year and holds back the fourth: the cap of 3 in a rolling year', async () => {
    t.clock.set(new Date('2027-12-01T00:00:00Z'));
    for (const [name, at] of [
      ['jan', '2028-01-15'],
      ['apr', '2028-04-15'],
      ['jul', '2028-07-15'],
      ['oct', '2028-10-15'],
    ]) {
      editions[name] = await publish(`News for ${name}, {{ customer.firstName }}`, `${at}T00:00:00Z`);
    }
    for (const name of ['jan', 'apr', 'jul', 'oct']) {
      const before = mailToAnn().length;
      await advanceTo((await edition(editions[name]!)).sendAt);
      const e = await edition(editions[name]!);
      if (name === 'oct') {
        expect(e).toMatchObject({ status: 'sent', counts: { recipients: 0, capped: 1, sent: 0 } });
        expect(mailToAnn()).toHaveLength(before);
      } else {
        expect(e).toMatchObject({ status: 'sent', counts: { recipients: 1, capped: 0, sent: 1 } });
        const [m] = await smtp
          .waitForMessages(before + 1)
          .then((all) => all.filter((x) => x.envelope.to.includes('ann@example.com')).slice(before));
        expect(m!.subject).toBe(`News for ${name}, Ann`);
        expect(m!.text).toContain('News about your 3-seat sofa.');
        expectUnsubscribeHeaders(m!);
      }
    }
    const newsletterTouches = (await touches()).filter((x) => x.channel === 'newsletter');
    expect(newsletterTouches.map((x) => x.status)).toEqual(['sent', 'sent', 'sent']);
    expect(newsletterTouches.every((x) => x.planRunId === null && x.step === 0)).toBe(true);
  });

  it('makes the later-year call around the second anniversary and starts year three', async () => {
    await advanceTo('2028-11-01T14:03:00Z'); // the second anniversary, 01:03 local
    let later = (await runs()).filter((r) => r.kind === 'later_year');
    expect(later.map((r) => [r.year, r.status])).toEqual([
      [2, 'completed'],
      [3, 'active'],
    ]);
    const year2Call = (await touches()).find((x) => x.planRunId === later[0]!.id)!;
    expect(year2Call.status).toBe('scheduled'); // completing the year does not cancel its contact

    await advanceTo(year2Call.dueAt);
    const [task] = await tasksOfTouch(t.database.db, year2Call.id);
    expect(task).toMatchObject({
      kind: 'call',
      status: 'open',
      purpose: 'Year 2: a personal contact around the anniversary',
    });
    expect(task!.talkingPoints[0]).toBe('Thank Ann for another year as our customer.');
    expect(task!.assignee?.name).toBe('Sam Shaw');

    later = (await runs()).filter((r) => r.kind === 'later_year');
    const year3Call = (await touches()).find((x) => x.planRunId === later[1]!.id)!;
    expect(year3Call).toMatchObject({ channel: 'call', status: 'scheduled', dueAt: new Date('2029-11-01T22:00:00Z') });
  });

  it('counts in a rolling year, not a calendar year: Feb 2029 goes, March 2029 is capped, late April 2029 goes', async () => {
    // Held: January, April and July 2028. February 2029: January 2028 is more than a year back, so two in the year.
    // March 2029: April and July 2028 and February 2029 are within a year. Late April 2029: April 2028 has aged out.
    editions.feb = await publish('February news', '2029-02-15T00:00:00Z');
    editions.mar = await publish('March news', '2029-03-15T00:00:00Z');
    editions.lateApr = await publish('Late April news', '2029-04-20T00:00:00Z');
    const before = mailToAnn().length;
    await advanceTo('2029-02-15T00:00:00Z');
    expect(await edition(editions.feb)).toMatchObject({
      status: 'sent',
      counts: { recipients: 1, capped: 0, sent: 1 },
    });
    await advanceTo('2029-03-15T00:00:00Z');
    expect(await edition(editions.mar)).toMatchObject({ status: 'sent', counts: { recipients: 0, capped: 1 } });
    await advanceTo('2029-04-20T00:00:00Z');
    expect(await edition(editions.lateApr)).toMatchObject({ status: 'sent', counts: { recipients: 1, sent: 1 } });
    expect(
      mailToAnn()
        .slice(before)
        .map((m) => m.subject),
    ).toEqual(['February news', 'Late April news']);

    await advanceTo('2029-05-01T14:03:00Z'); // two and a half years after the sale
    expect(await program()).toBe('later_years');
    const all = await touches();
    const summary = all.map((x) => `${x.channel}:${x.status}`);
    // 7 first-year contacts, the year-2 call, 5 newsletters sent in all, and year 3's call still to come.
    expect(summary.filter((s) => s === 'email:sent')).toHaveLength(5);
    expect(summary.filter((s) => s === 'call:sent')).toHaveLength(3);
    expect(summary.filter((s) => s === 'newsletter:sent')).toHaveLength(5);
    expect(summary.filter((s) => s === 'call:scheduled')).toHaveLength(1);
    expect(summary).toHaveLength(7 + 1 + 5 + 1);
    expect(mailToAnn()).toHaveLength(10);
  });
});

describe('the newsletters API', () => {
  it('refuses a template with an unknown variable, naming the field, and stores nothing', async () => {
    const count = (await api('GET', '/v1/newsletters')).json().newsletters.length;
    const res = await api('POST', '/v1/newsletters', {
      subject: 'Hi {{ customer.frstName }}',
      body: 'x',
      sendAt: '2029-06-01T00:00:00Z',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.field).toBe('subject');
    const body = await api('POST', '/v1/newsletters', {
      subject: 'Hi',
      body: '{% if %}',
      sendAt: '2029-06-01T00:00:00Z',
    });
    expect(body.statusCode).toBe(400);
    expect(body.json().error.details.field).toBe('body');
    const seg = await api('POST', '/v1/newsletters', {
      subject: 'Hi',
      body: 'x',
      sendAt: '2029-06-01T00:00:00Z',
      segmentId: '00000000-0000-4000-8000-000000000000',
    });
    expect(seg.statusCode).toBe(400);
    expect(seg.json().error.details.field).toBe('segmentId');
    const past = await api('POST', '/v1/newsletters', { subject: 'Hi', body: 'x', sendAt: '2020-01-01T00:00:00Z' });
    expect(past.statusCode).toBe(400);
    expect(past.json().error.details.field).toBe('sendAt');
    expect((await api('GET', '/v1/newsletters')).json().newsletters).toHaveLength(count);
  });

  it('replays a publish with the same Idempotency-Key instead of creating a second edition', async () => {
    const payload = { subject: 'Once', body: 'Only once.', sendAt: '2029-07-01T00:00:00Z' };
    const a = await api('POST', '/v1/newsletters', payload, { 'idempotency-key': 'nl-once' });
    const b = await api('POST', '/v1/newsletters', payload, { 'idempotency-key': 'nl-once' });
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(201);
    expect(b.json().id).toBe(a.json().id);
    expect(
      (await api('GET', '/v1/newsletters?status=scheduled'))
        .json()
        .newsletters.filter((n: { subject: string }) => n.subject === 'Once'),
    ).toHaveLength(1);
  });

  it('previews an edition for one customer with their name, preference link and unsubscribe link', async () => {
    const id = await publish('Summer for {{ customer.firstName }}', '2029-08-01T00:00:00Z');
    const res = await api('GET', `/v1/newsletters/${id}/preview?customerId=${customerId}`);
    expect(res.statusCode).toBe(200);
    expect(res.json().subject).toBe('Summer for Ann');
    expect(customerOfLink(linkIn(res.json().text, 'p'), 'preferences', t.clock.now())).toBe(customerId);
    expect(res.json().html).toContain(`${TEST_SETTINGS.publicUrl}/u/${unsubscribeToken(customerId)}`);
    expect(
      (await api('GET', `/v1/newsletters/${id}/preview?customerId=00000000-0000-4000-8000-000000000000`)).statusCode,
    ).toBe(404);
    expect((await api('GET', `/v1/newsletters/${id}/preview`)).json().subject).toBe('Summer for Ann'); // the sample customer is Ann too
  });

  it('cancels an edition before it is sent, so nothing goes out, and refuses to cancel it twice or a sent one', async () => {
    const id = await publish('Never sent', '2029-09-01T00:00:00Z');
    const res = await api('POST', `/v1/newsletters/${id}/cancel`);
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('cancelled');
    expect((await api('POST', `/v1/newsletters/${id}/cancel`)).statusCode).toBe(409);
    expect((await api('POST', `/v1/newsletters/${editions.lateApr}/cancel`)).statusCode).toBe(409);
    const before = mailToAnn().length;
    await advanceTo('2029-09-01T00:00:00Z');
    expect(await edition(id)).toMatchObject({ status: 'cancelled', counts: { recipients: 0 } });
    // July 2029 is capped (July 2028, February and April 2029 within a year); August goes; the cancelled one does not.
    expect(
      await edition(
        (await api('GET', '/v1/newsletters')).json().newsletters.find((n: { subject: string }) => n.subject === 'Once')
          .id,
      ),
    ).toMatchObject({ counts: { capped: 1 } });
    expect(
      mailToAnn()
        .slice(before)
        .map((m) => m.subject),
    ).toEqual(['Summer for Ann']);
  });

  it('refuses a non-admin key', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/newsletters', headers: t.auth(t.posKey) });
    expect(res.statusCode).toBe(403);
  });
});
