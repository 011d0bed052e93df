/**
 * The later years' personal letter goes by post even to a customer with an email address: the letter worker keeps
 * the channel the later-years plan chose, instead of handing it to the email queue.
 */
import { advanceLaterYears } from '../../../src/services/later-years.service';
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';
import { startTestWorker, type TestWorker } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';

let t: TestApp;
let worker: TestWorker;

beforeAll(async () => {
  t = await createTestApp('lateryearletter', new Date('2027-11-03T10:00:00Z'));
  worker = await startTestWorker({
    database: t.database,
    clock: t.clock,
    smtpUrl: null,
    outboxDir: '/tmp/rapport-test-outbox',
  });
});
afterAll(async () => {
  await worker.close();
  await t.close();
});

it('posts the anniversary letter to a customer who has an email address too', async () => {
  const segment = await t.app.inject({
    method: 'POST',
    url: '/v1/segments',
    headers: t.auth(t.adminKey),
    payload: {
      name: 'letters later',
      priority: 1,
      match: { categories: ['pianos'] },
      laterYears: { humanContact: 'letter' },
    },
  });
  expect(segment.statusCode).toBe(201);
  const sale = saleBody(
    {
      externalId: 'PIANO-1',
      soldAt: '2026-11-01T10:00:00Z',
      items: [{ name: 'Upright piano', category: 'pianos', quantity: 1, unitPrice: '5000.00' }],
      total: { amount: '5000.00', currency: 'AUD' },
    },
    {
      externalId: 'C-PIANO',
      email: 'piano@example.com',
      preferredChannel: undefined,
      timezone: 'UTC',
      phone: undefined,
    },
  );
  const posted = await t.app.inject({ method: 'POST', url: '/v1/sales', headers: t.auth(t.posKey), payload: sale });
  const customerId = posted.json().customer.id;

  await advanceLaterYears(worker.ctx); // a year and two days on: the first year is over
  const run = await t.database.db
    .selectFrom('planRuns')
    .select('id')
    .where('customerId', '=', customerId)
    .where('kind', '=', 'later_year')
    .executeTakeFirstOrThrow();
  const touch = await t.database.db
    .selectFrom('touches')
    .select(['id', 'channel', 'dueAt'])
    .where('planRunId', '=', run.id)
    .executeTakeFirstOrThrow();
  expect(touch.channel).toBe('letter');

  t.clock.set(touch.dueAt);
  await worker.runMaintenance('dispatch');
  const filed = await waitFor(
    () =>
      t.database.db
        .selectFrom('touches')
        .select(['channel', 'letterBatchId'])
        .where('id', '=', touch.id)
        .where('letterBatchId', 'is not', null)
        .executeTakeFirst(),
    'the letter to be filed into a print batch',
  );
  expect(filed.channel).toBe('letter');
});
