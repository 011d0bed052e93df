/**
 * Redis losing its data is noticed in seconds: the scheduler's marker key is gone, so every queued contact is queued
 * again at once instead of after RAPPORT_REQUEUE_AFTER_MS (5 minutes). The loss is simulated by deleting every key
 * under this test's own prefix (other test files share this Redis: FLUSHALL would break them).
 */
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';
import { deleteRedisPrefix, startTestWorker, type TestWorker } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';

const NOW = new Date('2026-11-02T10:00:00Z'); // a Monday, inside the send window
const SALES = 20;

let t: TestApp;
let smtp: TestSmtpServer;
let worker: TestWorker;

beforeAll(async () => {
  t = await createTestApp('redis_loss', NOW);
  // The mail server defers everything at first: every job waits in Redis for its retry when Redis loses it.
  smtp = await startSmtpServer({ respond: () => ({ code: 451, message: '4.3.0 try again later' }) });
  worker = await startTestWorker({
    database: t.database,
    clock: t.clock,
    smtpUrl: smtp.url,
    scheduleMaintenance: true,
  });
});
afterAll(async () => {
  await worker?.close();
  await smtp?.close();
  await t?.close();
});

it('delivers every due contact within 60 s after Redis lost its data mid-run', async () => {
  for (let i = 0; i < SALES; i++) {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/sales',
      headers: t.auth(t.posKey),
      payload: saleBody(
        { externalId: `LOSS-${i}`, soldAt: '2026-10-29T10:00:00Z' },
        { externalId: `C-LOSS-${i}`, email: `loss-${i}@example.com`, phone: undefined, timezone: 'UTC' },
      ),
    });
    expect(res.statusCode).toBe(201);
  }
  await waitFor(() => new Set(smtp.refusals.flatMap((r) => r.to)).size >= SALES, 'every email to be tried once');
  const queued = await t.database.db
    .selectFrom('touches')
    .select('id')
    .where('status', '=', 'queued')
    .where('channel', '=', 'email')
    .execute();
  expect(queued).toHaveLength(SALES);

  await deleteRedisPrefix(worker.prefix); // every job, the schedulers and the marker: what a FLUSHALL does to us
  smtp.respondWith(null);
  const lostAt = Date.now();
  await waitFor(
    async () => {
      const sent = await t.database.db
        .selectFrom('touches')
        .select('id')
        .where('status', '=', 'sent')
        .where('channel', '=', 'email')
        .execute();
      return sent.length === SALES;
    },
    'every due email to be delivered after the loss',
    60_000,
    200,
  );
  const seconds = (Date.now() - lostAt) / 1000;
  expect(seconds).toBeLessThan(60);
  const recipients = smtp.messages.map((m) => m.envelope.to[0]);
  expect(new Set(recipients).size).toBe(SALES);
  expect(recipients).toHaveLength(SALES); // none twice
}, 120_000);
