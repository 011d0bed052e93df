/**
 * Email touches end to end: a backdated sale through POST /v1/sales, the real worker runtime dispatching it, and the
 * in-process SMTP server receiving it. Also a 4xx that is retried, and a 5xx that fails, marks the address bounced
 * and makes the customer's next mail step a letter.
 */
import { enqueueTouches } from '../../../src/jobs/queues';
import { customerOfLink, linkIn, linksOf } from '../../helpers/links';
import { saleBody, type TestApp } from '../../helpers/app';
import { type ReceivedMessage, type TestSmtpServer } from '../../helpers/smtp';
import { type TestWorker } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';
import { closeTestStack, startTestStack } from '../../helpers/stack';

// Monday 10:00 UTC: inside the default send window for a customer in UTC.
const NOW = new Date('2026-11-02T10:00:00Z');

let t: TestApp;
let smtp: TestSmtpServer;
let worker: TestWorker;

beforeAll(async () => {
  ({ t, smtp, worker } = await startTestStack('cadenceemail', NOW));
});
afterAll(async () => {
  await closeTestStack({ t, smtp, worker });
});

interface SoldCustomer {
  customerId: string;
  touches: { id: string; step: number; channel: string; dueAt: string; status: string }[];
}

/** sell posts a sale made a few days ago, so its first email step is due now. */
async function sell(tag: string, customer: Record<string, unknown> = {}): Promise<SoldCustomer> {
  const body = saleBody(
    { externalId: `INV-${tag}`, soldAt: '2026-10-29T10:00:00Z' },
    { externalId: `C-${tag}`, email: `${tag}@example.com`, phone: null, timezone: 'UTC', ...customer },
  );
  delete (body.customer as Record<string, unknown>).phone;
  const res = await t.app.inject({ method: 'POST', url: '/v1/sales', headers: t.auth(t.posKey), payload: body });
  expect(res.statusCode).toBe(201);
  const json = res.json();
  return { customerId: json.customer.id, touches: json.touches };
}

async function touchRow(id: string) {
  return t.database.db.selectFrom('touches').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function events(id: string) {
  return t.database.db
    .selectFrom('touchEvents')
    .select(['status', 'reason', 'actor', 'at'])
    .where('touchId', '=', id)
    .orderBy('id')
    .execute();
}

function to(address: string): ReceivedMessage[] {
  return smtp.messages.filter((m) => m.envelope.to.includes(address));
}

function unfoldedHeaders(m: ReceivedMessage): string {
  return m.rawHeaders.replace(/\r?\n[ \t]+/g, ' ');
}

it('delivers the due email with its headers, personalisation and signature, and records it', async () => {
  const sold = await sell('ann');
  const first = sold.touches.find((x) => x.step === 1)!;
  expect(first.channel).toBe('email');
  expect(new Date(first.dueAt).getTime()).toBeLessThanOrEqual(NOW.getTime());
  // Sam was created by the sale: replies reach him once an admin confirms him (see the pending test below).
  const sam = await t.database.db
    .selectFrom('staff')
    .select('id')
    .where('email', '=', 'sam@shop.example')
    .executeTakeFirstOrThrow();
  const confirmed = await t.app.inject({
    method: 'POST',
    url: `/v1/staff/${sam.id}/confirm`,
    headers: t.auth(t.adminKey),
    payload: {},
  });
  expect(confirmed.statusCode).toBe(200);

  await worker.runMaintenance('dispatch');
  const row = await waitFor(async () => {
    const r = await touchRow(first.id);
    return r.status === 'sent' ? r : null;
  }, 'the touch recorded sent');
  const [msg] = to('ann@example.com');
  expect(to('ann@example.com')).toHaveLength(1);

  // Headers: a stored, stable Message-ID; From the business; Reply-To the salesperson; one-click unsubscribe.
  expect(row.messageId).toBe(`<${first.id}@rapport.test>`);
  expect(msg.messageId).toBe(row.messageId);
  expect(msg.from?.value[0]).toMatchObject({ address: 'hello@shop.test', name: 'Test Shop' });
  expect(msg.replyTo?.value[0].address).toBe('sam@shop.example');
  const links = linksOf(sold.customerId, t.clock.now());
  const headers = unfoldedHeaders(msg);
  expect(headers).toMatch(
    new RegExp(`^List-Unsubscribe: <${links.unsubscribe.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>\\s*$`, 'mi'),
  );
  expect(headers).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\s*$/im);

  // Personal and signed: the customer's first name, what they bought, the salesperson's name, the preference link.
  expect(msg.subject).toBe('Thank you, Ann');
  expect(msg.text).toContain('Dear Ann,');
  expect(msg.text).toContain('3-seat sofa');
  expect(msg.text).toMatch(/Kind regards,\nSam Shaw\n/);
  expect(customerOfLink(linkIn(msg.text ?? '', 'p'), 'preferences', t.clock.now())).toBe(sold.customerId);
  expect(msg.html).toContain('Sam Shaw');
  expect(msg.html).toContain('3-seat sofa');

  // What was sent is kept on the touch, with the server's answer, and every status change has its time.
  const content = row.content as { subject: string; text: string; sender: { name: string }; smtpResponse: string };
  expect(content.subject).toBe('Thank you, Ann');
  expect(content.text).toBe(msg.text);
  expect(content.sender.name).toBe('Sam Shaw');
  expect(content.smtpResponse).toMatch(/^250 /);
  expect(row.attempts).toBe(1);
  expect(row.leaseUntil).toBeNull();
  expect(row.completedAt).toEqual(NOW);
  const history = await events(first.id);
  expect(history.map((e) => [e.status, e.actor])).toEqual([
    ['scheduled', null],
    ['queued', 'scheduler'],
    ['sent', 'worker'],
  ]);
  expect(history.map((e) => e.at)).toEqual([NOW, NOW, NOW]);
  expect(history[2].reason).toMatch(/^250 /);

  // Running the scheduler again sends nothing more.
  await worker.runMaintenance('dispatch');
  expect(to('ann@example.com')).toHaveLength(1);
});

