/**
 * The reconciler against the real Redis and Postgres: a touch left queued with no job is queued again, and so is one
 * whose last job is still kept in Redis as failed (the same job id would otherwise be ignored).
 */
import IORedis from 'ioredis';
import { Worker } from 'bullmq';
import { fixedClock } from '../../../src/clock';
import { claimDueTouches } from '../../../src/db/repositories/touch-lifecycle.repository';
import { touchJobId } from '../../../src/jobs/contract';
import { closeQueues, createQueues, pendingJobs, touchQueuePort, type Queues } from '../../../src/jobs/queues';
import {
  DEFAULT_DISPATCH_SETTINGS,
  dispatchDueTouches,
  requeueLostTouches,
} from '../../../src/services/dispatch.service';
import { recordSale } from '../../../src/services/sale.service';
import type { SaleInput } from '../../../src/services/sale-input';
import { saleBody, testContext } from '../../helpers/app';
import { createTestDatabase, uniqueName, type TestDatabase } from '../../helpers/database';
import { REDIS_URL, deleteRedisPrefix } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';

let database: TestDatabase;
let queues: Queues;
let redis: IORedis;
const prefix = uniqueName('rapport_test_reconcile');
const clock = fixedClock(new Date('2026-11-02T10:00:00Z'));
const settings = { ...DEFAULT_DISPATCH_SETTINGS, lostAfterMs: 60_000 };

beforeAll(async () => {
  database = await createTestDatabase('reconcile');
  redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  queues = createQueues(redis, prefix);
});
afterAll(async () => {
  await closeQueues(queues);
  redis.disconnect();
  await deleteRedisPrefix(prefix);
  await database.drop();
});

async function queuedTouch(externalId: string): Promise<string> {
  const ctx = testContext(database, clock);
  const sale = saleBody(
    { externalId, soldAt: '2026-10-30T10:00:00Z' },
    { externalId: `C-${externalId}`, email: `${externalId}@example.com`, phone: undefined, timezone: 'UTC' },
  );
  await recordSale(ctx, sale as unknown as SaleInput);
  const [claimed] = await claimDueTouches(database.db, clock.now(), clock.now(), 1);
  return claimed.id;
}

it('queues again a touch whose job was lost, and one stuck behind a failed job', async () => {
  const lost = await queuedTouch('LOST-1');
  const stuck = await queuedTouch('STUCK-1');
  // The stuck touch's job failed for good and is kept in Redis under the touch's job id.
  await queues.email.add('deliver', { touchId: stuck }, { jobId: touchJobId(stuck), attempts: 1 });
  const failing = new Worker(
    'email',
    async () => {
      throw new Error('boom');
    },
    { connection: redis, prefix },
  );
  await waitFor(async () => (await queues.email.getJobState(touchJobId(stuck))) === 'failed', 'the job to fail');
  await failing.close();

  clock.advance(2 * 60_000); // both have been queued longer than the reconciler allows
  const ctx = testContext(database, clock);
  expect(await requeueLostTouches(ctx, touchQueuePort(queues), settings)).toBe(2);
  for (const id of [lost, stuck]) {
    expect([id, await queues.email.getJobState(touchJobId(id))]).toEqual([id, 'waiting']);
  }
});

it('claims no more for a channel whose queue is full: the backlog waits in Postgres until the queue drains', async () => {
  const ctx = testContext(database, clock);
  await queues.email.obliterate({ force: true });
  // Twelve sales, each with its 2-day email due; the letters and calls of their plans are not due yet.
  for (let i = 0; i < 12; i++) {
    const sale = saleBody(
      { externalId: `FULL-${i}`, soldAt: new Date(clock.now().getTime() - 3 * 86_400_000).toISOString() },
      { externalId: `C-FULL-${i}`, email: `full-${i}@example.com`, phone: undefined, timezone: 'UTC' },
    );
    await recordSale(ctx, sale as unknown as SaleInput);
  }
  const small = { ...settings, batchSize: 2, maxQueuedPerChannel: 5 };
  const emailJobs = async () => (await pendingJobs(queues)).email;
  // Room for five: three batches of two (one batch past the limit at most), then nothing while the queue is full.
  expect(await dispatchDueTouches(ctx, touchQueuePort(queues), small)).toBe(6);
  expect(await emailJobs()).toBe(6);
  expect(await dispatchDueTouches(ctx, touchQueuePort(queues), small)).toBe(0);
  const scheduled = () =>
    database.db
      .selectFrom('touches')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('status', '=', 'scheduled')
      .where('channel', '=', 'email')
      .where('dueAt', '<=', clock.now())
      .executeTakeFirstOrThrow();
  expect(Number((await scheduled()).n)).toBe(6);

  // The worker drains the queue: the rest is claimed.
  await queues.email.drain(true);
  expect(await dispatchDueTouches(ctx, touchQueuePort(queues), small)).toBe(6);
  expect(Number((await scheduled()).n)).toBe(0);
});
