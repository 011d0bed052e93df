/**
 * runTouchJob against the real database: a touch cancelled while it is being delivered (an opt-out or an erasure
 * committing meanwhile) keeps its cancellation; a hand-off does not run; a message that did go out is still noted.
 */
import type { Job } from 'bullmq';
import { cancelOpenTouches, claimDueTouches } from '../../../src/db/repositories/touch-lifecycle.repository';
import { listEventsOfCustomer, listTouchesOfCustomer } from '../../../src/db/repositories/plan.repository';
import { MAX_HOLD_LEASES, runTouchJob } from '../../../src/jobs/touch-job';
import { createDeliveryBatches } from '../../../src/jobs/delivery-batches';
import type { ServiceContext } from '../../../src/services/context';
import { DEFAULT_DISPATCH_SETTINGS } from '../../../src/services/dispatch.service';
import type { TouchJob } from '../../../src/jobs/contract';
import { recordSale } from '../../../src/services/sale.service';
import type { SaleInput } from '../../../src/services/sale-input';
import { fixedClock } from '../../../src/clock';
import { saleBody, testContext } from '../../helpers/app';
import { createTestDatabase, type TestDatabase } from '../../helpers/database';
import { waitFor } from '../../helpers/wait';

const LEASE_MS = DEFAULT_DISPATCH_SETTINGS.leaseMs;
let database: TestDatabase;
const clock = fixedClock(new Date('2026-11-02T10:00:00Z'));

beforeAll(async () => {
  database = await createTestDatabase('touchjob');
});
afterAll(async () => {
  await database.drop();
});

const batchesOf = (ctx: ServiceContext) => createDeliveryBatches(ctx, { leaseMs: LEASE_MS });

function jobFor(touchId: string): Job<TouchJob> {
  return { data: { touchId }, attemptsMade: 0, opts: { attempts: 5 } } as unknown as Job<TouchJob>;
}

async function queuedTouchOf(externalId: string) {
  const ctx = testContext(database, clock);
  const sale = saleBody(
    { externalId, soldAt: '2026-10-30T10:00:00Z' },
    { externalId: `C-${externalId}`, email: `${externalId}@example.com`, phone: undefined, timezone: 'UTC' },
  );
  const { response } = await recordSale(ctx, sale as unknown as SaleInput);
  // Claims whatever else is due too (touches earlier tests put back to scheduled): only this sale's first one is used.
  const claimed = await claimDueTouches(database.db, clock.now(), clock.now(), 1000);
  expect(claimed.map((c) => c.id)).toContain(response.touches[0].id);
  return { ctx, touchId: response.touches[0].id as string, customerId: response.customer.id };
}

it('keeps a cancellation that committed during delivery and skips the hand-off', async () => {
  const { ctx, touchId, customerId } = await queuedTouchOf('RACE-HANDOFF');
  let handedOff = false;
  await runTouchJob(
    ctx,
    async () => {
      await cancelOpenTouches(database.db, { customerId }, clock.now(), 'email_opt_out', null);
      return { status: 'queued', channel: 'letter', afterRecord: async () => void (handedOff = true) };
    },
    batchesOf(ctx),
  )(jobFor(touchId));
  const touch = (await listTouchesOfCustomer(database.db, customerId)).find((t) => t.id === touchId)!;
  expect([touch.status, touch.statusReason, touch.channel]).toEqual(['cancelled', 'email_opt_out', 'email']);
  expect(handedOff).toBe(false);
});

it('notes a message that went out before the cancellation, without undoing it', async () => {
  const { ctx, touchId, customerId } = await queuedTouchOf('RACE-SENT');
  await runTouchJob(
    ctx,
    async () => {
      await cancelOpenTouches(database.db, { customerId }, clock.now(), 'do_not_contact', null);
      return { status: 'sent', messageId: '<x@test>' };
    },
    batchesOf(ctx),
  )(jobFor(touchId));
  const touch = (await listTouchesOfCustomer(database.db, customerId)).find((t) => t.id === touchId)!;
  expect(touch.status).toBe('cancelled');
  const events = (await listEventsOfCustomer(database.db, customerId))
    .filter((e) => e.touchId === touchId)
    .map((e) => e.status);
  expect(events).toEqual(['scheduled', 'queued', 'cancelled', 'sent']);
});

it('records the result when nothing interfered', async () => {
  const { ctx, touchId, customerId } = await queuedTouchOf('NO-RACE');
  let handedOff = false;
  await runTouchJob(
    ctx,
    async () => ({ status: 'queued', channel: 'letter', afterRecord: async () => void (handedOff = true) }),
    batchesOf(ctx),
  )(jobFor(touchId));
  const touch = (await listTouchesOfCustomer(database.db, customerId)).find((t) => t.id === touchId)!;
  expect([touch.status, touch.channel, handedOff]).toEqual(['queued', 'letter', true]);
});