it('retries after a 4xx and delivers exactly once', async () => {
  smtp.respondWith((e) =>
    e.stage === 'data' && e.to.includes('busy@example.com') && e.attempt === 1
      ? { code: 451, message: '4.3.0 try again later' }
      : null,
  );
  try {
    const sold = await sell('busy');
    const first = sold.touches.find((x) => x.step === 1)!;
    await worker.runMaintenance('dispatch');
    const row = await waitFor(
      async () => {
        const r = await touchRow(first.id);
        return r.status === 'sent' ? r : null;
      },
      'the retried touch recorded sent',
      15_000,
    );
    expect(smtp.refusals.filter((r) => r.to.includes('busy@example.com')).map((r) => r.code)).toEqual([451]);
    expect(to('busy@example.com')).toHaveLength(1);
    expect(to('busy@example.com')[0].messageId).toBe(row.messageId);
    expect(row.attempts).toBe(2);
    const history = await events(first.id);
    const retry = history.find((e) => e.status === 'retry');
    expect(retry?.reason).toMatch(/451/);
    expect(history.map((e) => e.status).slice(-3)).toEqual(['queued', 'retry', 'sent']);
  } finally {
    smtp.respondWith(null);
  }
});

it('fails on a 5xx with the reason, marks the address bounced, and sends the next mail step as a letter', async () => {
  smtp.respondWith((e) =>
    e.stage === 'rcpt' && e.to === 'gone@example.com' ? { code: 550, message: '5.1.1 mailbox unavailable' } : null,
  );
  try {
    const sold = await sell('gone');
    const first = sold.touches.find((x) => x.step === 1)!;
    await worker.runMaintenance('dispatch');
    const row = await waitFor(async () => {
      const r = await touchRow(first.id);
      return r.status === 'failed' ? r : null;
    }, 'the refused touch recorded failed');
    expect(row.statusReason).toMatch(/550.*mailbox unavailable/);
    expect(row.attempts).toBe(1); // a permanent refusal is not retried
    expect(to('gone@example.com')).toHaveLength(0);
    const customer = await t.database.db
      .selectFrom('customers')
      .select(['emailStatus'])
      .where('id', '=', sold.customerId)
      .executeTakeFirstOrThrow();
    expect(customer.emailStatus).toBe('bounced');
    expect((await events(first.id)).at(-1)).toMatchObject({ status: 'failed', reason: row.statusReason });

    // The next letter-or-email step was planned as an email; when it falls due it goes out as a letter instead.
    const next = sold.touches.find((x) => x.step === 3)!;
    expect(next.channel).toBe('email');
    t.clock.set(new Date(next.dueAt));
    await worker.runMaintenance('dispatch');
    const handed = await waitFor(async () => {
      const r = await touchRow(next.id);
      // The letter worker has taken its own lease once the email worker recorded the hand-over.
      return r.channel === 'letter' && r.attempts >= 2 ? r : null;
    }, 'the next step handed to the letter worker');
    expect(handed.messageId).toBeNull();
    const nextEvents = await events(next.id);
    expect(nextEvents.find((e) => e.reason === 'sent as a letter: email address bounced')).toMatchObject({
      status: 'queued',
      actor: 'worker',
    });
    expect(to('gone@example.com')).toHaveLength(0);
    expect(smtp.refusals.filter((r) => r.to.includes('gone@example.com'))).toHaveLength(1);
  } finally {
    smtp.respondWith(null);
    t.clock.set(NOW);
  }
});

