/**
 * One eligibility rule for every channel, at delivery: a paused, opted-out, do-not-contact or erased customer is
 * never contacted by email, letter or call, even when their contact was queued before the change (a letter for a
 * paused customer included). And a written step planned before any address was known goes out once one arrives.
 */
import { enqueueTouches } from '../../../src/jobs/queues';
import { saleBody, type TestApp } from '../../helpers/app';
import { type TestSmtpServer } from '../../helpers/smtp';
import { closeTestStack, startTestStack } from '../../helpers/stack';
import { type TestWorker } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';

// Monday 10:00 UTC, inside the default send window; sales a week earlier have their first letter or email and their
// 7-day call due now.
const NOW = new Date('2026-11-02T10:00:00Z');
const SOLD_AT = '2026-10-26T10:00:00Z';

let t: TestApp;
let smtp: TestSmtpServer;
let worker: TestWorker;

beforeAll(async () => {
  ({ t, smtp, worker } = await startTestStack('eligibility', NOW));
});
afterAll(async () => {
  await closeTestStack({ t, smtp, worker });
});

interface Answer {
  customer: { id: string };
  touches: { id: string; step: number; channel: string; status: string; dueAt: string }[];
  warnings?: string[];
}

let n = 0;
async function sell(customer: Record<string, unknown>, externalId = `EL-${++n}`): Promise<Answer> {
  const body = saleBody({ externalId, soldAt: SOLD_AT }, { timezone: 'UTC', ...customer });
  for (const [k, v] of Object.entries(body.customer as Record<string, unknown>))
    if (v === undefined) delete (body.customer as Record<string, unknown>)[k];
  const res = await t.app.inject({ method: 'POST', url: '/v1/sales', headers: t.auth(t.posKey), payload: body });
  expect(res.statusCode).toBeLessThan(300);
  return res.json() as Answer;
}