it('records every result of jobs running at once, each its own, and leases a touch asked for twice only once', async () => {
  const ctx = testContext(database, clock);
  const customers: string[] = [];
  for (let i = 0; i < 24; i++) customers.push((await queuedTouchOf(`MANY-${i}`)).customerId);
  const touches = (await Promise.all(customers.map((c) => listTouchesOfCustomer(database.db, c)))).map((list) =>
    list.find((t) => t.status === 'queued')!,
  );
  const batches = batchesOf(ctx);
  const outcomes = ['sent', 'skipped', 'failed', 'scheduled'] as const;
  const delivered: string[] = [];
  const job = runTouchJob(
    ctx,
    async (touch) => {
      delivered.push(touch.id);
      const i = touches.findIndex((t) => t.id === touch.id);
      const status = outcomes[i % outcomes.length];
      return status === 'sent'
        ? { status, messageId: `<${i}@test>`, content: { n: i } }
        : { status, reason: `reason ${i}` };
    },
    batches,
  );
  // Every job twice at once, as two workers given the same touch would run it.
  await Promise.all([...touches, ...touches].map((t) => job(jobFor(t.id))));

  expect(delivered.sort()).toEqual(touches.map((t) => t.id).sort());
  for (const [i, before] of touches.entries()) {
    const after = (await listTouchesOfCustomer(database.db, customers[i])).find((t) => t.id === before.id)!;
    const status = outcomes[i % outcomes.length];
    expect([after.status, after.attempts]).toEqual([status, 1]);
    const { content } = await database.db
      .selectFrom('touches')
      .select('content')
      .where('id', '=', before.id)
      .executeTakeFirstOrThrow();
    if (status === 'sent') expect([after.messageId, content]).toEqual([`<${i}@test>`, { n: i }]);
    else expect(after.statusReason).toBe(`reason ${i}`);
    const events = (await listEventsOfCustomer(database.db, customers[i]))
      .filter((e) => e.touchId === before.id)
      .map((e) => e.status);
    expect(events).toEqual(['scheduled', 'queued', status]);
  }
});

it('records the other results of a batch when one of them cannot be recorded', async () => {
  const ctx = testContext(database, clock);
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push((await queuedTouchOf(`ONE-BAD-${i}`)).touchId);
  const bad = ids[3]!;
  const job = runTouchJob(
    ctx,
    async (touch) =>
      // A channel the touches table refuses: that statement fails, and must not take the others' results with it.
      touch.id === bad
        ? { status: 'queued', channel: 'fax' as never }
        : { status: 'sent', messageId: `<${touch.id}@test>` },
    batchesOf(ctx),
  );
  const settled = await Promise.allSettled(ids.map((id) => job(jobFor(id))));
  expect(settled.map((r) => r.status)).toEqual([
    'fulfilled',
    'fulfilled',
    'fulfilled',
    'rejected',
    'fulfilled',
    'fulfilled',
  ]);
  const rows = await database.db.selectFrom('touches').select(['id', 'status']).where('id', 'in', ids).execute();
  for (const id of ids)
    expect([id, rows.find((r) => r.id === id)!.status]).toEqual([id, id === bad ? 'queued' : 'sent']);
}, 20_000);

it('stops renewing the lease of a delivery that never returns, so another worker can take the touch', async () => {
  const { touchId } = await queuedTouchOf('HANGS');
  // A clock that moves: the lease is renewed from it.
  const ctx = testContext(database, { now: () => new Date() });
  const leaseMs = 300;
  let release!: () => void;
  const never = new Promise<void>((resolve) => (release = resolve));
  const running = runTouchJob(
    ctx,
    async () => {
      await never;
      return { status: 'sent', messageId: '<hangs@test>' };
    },
    createDeliveryBatches(ctx, { leaseMs }),
  )(jobFor(touchId));
  const leaseOf = async () =>
    (await database.db.selectFrom('touches').select('leaseUntil').where('id', '=', touchId).executeTakeFirstOrThrow())
      .leaseUntil;
  // Renewed while the delivery runs...
  await waitFor(async () => (await leaseOf())!.getTime() > Date.now() + leaseMs / 2, 'a renewed lease');
  // ...until MAX_HOLD_LEASES lengths have passed; then it runs out, and stays out.
  await waitFor(
    async () => (await leaseOf())!.getTime() < Date.now() - leaseMs,
    'the lease left to run out',
    MAX_HOLD_LEASES * leaseMs * 4,
  );
  release();
  await running;
});