it('sends nothing to an opted-out customer without a postal address, and flags them for clean-up', async () => {
  const sold = await sell('optout', { address: undefined, preferredChannel: undefined });
  const first = sold.touches.find((x) => x.step === 1)!;
  expect(first.channel).toBe('email');
  await t.database.db.updateTable('customers').set({ emailOptOut: true }).where('id', '=', sold.customerId).execute();
  await worker.runMaintenance('dispatch');
  const row = await waitFor(async () => {
    const r = await touchRow(first.id);
    return r.status === 'skipped' ? r : null;
  }, 'the touch skipped');
  expect(row.statusReason).toBe('no_address');
  expect(to('optout@example.com')).toHaveLength(0);
  const customer = await t.database.db
    .selectFrom('customers')
    .select(['needsCleanup'])
    .where('id', '=', sold.customerId)
    .executeTakeFirstOrThrow();
  expect(customer.needsCleanup).toBe(true);
});

it('cancels the touch of a do-not-contact customer', async () => {
  const sold = await sell('stopped');
  const first = sold.touches.find((x) => x.step === 1)!;
  await t.database.db.updateTable('customers').set({ doNotContact: true }).where('id', '=', sold.customerId).execute();
  await worker.runMaintenance('dispatch');
  const row = await waitFor(async () => {
    const r = await touchRow(first.id);
    return r.status === 'cancelled' ? r : null;
  }, 'the touch cancelled');
  expect(row.statusReason).toBe('do_not_contact');
  expect(to('stopped@example.com')).toHaveLength(0);
});

it('puts the touch of a customer paused after the claim back on the schedule, and sends it once resumed', async () => {
  const sold = await sell('paused');
  const first = sold.touches.find((x) => x.step === 1)!;
  // The scheduler claimed it, then a complaint paused the plan before the worker took the job.
  await t.database.db
    .updateTable('touches')
    .set({ status: 'queued', queuedAt: NOW })
    .where('id', '=', first.id)
    .execute();
  await t.database.db.updateTable('customers').set({ paused: true }).where('id', '=', sold.customerId).execute();
  await enqueueTouches(worker.queues, [{ id: first.id, channel: 'email', dueAt: new Date(first.dueAt) }], NOW);
  const row = await waitFor(async () => {
    const r = await touchRow(first.id);
    return r.status === 'scheduled' && r.statusReason ? r : null;
  }, 'the touch back on the schedule');
  expect([row.statusReason, row.queuedAt, row.leaseUntil, row.completedAt]).toEqual([
    'customer_paused',
    null,
    null,
    null,
  ]);
  expect(to('paused@example.com')).toHaveLength(0);

  // While paused, the scheduler leaves it alone; once resumed, it goes out.
  await worker.runMaintenance('dispatch');
  expect((await touchRow(first.id)).status).toBe('scheduled');
  await t.database.db.updateTable('customers').set({ paused: false }).where('id', '=', sold.customerId).execute();
  await worker.runMaintenance('dispatch');
  await waitFor(async () => (await touchRow(first.id)).status === 'sent', 'the resumed touch sent');
  expect(to('paused@example.com')).toHaveLength(1);
});

it('gives no Reply-To while the salesperson a sale created is pending: replies go to the business', async () => {
  const body = saleBody(
    {
      externalId: 'INV-pendingrep-2',
      soldAt: '2026-10-29T10:00:00Z',
      salesperson: { email: 'new.rep@shop.example', name: 'Neo Rep' },
    },
    { externalId: 'C-pendingrep-2', email: 'pendingrep2@example.com', timezone: 'UTC' },
  );
  delete (body.customer as Record<string, unknown>).phone;
  const res = await t.app.inject({ method: 'POST', url: '/v1/sales', headers: t.auth(t.posKey), payload: body });
  expect(res.statusCode).toBe(201);
  const first = (res.json().touches as SoldCustomer['touches']).find((x) => x.step === 1)!;
  const rep = await t.database.db
    .selectFrom('staff')
    .select('pending')
    .where('email', '=', 'new.rep@shop.example')
    .executeTakeFirstOrThrow();
  expect(rep.pending).toBe(true);
  await worker.runMaintenance('dispatch');
  await waitFor(async () => (await touchRow(first.id)).status === 'sent', 'the touch recorded sent');
  const [msg] = to('pendingrep2@example.com');
  expect(msg.from?.value[0]).toMatchObject({ address: 'hello@shop.test', name: 'Test Shop' });
  expect(msg.replyTo).toBeUndefined();
  // Signed by the person who sold all the same.
  expect(msg.text).toMatch(/Kind regards,\nNeo Rep\n/);
});