function touchRow(id: string) {
  return t.database.db
    .selectFrom('touches')
    .select(['status', 'statusReason', 'channel', 'letterBatchId'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

const STATES = {
  paused: { paused: true },
  email_opted_out: { emailOptOut: true },
  do_not_contact: { doNotContact: true },
  erased: { erasedAt: NOW },
} as const;

describe.each(['email', 'letter', 'call'] as const)('a queued %s', (channel) => {
  it.each(Object.keys(STATES) as (keyof typeof STATES)[])('never reaches a customer who is %s', async (state) => {
    const tag = `${channel}-${state}`;
    const address = `${tag}@example.com`;
    const sold = await sell({
      externalId: `C-${tag}`,
      email: address,
      phone: '+61 2 5550 7000',
      // A letter customer has only a postal address, so an email opt-out cannot reroute them anywhere.
      preferredChannel: channel === 'letter' ? 'letter' : 'email',
      ...(channel === 'email' ? { address: undefined } : {}),
    });
    const touch = sold.touches.find((x) => (channel === 'call' ? x.step === 2 : x.step === 1))!;
    expect(touch.channel).toBe(channel);
    // The scheduler claimed it; then the customer's state changed before a worker took the job.
    await t.database.db
      .updateTable('touches')
      .set({ status: 'queued', queuedAt: NOW })
      .where('id', '=', touch.id)
      .execute();
    await t.database.db.updateTable('customers').set(STATES[state]).where('id', '=', sold.customer.id).execute();
    await enqueueTouches(worker.queues, [{ id: touch.id, channel, dueAt: NOW }], NOW);
    const row = await waitFor(async () => {
      const r = await touchRow(touch.id);
      return r.status !== 'queued' || r.statusReason ? r : null;
    }, `the ${channel} decided`);

    const expected = {
      paused: ['scheduled', 'customer_paused'],
      do_not_contact: ['cancelled', 'do_not_contact'],
      erased: ['cancelled', 'erased'],
      // Email opt-out stops emails only: a letter or a call still goes to a customer who opted out of email.
      email_opted_out: channel === 'email' ? ['skipped', 'no_address'] : null,
    }[state];
    if (expected) expect([row.status, row.statusReason]).toEqual(expected);
    const mails = smtp.messages.filter((m) => m.envelope.to.includes(address));
    const tasks = await t.database.db
      .selectFrom('tasks')
      .select('id')
      .where('customerId', '=', sold.customer.id)
      .execute();
    if (expected) {
      expect(mails).toHaveLength(0);
      expect(tasks).toHaveLength(0);
      expect(row.letterBatchId).toBeNull();
    } else {
      // The control: the same contact does go out to a customer whose state allows it.
      expect(channel === 'letter' ? row.letterBatchId !== null || row.status === 'queued' : tasks.length).toBeTruthy();
    }
  });
});

describe('a queued newsletter', () => {
  const NEWSLETTER_STATES = {
    ...STATES,
    newsletter_opted_out: { newsletterOptOut: true },
    allowed: { paused: false },
  } as const;
  it.each(Object.keys(NEWSLETTER_STATES) as (keyof typeof NEWSLETTER_STATES)[])(
    'reaches a customer only when allowed: %s',
    async (state) => {
      const address = `newsletter-${state}@example.com`;
      const sold = await sell({ externalId: `C-newsletter-${state}`, email: address, address: undefined });
      const edition = await t.database.db
        .insertInto('newsletters')
        .values({ subject: 'Autumn news', body: 'Hello {{ customer.firstName }}', sendAt: NOW, status: 'sending' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const touch = await t.database.db
        .insertInto('touches')
        .values({
          customerId: sold.customer.id,
          step: 0,
          channel: 'newsletter',
          newsletterId: edition.id,
          dueAt: NOW,
          status: 'queued',
          queuedAt: NOW,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      // Fanned out to them; then their state changed before a worker took the job.
      await t.database.db
        .updateTable('customers')
        .set(NEWSLETTER_STATES[state])
        .where('id', '=', sold.customer.id)
        .execute();
      await enqueueTouches(worker.queues, [{ id: touch.id, channel: 'newsletter', dueAt: NOW }], NOW);
      const row = await waitFor(async () => {
        const r = await touchRow(touch.id);
        return r.status !== 'queued' ? r : null;
      }, 'the newsletter decided');
      const expected = {
        // A newsletter held until a complaint is settled would arrive stale: it is skipped instead.
        paused: ['skipped', 'customer_paused'],
        email_opted_out: ['cancelled', 'email_opt_out'],
        newsletter_opted_out: ['cancelled', 'newsletter_opt_out'],
        do_not_contact: ['cancelled', 'do_not_contact'],
        erased: ['cancelled', 'erased'],
        allowed: null,
      }[state];
      const mails = smtp.messages.filter((m) => m.envelope.to.includes(address));
      if (expected) {
        expect([row.status, row.statusReason]).toEqual(expected);
        expect(mails).toHaveLength(0);
      } else {
        // The control: the same newsletter does reach a customer whose state allows it.
        expect(row.status).toBe('sent');
        expect(mails.filter((m) => m.subject === 'Autumn news')).toHaveLength(1);
      }
    },
  );
});

describe('written steps planned before any address was known', () => {
  it('go out by letter once a later sale brings the address, and are skipped no_address if none came', async () => {
    const nowhere = { email: undefined, address: undefined, preferredChannel: undefined, phone: '+61 2 5550 7100' };
    const first = await sell({ externalId: 'C-ADDR', ...nowhere });
    expect(first.warnings).toEqual([expect.stringContaining('no usable email or postal address')]);
    const step1 = first.touches.find((x) => x.step === 1)!;
    expect(step1.status).toBe('scheduled');
    const flagged = await t.database.db
      .selectFrom('customers')
      .select('needsCleanup')
      .where('id', '=', first.customer.id)
      .executeTakeFirstOrThrow();
    expect(flagged.needsCleanup).toBe(true);

    // A second customer never gives an address: their step is skipped at its due time, not before.
    const never = await sell({ externalId: 'C-NEVER', ...nowhere, phone: '+61 2 5550 7101', firstName: 'Neve' });
    const neverStep = never.touches.find((x) => x.step === 1)!;

    // The till learns Ann's address with her next purchase (a repeat sale: no new plan).
    const repeat = await sell({
      externalId: 'C-ADDR',
      ...nowhere,
      address: { lines: ['9 Late St'], city: 'Sydney', country: 'AU' },
    });
    expect(repeat.warnings).toBeUndefined();
    expect(repeat.touches.find((x) => x.step === 1)!.id).toBe(step1.id);

    await worker.runMaintenance('dispatch');
    const sent = await waitFor(async () => {
      const r = await touchRow(step1.id);
      return r.letterBatchId ? r : null;
    }, 'the letter filed into a print batch');
    expect(sent.channel).toBe('letter');
    const skipped = await waitFor(async () => {
      const r = await touchRow(neverStep.id);
      return r.status === 'skipped' ? r : null;
    }, 'the unreachable step skipped');
    expect(skipped.statusReason).toBe('no_address');
  });
});
